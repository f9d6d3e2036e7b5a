//! The client rules: when a client refreshes, how long it waits after `server_busy`, how often
//! it may refresh, and the helpers' defaults. The Rust client calls these functions; the
//! TypeScript helper gets the constants generated ([`crate::typescript`]) and implements the two
//! formulas, both checked against `protocol/scenarios.json`.

use std::time::Duration;

use crate::payloads::AuthenticatedPayload;

/// The shortest delay before a scheduled refresh.
pub const MIN_REFRESH_DELAY: Duration = Duration::from_millis(500);

/// At most this many refreshes in a rolling minute, below the server's own limit (10
/// `authenticate` a minute by default): whatever the clocks say, a client never refreshes itself
/// into a `forbidden`.
pub const MAX_REFRESHES_PER_MINUTE: usize = 8;

/// The first delay after `server_busy` (with full jitter, from half of it).
pub const BUSY_BACKOFF_MIN: Duration = Duration::from_secs(1);

/// The longest delay after `server_busy`.
pub const BUSY_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The helpers' default: refresh this long before `exp` (never later than half the time left).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The helpers' default: new tokens tried in a row after `token_expired` / `revoked`.
pub const DEFAULT_MAX_RECOVERIES: u32 = 3;

/// The helpers' default: how long a client waits for the server's answer to `authenticate`.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// When to refresh after `authenticated`: `margin` before expiry, never later than half the time
/// left, never sooner than [`MIN_REFRESH_DELAY`]. The time left is the server's
/// (`expires_in_ms`), so a wrong local clock (`now_unix`) cannot make a client refresh in a
/// loop; `exp` against `now_unix` only for servers that do not send it. `None` without either.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt_protocol::{rules::refresh_delay, AuthenticatedPayload};
/// let info = AuthenticatedPayload::new(None, Some(1)).expires_in_ms(600_000);
/// // Whatever the local clock says: 10 minutes left, refresh one minute before.
/// assert_eq!(refresh_delay(&info, Duration::from_secs(60), 0), Some(Duration::from_secs(540)));
/// ```
pub fn refresh_delay(
    info: &AuthenticatedPayload,
    margin: Duration,
    now_unix: u64,
) -> Option<Duration> {
    let remaining = match (info.expires_in_ms, info.exp) {
        (Some(ms), _) => Duration::from_millis(ms),
        (None, Some(exp)) => Duration::from_secs(exp.saturating_sub(now_unix)),
        (None, None) => return None,
    };
    Some(
        remaining
            .saturating_sub(margin)
            .max(remaining / 2)
            .max(MIN_REFRESH_DELAY),
    )
}

/// The delay before try `attempt` (0, 1, ...) after `server_busy`: exponential with full jitter
/// (`jitter` in `[0, 1]`), between half the first delay and the ceiling.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt_protocol::rules::busy_backoff;
/// assert_eq!(busy_backoff(0, 0.0), Duration::from_millis(500));
/// assert_eq!(busy_backoff(40, 1.0), Duration::from_secs(30));
/// ```
pub fn busy_backoff(attempt: u32, jitter: f64) -> Duration {
    let ceiling = BUSY_BACKOFF_MIN
        .saturating_mul(1u32 << attempt.min(10))
        .min(BUSY_BACKOFF_MAX);
    let floor = BUSY_BACKOFF_MIN / 2;
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    floor + (ceiling - floor).mul_f64(jitter)
}
