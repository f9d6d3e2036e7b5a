//! [`JwksOptions`]: how long key sets live, how requests are bounded.

use std::time::Duration;

/// Tuning of a [`Jwks`](super::Jwks) provider: start from [`JwksOptions::default`] and change what you need.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt::jwks::JwksOptions;
/// let options = JwksOptions::default().timeout(Duration::from_secs(2)).max_bytes(64 * 1024);
/// assert_eq!(options.timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwksOptions {
    /// Shortest cache lifetime, whatever `Cache-Control` says. Defaults to 5 min.
    pub min_ttl: Duration,
    /// Longest cache lifetime. Defaults to 24 h.
    pub max_ttl: Duration,
    /// Lifetime without a `Cache-Control: max-age` (and for files). Defaults to 1 h.
    pub default_ttl: Duration,
    /// At most one refetch per this interval because of an unknown `kid`. Defaults to 60 s.
    pub unknown_kid_cooldown: Duration,
    /// Timeout of each request. Defaults to 5 s.
    pub timeout: Duration,
    /// Largest accepted response. Defaults to 256 KiB.
    pub max_bytes: usize,
    /// Delay before retrying a failed background refresh. Defaults to 30 s.
    pub retry_after_failure: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(300),
            max_ttl: Duration::from_secs(24 * 3600),
            default_ttl: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
            retry_after_failure: Duration::from_secs(30),
        }
    }
}

impl JwksOptions {
    /// Sets [`JwksOptions::min_ttl`]: the shortest cache lifetime, whatever `Cache-Control` says.
    #[must_use]
    pub fn min_ttl(mut self, min_ttl: Duration) -> Self {
        self.min_ttl = min_ttl;
        self
    }

    /// Sets [`JwksOptions::max_ttl`]: the longest cache lifetime.
    #[must_use]
    pub fn max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// Sets [`JwksOptions::default_ttl`]: the lifetime without a `Cache-Control: max-age` (and for files).
    #[must_use]
    pub fn default_ttl(mut self, default_ttl: Duration) -> Self {
        self.default_ttl = default_ttl;
        self
    }

    /// Sets [`JwksOptions::unknown_kid_cooldown`]: at most one refetch per this interval because of an unknown `kid`.
    #[must_use]
    pub fn unknown_kid_cooldown(mut self, unknown_kid_cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = unknown_kid_cooldown;
        self
    }

    /// Sets [`JwksOptions::timeout`]: the timeout of each request.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`JwksOptions::max_bytes`]: the largest accepted response.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets [`JwksOptions::retry_after_failure`]: the delay before retrying a failed background refresh.
    #[must_use]
    pub fn retry_after_failure(mut self, retry_after_failure: Duration) -> Self {
        self.retry_after_failure = retry_after_failure;
        self
    }
}
