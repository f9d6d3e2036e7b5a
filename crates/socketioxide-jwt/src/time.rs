//! The clock JWT claims are measured against, and the one place where time meets signed input.
//!
//! A token's `exp`, `nbf` and `iat` are whatever the issuer was asked to sign: any `u64` (or a
//! float jsonwebtoken rounds to one). Every deadline derived from them goes through
//! [`deadline_after`] and [`until_unix`], which saturate instead of overflowing, so no claim can
//! panic the server or wrap a deadline into the past.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The furthest a deadline is set: 30 years, tokio's own "far future". A token that lives longer
/// is, for the timer, one that lives this long (it is still refused at its `exp` on every
/// reconnect and refresh, where the claim is compared directly).
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// Wall-clock time since the Unix epoch, to the sub-second: what `exp`, `nbf` and `iat` count.
///
/// Sub-second so that a socket's expiry fires at `exp` exactly, not up to a second later.
/// jsonwebtoken's `get_current_timestamp` gives whole seconds and panics on a clock set before
/// 1970; this saturates to zero instead.
pub(crate) fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Whole seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    wall_clock().as_secs()
}

/// How long from `now_unix` until `at_secs` (seconds since the epoch, from a claim), plus
/// `extra`; zero once passed. Saturating: any `u64` is safe.
pub(crate) fn until_unix(at_secs: u64, extra: Duration, now_unix: Duration) -> Duration {
    Duration::from_secs(at_secs)
        .saturating_add(extra)
        .saturating_sub(now_unix)
}

/// `now + wait`, with `wait` capped at [`FAR_FUTURE`]: never overflows [`Instant`].
pub(crate) fn deadline_after(now: Instant, wait: Duration) -> Instant {
    // 30 years past any `Instant` a running process sees fits every platform's clock; should it
    // not, the deadline is now (fail closed: the socket is re-checked at once).
    now.checked_add(wait.min(FAR_FUTURE)).unwrap_or(now)
}

/// `d` in whole seconds, rounded up (what jsonwebtoken, which counts whole seconds, is given).
pub(crate) fn whole_secs_up(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_is_recent() {
        assert!(super::unix_now() > 1_700_000_000);
        assert!(super::unix_now().abs_diff(jsonwebtoken::get_current_timestamp()) <= 1);
    }

    #[test]
    fn extremes_saturate() {
        let now_unix = Duration::from_secs(1_800_000_000);
        assert_eq!(until_unix(0, Duration::ZERO, now_unix), Duration::ZERO);
        assert_eq!(
            until_unix(1_800_000_010, Duration::from_millis(500), now_unix),
            Duration::from_millis(10_500)
        );
        let max = until_unix(u64::MAX, Duration::MAX, now_unix);
        assert_eq!(max, Duration::MAX - now_unix);
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::MAX), now + FAR_FUTURE);
        assert_eq!(
            deadline_after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
    }
}
