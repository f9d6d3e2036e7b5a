//! The Redis store of a [`RevocationList`] ([`RedisDriver::revocation_list`]): entries expire with the tokens they revoke, and every
//! message that crosses processes (a revocation, a refresh request) is appended to one Redis
//! Stream, the control log, in the same script that stores it. Each process reads the log from
//! where it was; one that may have missed something (an outage, a gap trimmed before it read it,
//! a history that went backwards after a failover) reloads the whole set and sends again what it
//! holds that the store lost.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketioxide_jwt::revocation::{
    RefreshRequest, Revocation, RevocationBackend, RevocationError, RevocationFeed,
};
use socketioxide_jwt::{BoxFuture, RevocationList};

use crate::driver::{hash_tagged, publish_command, RedisDriver, RedisDriverError};

/// The latest `until` stored: the list's own cap.
const MAX_UNTIL: u64 = Revocation::MAX_UNTIL;

/// How long a user revocation lasts unless told: as [`RevocationList::in_memory`]'s.
const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Options of [`RedisDriver::revocation_list`]: start from [`RedisRevocationOptions::default`].
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
            max_token_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
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

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> RevocationError {
    RevocationError::Unavailable(Box::new(e))
}

/// How many hashes the revocations are spread over (by field): a new process reads them all at
/// once, so that Redis' work on one overlaps the reading of the others' replies.
const HASHES: usize = 16;

/// Wake-ups waiting to be noticed; beyond, dropped (one is as good as many).
const WAKEUPS: usize = 16;

/// Revocations made while Redis was unreachable, sent when it is back; beyond this many, a
/// revocation is applied here only and reported [`RevocationError::Unavailable`].
const MAX_QUEUED: usize = 10_000;

/// Stores a revocation until its expiry and appends it to the control log, atomically and with
/// one reply. Not a `MULTI`/`EXEC` pipeline: redis-rs fails to parse an `EXEC` reply with a push
/// between its parts ("Invalid response when parsing multi response"). On a Cluster the hash,
/// the log and the wake-up throttle share one hash slot, so that the script stays on one shard.
///
/// `KEYS`: the hash, the log, the wake-up throttle (as in [`APPEND`]). `ARGV[1]`: the entry's
/// JSON; `ARGV[2]`: its
/// `until`; `ARGV[3]`: its `issued_before` (empty for the kinds without one); `ARGV[4]`: the
/// latest `until` stored ([`MAX_UNTIL`]); `ARGV[5]` and `ARGV[6]`: the sender's id and
/// the log's retention (ms), as in [`APPEND`]; `ARGV[7]`: the entry's field; `ARGV[8]` and
/// `ARGV[9]`: the publish command and the wake-up channel, as in [`APPEND`].
///
/// The stored entry is merged, not overwritten: when the field holds a later `issued_before` or
/// `until` (a process that had not heard a stronger revocation yet sends a weaker one), those
/// are kept in what is stored and appended. An entry stored already as it would be is not
/// appended again (every process sending back what a failover lost appends it once). Then two
/// random fields of the hash are looked at (`HRANDFIELD`, O(1)), and dropped if expired: with
/// each write adding at most one field, the hash settles at about as many expired fields as
/// live ones at worst (a cursor's `HSCAN` here cost five times the rest of the script).
const STORE_AND_APPEND: &str = r#"
local value, exat, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local stored = redis.call('HGET', KEYS[1], ARGV[7])
if stored then
  local ok, held = pcall(cjson.decode, stored)
  if ok and type(held) == 'table' then
    local before = tonumber(ARGV[3])
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
if value == stored then return 0 end
redis.call('HSET', KEYS[1], ARGV[7], value)
local now = redis.call('TIME')
local sample = redis.call('HRANDFIELD', KEYS[1], 2, 'WITHVALUES')
for i = 1, #sample, 2 do
  local u = tonumber(string.match(sample[i + 1], '"until":(%d+)'))
  if u and u < tonumber(now[1]) then redis.call('HDEL', KEYS[1], sample[i]) end
end
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[6])
redis.call('XADD', KEYS[2], 'MINID', '~', string.format('%.0f', math.max(oldest, 0)), '*', 'm', value, 'o', ARGV[5])
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', 5) then redis.call(ARGV[8], ARGV[9], '') end
return 1
"#;

/// Appends a message that is not stored (a refresh request) to the control log `KEYS[1]`:
/// `ARGV[1]` the message, `ARGV[2]` the sender's id (its own messages are skipped when read
/// back), `ARGV[3]` the retention in ms (older messages are trimmed, by Redis' clock); then an
/// empty message on the wake-up channel `ARGV[5]` (`ARGV[4]`: `PUBLISH`, or `SPUBLISH` on a
/// Cluster, the channel sharing the log's hash slot), so that the other processes read at once
/// rather than at their next poll; at most one every 5 ms (`KEYS[2]`, set for 5 ms, holds the
/// others back: a burst wakes each process a few hundred times a second, not once per message).
/// The wake-up is only that: one lost or held back costs a poll interval at most.
const APPEND: &str = r#"
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%.0f', math.max(oldest, 0)), '*', 'm', ARGV[1], 'o', ARGV[2])
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', 5) then redis.call(ARGV[4], ARGV[5], '') end
return 1
"#;

/// The shared store: the driver, the revocations waiting to be sent.
struct Store {
    driver: RedisDriver,
    options: RedisRevocationOptions,
    outbox: Mutex<VecDeque<Revocation>>,
    /// Wakes the log's reader (to send what the outbox holds).
    wake: Arc<tokio::sync::Notify>,
    /// The list's way in: what the other processes appended is applied through it; its
    /// sender id tags this process's messages (skipped when read back).
    feed: RevocationFeed,
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
                // Whole words only: `BUSYKEY` is no `BUSY`.
                let transient = |code: &str| {
                    TRANSIENT_REPLIES.contains(&code)
                        || detail
                            .split(|c: char| !c.is_ascii_alphanumeric())
                            .any(|word| TRANSIENT_REPLIES.contains(&word))
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

impl Store {
    /// The channel that tells the processes to read the log now.
    fn wake_channel(&self) -> String {
        format!("{}wake", self.options.key_prefix)
    }

    /// The key that holds wake-ups back for 5 ms after one.
    fn wake_throttle(&self) -> String {
        format!("{}woken", self.options.key_prefix)
    }

    /// The revocations' hash number `shard`.
    fn hash(&self, shard: usize) -> String {
        format!("{}all:{shard}", self.options.key_prefix)
    }

    /// Which hash holds `field`: the same in every process (FNV-1a, not a seeded hash).
    fn shard_of(field: &str) -> usize {
        let hash = field.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % HASHES as u64) as usize
    }

    /// Stores `revocation` (with the expiry of what it revokes) and tells the other processes.
    async fn send(&self, revocation: &Revocation) -> Result<(), RevocationError> {
        self.try_send(revocation)
            .await
            .map_err(SendFailure::into_error)
    }

    async fn try_send(&self, revocation: &Revocation) -> Result<(), SendFailure> {
        // Every number in the stored JSON within what Redis' Lua (doubles) reads exactly.
        let revocation = revocation.clone().with_until_at_most(MAX_UNTIL);
        let until = revocation.until().max(1);
        let json = serde_json::to_string(&revocation)
            .map_err(|e| SendFailure::Unreachable(unavailable(e)))?;
        let issued_before = match &revocation {
            Revocation::User { issued_before, .. } => issued_before.to_string(),
            _ => String::new(),
        };
        let field = revocation.key();
        let shard = Self::shard_of(&field);
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(STORE_AND_APPEND)
            .arg(3)
            .arg(self.hash(shard))
            .arg(&self.options.stream)
            .arg(self.wake_throttle())
            .arg(&json)
            .arg(until)
            .arg(issued_before)
            .arg(MAX_UNTIL)
            .arg(self.feed.sender())
            .arg(self.retention_ms())
            .arg(field)
            .arg(publish_command(self.driver.is_cluster()))
            .arg(self.wake_channel());
        self.driver
            .query::<()>(&cmd)
            .await
            .map_err(SendFailure::from_driver)
    }

    fn lock_outbox(&self) -> std::sync::MutexGuard<'_, VecDeque<Revocation>> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn retention_ms(&self) -> u64 {
        u64::try_from(self.options.log_retention.as_millis()).unwrap_or(u64::MAX)
    }

    /// Appends a message that is not stored (a refresh request) to the log.
    async fn append(&self, message: &str) -> Result<(), RedisDriverError> {
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(APPEND)
            .arg(2)
            .arg(&self.options.stream)
            .arg(self.wake_throttle())
            .arg(message)
            .arg(self.feed.sender())
            .arg(self.retention_ms())
            .arg(publish_command(self.driver.is_cluster()))
            .arg(self.wake_channel());
        self.driver.query::<()>(&cmd).await
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
            store.wake.notify_one();
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
            let json = serde_json::to_string(request).map_err(unavailable)?;
            self.store.append(&json).await.map_err(unavailable)
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
                .arg(until.clamp(1, MAX_UNTIL));
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

impl RedisDriver {
    /// A revocation list shared by every process using the same Redis (and options), through
    /// this driver (the one that carries the adapter's broadcasts: one connection strategy, the
    /// same outage handling).
    ///
    /// Revocations are stored there with an expiry and appended to the control log (a Redis
    /// Stream) in one script; every process reads the log from where it was, in batches: at
    /// once when the script's pub/sub wake-up arrives, and every
    /// [`poll_interval`](RedisRevocationOptions::poll_interval) anyway. The wake-up is only a
    /// hint, so nothing is lost when a Cluster moves the log's hash slot (ending the wake-up's
    /// subscription) or a burst outruns a process: it reads on from where it was. A process that may have missed a
    /// message reloads the whole set (O(n)) and sends the store what it holds that the store
    /// lacks:
    /// - after an outage (when Redis answers again);
    /// - when the log no longer holds what it has not read
    ///   ([`log_retention`](RedisRevocationOptions::log_retention));
    /// - when the log's history went backwards (a failover to a replica that had not received
    ///   the last messages, a restart without persistence).
    ///
    /// While Redis is unreachable, the process keeps using the list it has (and says so in
    /// `tracing`); a new revocation applies here at once and
    /// [`revoke`](RevocationList::revoke) reports [`RevocationError::Queued`]: it is sent to the
    /// other processes when Redis is back.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt_redis::{RedisConnection, RedisDriver, RedisRevocationOptions};
    /// let driver = RedisDriver::new(RedisConnection::new("redis://127.0.0.1:6379/").client()?).await?;
    /// let revocations = driver.revocation_list(RedisRevocationOptions::default()).await?;
    /// # let _ = revocations; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when Redis cannot be reached at start, is older than
    /// 7.0 (the log reads `XINFO STREAM`'s `entries-added`), or `poll_interval` or
    /// `log_retention` is zero.
    ///
    /// <div class="warning">Run Redis with <code>maxmemory-policy noeviction</code> (the
    /// default): a revocation Redis evicts is not noticed by the processes.</div>
    pub async fn revocation_list(
        &self,
        mut options: RedisRevocationOptions,
    ) -> Result<RevocationList, RevocationError> {
        if options.poll_interval.is_zero() || options.log_retention.is_zero() {
            return Err(RevocationError::Unavailable(
                "RedisRevocationOptions: poll_interval and log_retention must not be zero".into(),
            ));
        }
        if self.is_cluster() {
            // Hashes, log and wake-up throttle under one hash tag: the store-and-append script
            // stays on one shard.
            options.key_prefix = hash_tagged(&options.key_prefix);
        }
        options.stream = format!("{}{}", options.key_prefix, options.stream);
        require_redis_7(self, &options.stream).await?;
        let max_token_lifetime = options.max_token_lifetime;
        RevocationList::with_backend(max_token_lifetime, |feed| async move {
            let outages = self.outages();
            let store = Arc::new(Store {
                driver: self.clone(),
                options,
                outbox: Mutex::default(),
                wake: Arc::default(),
                feed,
                front_rejections: std::sync::atomic::AtomicU32::new(0),
            });
            let wakeups = self
                .listen(store.wake_channel(), WAKEUPS)
                .await
                .map_err(unavailable)?;
            let position = control_log::resync(&store).await?;
            tokio::spawn(control_log::follow(
                Arc::downgrade(&store),
                position,
                outages,
                wakeups,
            ));
            Ok(RedisBackend { store })
        })
        .await
    }
}

/// Refuses a Redis older than 7.0, whose `XINFO STREAM` does not count `entries-added`. Asked
/// of a script (`redis.REDIS_VERSION`, from 7.0 on), so that an ACL user needs no `INFO`.
async fn require_redis_7(driver: &RedisDriver, key: &str) -> Result<(), RevocationError> {
    let mut version = ::redis::cmd("EVAL");
    version.arg("return redis.REDIS_VERSION or ''").arg(0);
    let version: String = driver
        .query_on_shard_of(key, &version)
        .await
        .map_err(unavailable)?;
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(major) if major >= 7 => Ok(()),
        _ => Err(RevocationError::Unavailable(
            format!("the revocation list needs Redis 7.0 or later (this one says {version:?})")
                .into(),
        )),
    }
}

mod control_log;

#[cfg(test)]
mod tests {
    use super::Store;

    #[test]
    fn a_field_lives_in_the_same_hash_in_every_process() {
        // FNV-1a 64 modulo 16: the values bench/revocations.py computes too.
        assert_eq!(Store::shard_of("sid:s-1"), 14);
        assert_eq!(Store::shard_of("jti:abc"), 12);
        assert_eq!(Store::shard_of("sid:lost-1"), 11);
    }
}
