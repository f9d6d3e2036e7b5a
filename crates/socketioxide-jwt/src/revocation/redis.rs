//! The Redis store of a [`RevocationList`]: entries expire with the tokens they revoke, every
//! process hears new ones over pub/sub, and a process reloads the whole set at start and after a
//! lost connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, FromRedisValue, PushInfo, PushKind};
use tokio::sync::mpsc;

use super::{ListInner, Revocation, RevocationBackend, RevocationError, RevocationList};
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
    /// Timeout of each Redis operation. Defaults to 2 s.
    pub timeout: Duration,
}

impl Default for RedisRevocationOptions {
    fn default() -> Self {
        Self {
            key_prefix: "socketioxide-jwt:revoked:".into(),
            channel: "socketioxide-jwt:revocations".into(),
            max_token_lifetime: super::DEFAULT_MAX_TOKEN_LIFETIME,
            timeout: Duration::from_secs(2),
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

    /// Sets [`RedisRevocationOptions::timeout`]: the timeout of each Redis operation.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
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
const STORE_AND_PUBLISH: &str = "redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2]) \
     redis.call('PUBLISH', ARGV[3], ARGV[1]) return 1";

/// The shared store: the connection, the revocations waiting to be sent, the recovery flag.
struct Store {
    conn: ConnectionManager,
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

/// Error replies that say "later", not "never": a loading, busy or failing-over server.
const TRANSIENT_REPLIES: [&str; 7] = [
    "LOADING",
    "BUSY",
    "TRYAGAIN",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "READONLY",
    "OOM",
];

/// Why a send failed: Redis could not be reached (or was busy), or it refused this revocation.
#[derive(Debug)]
enum SendFailure {
    Unreachable(RevocationError),
    Rejected(::redis::RedisError),
}

impl SendFailure {
    fn from_redis(e: ::redis::RedisError) -> Self {
        match e.code() {
            Some(code) if !TRANSIENT_REPLIES.contains(&code) => Self::Rejected(e),
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
    fn key(&self, revocation: &Revocation) -> String {
        match revocation {
            Revocation::Token { jti, .. } => format!("{}jti:{jti}", self.options.key_prefix),
            Revocation::User { sub, .. } => format!("{}sub:{sub}", self.options.key_prefix),
        }
    }

    /// Stores `revocation` (with the expiry of what it revokes) and tells the other processes.
    async fn send(&self, revocation: &Revocation) -> Result<(), RevocationError> {
        self.try_send(revocation)
            .await
            .map_err(SendFailure::into_error)
    }

    async fn try_send(&self, revocation: &Revocation) -> Result<(), SendFailure> {
        let until = match revocation {
            Revocation::Token { until, .. } | Revocation::User { until, .. } => *until,
        };
        let json = serde_json::to_string(revocation)
            .map_err(|e| SendFailure::Unreachable(unavailable(e)))?;
        let mut conn = self.conn.clone();
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(STORE_AND_PUBLISH)
            .arg(1)
            .arg(self.key(revocation))
            .arg(&json)
            .arg(until.clamp(1, MAX_STORED_UNTIL))
            .arg(&self.options.channel);
        let sent = cmd.query_async::<()>(&mut conn);
        tokio::time::timeout(self.options.timeout, sent)
            .await
            .map_err(|e| SendFailure::Unreachable(unavailable(e)))?
            .map_err(SendFailure::from_redis)
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
}

impl RevocationList {
    /// A list shared by every process using the same Redis (and options): revocations are
    /// stored there with an expiry, spread by pub/sub, and loaded at start.
    ///
    /// The URL must ask for RESP3 (`redis://host:6379/?protocol=resp3`). While Redis is
    /// unreachable, the process keeps using the list it has (and says so in `tracing`); a new
    /// revocation applies here at once and [`revoke`](RevocationList::revoke) reports
    /// [`RevocationError::Queued`]: it is sent to the other processes when Redis is back, and
    /// then the list is reloaded (what the others revoked meanwhile).
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when Redis cannot be reached at start.
    pub async fn redis(
        client: ::redis::Client,
        options: RedisRevocationOptions,
    ) -> Result<Self, RevocationError> {
        let list = RevocationList::with_lifetime(options.max_token_lifetime);
        let (tx, rx) = mpsc::unbounded_channel();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(tx)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_max_delay(Duration::from_secs(2));
        let mut conn = tokio::time::timeout(
            options.timeout,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
        conn.subscribe(&options.channel)
            .await
            .map_err(unavailable)?;
        load_snapshot(&mut conn, &options, &list).await?;
        let store = Arc::new(Store {
            conn,
            options,
            outbox: Mutex::default(),
            recovering: AtomicBool::new(false),
            list: Arc::downgrade(&list.inner),
            front_rejections: std::sync::atomic::AtomicU32::new(0),
        });
        list.set_backend(Arc::new(RedisBackend {
            store: store.clone(),
        }));
        tokio::spawn(listen(Arc::downgrade(&store), rx));
        Ok(list)
    }
}

/// Reads every stored revocation into the list.
async fn load_snapshot(
    conn: &mut ConnectionManager,
    options: &RedisRevocationOptions,
    list: &RevocationList,
) -> Result<usize, RevocationError> {
    let pattern = format!("{}*", options.key_prefix);
    let keys: Vec<String> = {
        let mut iter = conn
            .scan_match::<_, String>(&pattern)
            .await
            .map_err(unavailable)?;
        let mut keys = Vec::new();
        while let Some(key) = futures_lite_next(&mut iter).await {
            keys.push(key.map_err(unavailable)?);
        }
        keys
    };
    if keys.is_empty() {
        return Ok(0);
    }
    let values: Vec<Option<String>> = conn.mget(&keys).await.map_err(unavailable)?;
    let mut loaded = 0;
    for value in values.into_iter().flatten() {
        if let Ok(revocation) = serde_json::from_str::<Revocation>(&value) {
            list.apply(revocation);
            loaded += 1;
        }
    }
    Ok(loaded)
}

async fn futures_lite_next<T>(
    iter: &mut ::redis::AsyncIter<'_, T>,
) -> Option<::redis::RedisResult<T>>
where
    T: FromRedisValue + Unpin + Send + 'static,
{
    iter.next_item().await
}

/// Applies what other processes publish; on a lost connection, recovers.
async fn listen(store: Weak<Store>, mut rx: mpsc::UnboundedReceiver<PushInfo>) {
    while let Some(push) = rx.recv().await {
        let Some(store) = store.upgrade() else {
            return;
        };
        let Some(inner) = store.list.upgrade() else {
            return;
        };
        let list = RevocationList { inner };
        match push.kind {
            PushKind::Message => {
                let Some(payload) = push.data.into_iter().nth(1) else {
                    continue;
                };
                match String::from_redis_value(payload)
                    .ok()
                    .and_then(|s| serde_json::from_str::<Revocation>(&s).ok())
                {
                    Some(revocation) => {
                        crate::metrics::revocation(revocation.kind_label(), "remote");
                        list.apply(revocation);
                    }
                    None => tracing::warn!("ignored a malformed revocation message"),
                }
            }
            PushKind::Disconnection => store.recover(),
            _ => {}
        }
    }
}

/// Retries until Redis answers: sends the revocations queued meanwhile (in order), then reloads
/// the list (revocations the other processes made meanwhile).
async fn recover(store: Weak<Store>) {
    tracing::warn!(
        "revocation store unreachable: using the last known revocations until it is back"
    );
    let mut delay = Duration::from_millis(200);
    loop {
        tokio::time::sleep(delay).await;
        let Some(store) = store.upgrade() else {
            return;
        };
        let Some(inner) = store.list.upgrade() else {
            return;
        };
        let list = RevocationList { inner };
        match flush_and_reload(&store, &list).await {
            Ok((sent, loaded)) => {
                store.recovering.store(false, Ordering::SeqCst);
                // A revocation queued after the last flush and before the flag was cleared.
                if !store.lock_outbox().is_empty() {
                    store.recover();
                }
                tracing::info!(
                    sent,
                    loaded,
                    "revocation store reachable again: queued revocations sent, list reloaded"
                );
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "revocation store still unreachable");
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn flush_and_reload(
    store: &Store,
    list: &RevocationList,
) -> Result<(usize, usize), RevocationError> {
    let mut sent = 0;
    loop {
        let Some(next) = store.lock_outbox().front().cloned() else {
            break;
        };
        match store.try_send(&next).await {
            Ok(()) => {
                store.front_rejections.store(0, Ordering::SeqCst);
                sent += 1;
            }
            Err(SendFailure::Rejected(e)) => {
                let rejections = store.front_rejections.fetch_add(1, Ordering::SeqCst) + 1;
                if rejections < MAX_REJECTIONS {
                    return Err(unavailable(e));
                }
                // Refused every time: set it aside (it applies in this process already) so that
                // later revocations flow.
                store.front_rejections.store(0, Ordering::SeqCst);
                tracing::error!(kind = next.kind_label(), error = %e, "Redis refuses this revocation: set aside, the ones queued after it go on");
                crate::metrics::revocation(next.kind_label(), "set_aside");
            }
            Err(SendFailure::Unreachable(e)) => return Err(e),
        }
        store.lock_outbox().pop_front();
    }
    let mut conn = store.conn.clone();
    let loaded = tokio::time::timeout(
        store.options.timeout,
        load_snapshot(&mut conn, &store.options, list),
    )
    .await
    .map_err(unavailable)??;
    Ok((sent, loaded))
}
