//! The Redis store of a [`RevocationList`] ([`RedisDriver::revocation_list`]): entries expire with the tokens they revoke, and every
//! message that crosses processes (a revocation, a refresh request) is appended to one Redis
//! Stream, the control log, in the same script that stores it. Each process reads the log from
//! where it was; one that may have missed something (an outage, a gap trimmed before it read it,
//! a history that went backwards after a failover) reloads the whole set and sends again what it
//! holds that the store lost.

use std::sync::{Arc, Mutex};

use socketioxide_jwt::revocation::{
    RefreshRequest, Revocation, RevocationBackend, RevocationError,
};
use socketioxide_jwt::{BoxFuture, RevocationList};

use crate::driver::{hash_tagged, RedisDriver};

mod control_log;
mod options;
mod store;

pub use self::options::RedisRevocationOptions;
use self::store::{unavailable, Store};

/// Wake-ups waiting to be noticed; beyond, dropped (one is as good as many).
const WAKEUPS: usize = 16;

/// Revocations made while Redis was unreachable, sent when it is back; beyond this many, a
/// revocation is applied here only and reported [`RevocationError::Unavailable`].
const MAX_QUEUED: usize = 10_000;

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
                .arg(until.clamp(1, Revocation::MAX_UNTIL));
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
