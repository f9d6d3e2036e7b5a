//! [`RedisRevocationOptions`]: the keys, the log, and how often it is read.

use std::time::Duration;

/// Options of [`RedisDriver::revocation_list`](crate::RedisDriver::revocation_list): start from [`RedisRevocationOptions::default`].
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt_redis::RedisRevocationOptions;
/// let options = RedisRevocationOptions::default().max_token_lifetime(Duration::from_secs(900));
/// assert_eq!(options.max_token_lifetime, Duration::from_secs(900));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisRevocationOptions {
    /// Prefix of the keys: the revocations are in the hashes `<prefix>all:0` to `all:15` (one
    /// field each, named `jti:<jti>`, `sub:<sub>`, `iss:<len>:<iss>:sub:<sub>`, `sid:…`, in the
    /// hash its FNV-1a hash picks), whose expired fields are swept by the writers: two random
    /// fields of the hash looked at on every write. Defaults to `socketioxide-jwt:revoked:`.
    pub key_prefix: String,
    /// The control log: the Redis Stream every process appends its revocations and refresh
    /// requests to, and reads the others' from; its key is `<key_prefix><stream>`, so that two
    /// deployments with their own prefixes never read each other's. Defaults to `log`.
    pub stream: String,
    /// How often a process reads the log when it has read everything: the bound on how late
    /// a revocation made elsewhere is applied here. Defaults to 100 ms.
    pub poll_interval: Duration,
    /// How long the log keeps a message (by Redis' clock): a process further behind than this
    /// reloads the whole set instead. Defaults to 10 minutes.
    pub log_retention: Duration,
    /// How long a user revocation lasts (your longest token lifetime). Defaults to 24 h.
    pub max_token_lifetime: Duration,
    /// Prefix of the keys that remember back-channel logout token ids (against replays).
    /// Defaults to `socketioxide-jwt:logout:`.
    pub logout_key_prefix: String,
}

impl Default for RedisRevocationOptions {
    fn default() -> Self {
        Self {
            key_prefix: "socketioxide-jwt:revoked:".into(),
            stream: "log".into(),
            poll_interval: Duration::from_millis(100),
            log_retention: Duration::from_secs(600),
            max_token_lifetime: socketioxide_jwt::RevocationList::DEFAULT_MAX_TOKEN_LIFETIME,
            logout_key_prefix: "socketioxide-jwt:logout:".into(),
        }
    }
}

impl RedisRevocationOptions {
    /// Sets [`RedisRevocationOptions::key_prefix`]: the prefix of the keys.
    #[must_use]
    pub fn key_prefix(mut self, key_prefix: impl Into<String>) -> Self {
        self.key_prefix = key_prefix.into();
        self
    }

    /// Sets [`RedisRevocationOptions::stream`]: the control log's key after the prefix.
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// Sets [`RedisRevocationOptions::poll_interval`]: how often the log is read when idle.
    #[must_use]
    pub fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// Sets [`RedisRevocationOptions::log_retention`]: how long the log keeps a message.
    #[must_use]
    pub fn log_retention(mut self, log_retention: Duration) -> Self {
        self.log_retention = log_retention;
        self
    }

    /// Sets [`RedisRevocationOptions::max_token_lifetime`]: how long a user revocation lasts (your longest token lifetime).
    #[must_use]
    pub fn max_token_lifetime(mut self, max_token_lifetime: Duration) -> Self {
        self.max_token_lifetime = max_token_lifetime;
        self
    }
}
