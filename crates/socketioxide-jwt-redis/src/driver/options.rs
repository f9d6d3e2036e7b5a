//! [`RedisDriverOptions`] (timeouts, probes, heartbeat) and [`RedisDriverError`].

use std::time::Duration;

use ::redis::RedisError;

/// Tuning of a [`RedisDriver`](super::RedisDriver): start from [`RedisDriverOptions::default`].
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt_redis::RedisDriverOptions;
/// let options = RedisDriverOptions::default().request_timeout(Duration::from_millis(500));
/// assert_eq!(options.request_timeout, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisDriverOptions {
    /// Longest wait for one Redis operation (publish, subscribe, a probe). Defaults to 1 s.
    pub operation_timeout: Duration,
    /// How often a down link is probed. Defaults to 250 ms.
    pub probe_interval: Duration,
    /// A link still down after this long gets a new connection (behind Sentinel, at most 1 s:
    /// the new connection goes to the master the Sentinels name then). Defaults to 5 s.
    pub rebuild_after: Duration,
    /// How long a cross-server request (`fetch_sockets`, `rooms`, ...) waits for the other
    /// servers' answers (socketioxide-redis's `request_timeout`). Defaults to 1 s.
    pub request_timeout: Duration,
    /// How often an up link is PINGed. A link that stops answering without closing (a
    /// half-open TCP connection: the subscriber would hear nothing, and nothing would say so) is
    /// found within this plus the operation timeout, then replaced at once. Defaults to 1 s.
    pub heartbeat_interval: Duration,
}

impl Default for RedisDriverOptions {
    fn default() -> Self {
        Self {
            operation_timeout: Duration::from_secs(1),
            probe_interval: Duration::from_millis(250),
            rebuild_after: Duration::from_secs(5),
            request_timeout: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(1),
        }
    }
}

impl RedisDriverOptions {
    /// Sets [`RedisDriverOptions::operation_timeout`].
    #[must_use]
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Sets [`RedisDriverOptions::probe_interval`].
    #[must_use]
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval;
        self
    }

    /// Sets [`RedisDriverOptions::rebuild_after`].
    #[must_use]
    pub fn rebuild_after(mut self, after: Duration) -> Self {
        self.rebuild_after = after;
        self
    }

    /// Sets [`RedisDriverOptions::heartbeat_interval`].
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets [`RedisDriverOptions::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

/// Why a driver operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisDriverError {
    /// Redis is known to be unreachable; nothing was sent (a probe is running).
    #[error("Redis is unreachable")]
    Down,
    /// The operation took longer than the operation timeout.
    #[error("the Redis operation timed out")]
    Timeout,
    /// Redis answered with an error, or the connection failed.
    #[error(transparent)]
    Redis(#[from] RedisError),
    /// The connection could not be set up (a bad URL, certificates, Sentinel addresses).
    #[error(transparent)]
    Connection(#[from] super::RedisConnectionError),
}
