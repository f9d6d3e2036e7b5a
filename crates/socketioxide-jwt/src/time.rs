//! The clock JWT claims are measured against.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

#[cfg(test)]
mod tests {
    #[test]
    fn wall_clock_is_recent() {
        assert!(super::unix_now() > 1_700_000_000);
        assert!(super::unix_now().abs_diff(jsonwebtoken::get_current_timestamp()) <= 1);
    }
}
