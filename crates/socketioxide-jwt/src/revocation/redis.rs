//! The Redis store of a [`RevocationList`]: entries expire with the tokens they revoke, every
//! process hears new ones over pub/sub, and a process reloads the whole set at start and after a
//! lost connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::kinds::issuer_key_part;
use super::{
    ListInner, RefreshRequest, Revocation, RevocationBackend, RevocationError, RevocationList,
};
use crate::cluster::{RedisDriver, RedisDriverError};
use crate::future::BoxFuture;

/// Options of [`RevocationList::redis`]: start from [`RedisRevocationOptions::default`].
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt::revocation::RedisRevocationOptions;
/// let options = RedisRevocationOptions::default().max_token_lifetime(Duration::from_secs(900));
/// assert_eq!(options.max_token_lifetime, Duration::from_secs(900));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisRevocationOptions {
    /// Prefix of the keys. Defaults to `socketioxide-jwt:revoked:`.
    pub key_prefix: String,
    /// The pub/sub channel. Defaults to `socketioxide-jwt:revocations`.
    pub channel: String,
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
            channel: "socketioxide-jwt:revocations".into(),
            max_token_lifetime: super::DEFAULT_MAX_TOKEN_LIFETIME,
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

    /// Sets [`RedisRevocationOptions::channel`]: the pub/sub channel.
    #[must_use]
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// Sets [`RedisRevocationOptions::max_token_lifetime`]: how long a user revocation lasts (your longest token lifetime).
    #[must_use]
    pub fn max_token_lifetime(mut self, max_token_lifetime: Duration) -> Self {
        self.max_token_lifetime = max_token_lifetime;
        self
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> RevocationError {
    RevocationError::Unavailable(Box::new(e))
}

/// Revocations made while Redis was unreachable, sent when it is back; beyond this many, a
/// revocation is applied here only and reported [`RevocationError::Unavailable`].
const MAX_QUEUED: usize = 10_000;

/// The latest expiry stored in Redis (the last second of year 9999): `until` comes from a token's
/// `exp`, which may be any `u64`, and Redis refuses an `EXAT` near `i64::MAX / 1000`. An entry
/// kept this long is kept for good.
const MAX_STORED_UNTIL: u64 = 253_402_300_799;

/// Stores a revocation until its expiry and tells the other processes, atomically and with one
/// reply. Not a `MULTI`/`EXEC` pipeline: this connection also receives the subscription's RESP3
/// pushes, and redis-rs fails to parse an `EXEC` reply with a push between its parts ("Invalid
/// response when parsing multi response"), which happened under concurrent revocations.
/// `ARGV[4]` is `PUBLISH`, or `SPUBLISH` on a Cluster (where the channel shares the key's hash
/// slot, so that the script stays on one shard).
///
/// The stored entry is merged, not overwritten: when the key holds a later `issued_before` or
/// `until` (a process that had not heard a stronger revocation yet sends a weaker one), those
/// are kept in what is stored and published. `ARGV[5]`: the new `issued_before` (empty for the
/// kinds without one); `ARGV[6]`: the latest `until` stored ([`MAX_STORED_UNTIL`]).
const STORE_AND_PUBLISH: &str = r#"
local value, exat, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[6])
local stored = redis.call('GET', KEYS[1])
if stored then
  local ok, held = pcall(cjson.decode, stored)
  if ok and type(held) == 'table' then
    local before = tonumber(ARGV[5])
    if before and type(held.issued_before) == 'number' and held.issued_before > before then
      local kept = string.format('%.0f', math.min(held.issued_before, max))
      value = string.gsub(value, '"issued_before":%d+', '"issued_before":' .. kept, 1)
    end
    if type(held['until']) == 'number' and held['until'] > exat then
      exat = math.min(held['until'], max)
      value = string.gsub(value, '"until":%d+', '"until":' .. string.format('%.0f', exat), 1)
    end
  end
end
redis.call('SET', KEYS[1], value, 'EXAT', string.format('%.0f', exat))
redis.call(ARGV[4], ARGV[3], value)
return 1
"#;

/// The shared store: the driver, the revocations waiting to be sent, the recovery flag.
struct Store {
    driver: RedisDriver,
    options: RedisRevocationOptions,
    outbox: Mutex<VecDeque<Revocation>>,
    recovering: AtomicBool,
    list: Weak<ListInner>,
    /// How many times in a row Redis refused the outbox's first revocation.
    front_rejections: std::sync::atomic::AtomicU32,
}

/// A revocation Redis refused this many times in a row (an error reply, not an outage) is set
/// aside, so that the ones queued behind it still reach the other processes.
const MAX_REJECTIONS: u32 = 3;

/// Error replies that say "later", not "never": a loading, busy or failing-over server, or a
/// master that cannot replicate now (`min-replicas-to-write`).
const TRANSIENT_REPLIES: [&str; 10] = [
    "LOADING",
    "BUSY",
    "TRYAGAIN",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "READONLY",
    "OOM",
    "NOREPLICAS",
    // A Cluster resharding (redis-rs follows a few redirections, then returns the last).
    "MOVED",
    "ASK",
];

/// Why a send failed: Redis could not be reached (or was busy), or it refused this revocation.
#[derive(Debug)]
enum SendFailure {
    Unreachable(RevocationError),
    Rejected(RedisDriverError),
}

impl SendFailure {
    fn from_driver(e: RedisDriverError) -> Self {
        match &e {
            RedisDriverError::Redis(redis) => {
                // Redis 6 wraps an error raised inside a script: `ERR ... -NOREPLICAS ...`.
                let detail = redis.detail().unwrap_or_default();
                let transient = |code: &str| {
                    TRANSIENT_REPLIES.contains(&code)
                        || TRANSIENT_REPLIES.iter().any(|t| detail.contains(t))
                };
                match redis.code() {
                    Some(code) if !transient(code) => Self::Rejected(e),
                    _ => Self::Unreachable(unavailable(e)),
                }
            }
            _ => Self::Unreachable(unavailable(e)),
        }
    }

    fn into_error(self) -> RevocationError {
        match self {
            Self::Unreachable(e) => e,
            Self::Rejected(e) => unavailable(e),
        }
    }
}

/// The key part naming an issuer: empty for every issuer (so a one-issuer deployment's keys,
/// `sub:<sub>`, are those it stored before), else `iss:<length>:<iss>:`, whose length makes
/// the key name one (`iss`, `sub`) pair whatever either contains.
fn issuer_part(iss: &Option<String>) -> String {
    iss.as_deref().map(issuer_key_part).unwrap_or_default()
}

impl Store {
    fn key(&self, revocation: &Revocation) -> String {
        match revocation {
            Revocation::Token { jti, .. } => format!("{}jti:{jti}", self.options.key_prefix),
            Revocation::User { sub, iss, .. } => {
                format!("{}{}sub:{sub}", self.options.key_prefix, issuer_part(iss))
            }
            Revocation::Session { sid, iss, .. } => {
                format!("{}{}sid:{sid}", self.options.key_prefix, issuer_part(iss))
            }
        }
    }

    /// Stores `revocation` (with the expiry of what it revokes) and tells the other processes.
    async fn send(&self, revocation: &Revocation) -> Result<(), RevocationError> {
        self.try_send(revocation)
            .await
            .map_err(SendFailure::into_error)
    }

    async fn try_send(&self, revocation: &Revocation) -> Result<(), SendFailure> {
        // Every number in the stored JSON within what Redis' Lua (doubles) reads exactly.
        let revocation = revocation.clone().with_until_at_most(MAX_STORED_UNTIL);
        let until = revocation.until().max(1);
        let json = serde_json::to_string(&revocation)
            .map_err(|e| SendFailure::Unreachable(unavailable(e)))?;
        let issued_before = match &revocation {
            Revocation::User { issued_before, .. } => issued_before.to_string(),
            _ => String::new(),
        };
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(STORE_AND_PUBLISH)
            .arg(1)
            .arg(self.key(&revocation))
            .arg(&json)
            .arg(until)
            .arg(&self.options.channel)
            .arg(crate::cluster::publish_command(self.driver.is_cluster()))
            .arg(issued_before)
            .arg(MAX_STORED_UNTIL);
        self.driver
            .query::<()>(&cmd)
            .await
            .map_err(SendFailure::from_driver)
    }

    fn lock_outbox(&self) -> std::sync::MutexGuard<'_, VecDeque<Revocation>> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the recovery task unless it runs.
    fn recover(self: &Arc<Self>) {
        if !self.recovering.swap(true, Ordering::SeqCst) {
            tokio::spawn(recover(Arc::downgrade(self)));
        }
    }
}

struct RedisBackend {
    store: Arc<Store>,
}

impl RevocationBackend for RedisBackend {
    fn publish<'a>(
        &'a self,
        revocation: &'a Revocation,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let store = &self.store;
            // While queued ones wait, a new one waits behind them (the order is kept).
            let waiting = !store.lock_outbox().is_empty();
            let error = if waiting {
                RevocationError::Unavailable("revocations are waiting for the store".into())
            } else {
                match store.send(revocation).await {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                }
            };
            let queued = {
                let mut outbox = store.lock_outbox();
                (outbox.len() < MAX_QUEUED).then(|| outbox.push_back(revocation.clone()))
            };
            store.recover();
            match queued {
                Some(()) => Err(RevocationError::Queued(Box::new(error))),
                None => Err(error),
            }
        })
    }

    fn broadcast_refresh<'a>(
        &'a self,
        request: &'a RefreshRequest,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let store = &self.store;
            let json = serde_json::to_string(request).map_err(unavailable)?;
            let mut publish =
                ::redis::cmd(crate::cluster::publish_command(store.driver.is_cluster()));
            publish.arg(&store.options.channel).arg(json);
            store
                .driver
                .query::<()>(&publish)
                .await
                .map_err(unavailable)
        })
    }

    fn record_once<'a>(
        &'a self,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let mut set = ::redis::cmd("SET");
            set.arg(format!("{}{id}", self.store.options.logout_key_prefix))
                .arg(1)
                .arg("NX")
                .arg("EXAT")
                .arg(until.clamp(1, MAX_STORED_UNTIL));
            let reply: Option<String> = self.store.driver.query(&set).await.map_err(unavailable)?;
            Ok(reply.is_some())
        })
    }

    fn forget_record<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut del = ::redis::cmd("DEL");
            del.arg(format!("{}{id}", self.store.options.logout_key_prefix));
            if let Err(e) = self.store.driver.query::<()>(&del).await {
                tracing::warn!(error = %e, "could not forget a logout token id");
            }
        })
    }
}

impl RevocationList {
    /// A list shared by every process using the same Redis (and options), through `driver`
    /// (the one that carries the adapter's broadcasts: one connection strategy, the same
    /// outage handling): revocations are stored there with an expiry, spread by pub/sub, and
    /// loaded at start.
    ///
    /// While Redis is unreachable, the process keeps using the list it has (and says so in
    /// `tracing`); a new revocation applies here at once and
    /// [`revoke`](RevocationList::revoke) reports [`RevocationError::Queued`]: it is sent to the
    /// other processes when Redis is back, and then the list is reloaded (what the others
    /// revoked meanwhile).
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::cluster::{RedisConnection, RedisDriver};
    /// use socketioxide_jwt::{revocation::RedisRevocationOptions, RevocationList};
    /// let driver = RedisDriver::new(RedisConnection::new("redis://127.0.0.1:6379/").client()?).await?;
    /// let revocations = RevocationList::redis(&driver, RedisRevocationOptions::default()).await?;
    /// # let _ = revocations; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when Redis cannot be reached at start.
    pub async fn redis(
        driver: &RedisDriver,
        mut options: RedisRevocationOptions,
    ) -> Result<Self, RevocationError> {
        if driver.is_cluster() {
            // Keys and channel under one hash tag: the store-and-publish script and the
            // snapshot's scan stay on one shard.
            options.key_prefix = crate::cluster::hash_tagged(&options.key_prefix);
            options.channel = format!("{}{}", options.key_prefix, options.channel);
        }
        let list = RevocationList::with_lifetime(options.max_token_lifetime);
        let outages = driver.outages();
        let messages = driver
            .listen(options.channel.clone(), INBOX_SIZE)
            .await
            .map_err(unavailable)?;
        load_snapshot(driver, &options, &list).await?;
        let store = Arc::new(Store {
            driver: driver.clone(),
            options,
            outbox: Mutex::default(),
            recovering: AtomicBool::new(false),
            list: Arc::downgrade(&list.inner),
            front_rejections: std::sync::atomic::AtomicU32::new(0),
        });
        list.set_backend(Arc::new(RedisBackend {
            store: store.clone(),
        }));
        tokio::spawn(listen(Arc::downgrade(&store), messages, outages));
        Ok(list)
    }
}

/// Revocations from other processes waiting to be applied; beyond, dropped with a warning (and
/// found again by the reload after the next outage).
const INBOX_SIZE: usize = 4096;

mod sync;
use self::sync::{listen, load_snapshot, recover};
