//! Several processes behind one Redis (feature `redis`): a socketioxide-redis driver that
//! survives Redis outages of any length, and the adapter type that goes with it.
//!
//! socketioxide-redis 0.4's own driver keeps one connection: once Redis restarts, its
//! subscriptions are gone and instances stop hearing each other until they restart. And every
//! broadcast waits for its remote half before delivering locally, so during an outage a message
//! did not even reach the sockets of the sending process. [`RedisDriver`]:
//! - reconnects and resubscribes by itself (redis' `ConnectionManager`), and if the connection
//!   stays broken, rebuilds it and subscribes again, however long the outage;
//! - fails fast while Redis is known to be down (a background probe tells when it is back), so
//!   no broadcast waits on it: with [`JwtAdapter`], which then delivers the
//!   packet to this process's sockets anyway, local delivery never stops;
//! - bounds every Redis operation with a timeout.
//!
//! # Example
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use socketioxide::SocketIo;
//! use socketioxide_jwt::cluster::{JwtRedisAdapter, RedisConnection, RedisDriver};
//!
//! let client = RedisConnection::new("redis://127.0.0.1:6379/").client()?;
//! let driver = RedisDriver::new(client).await?;
//! let (layer, io) = SocketIo::builder()
//!     .with_adapter::<JwtRedisAdapter>(driver.adapter())
//!     .build_layer();
//! # let _ = (layer, io); Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use ::redis::{FromRedisValue, PushInfo, PushKind, RedisError};
use socketioxide::adapter::Emitter;
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::sync::mpsc;

use crate::adapter::JwtAdapter;

mod conn;
mod connection;
mod options;
pub(crate) use self::conn::{hash_tagged, publish_command};
use self::conn::{subscriber_count, Conn, PushHandler, Source};
pub use self::connection::{RedisConnection, RedisConnectionError};
pub use self::options::{RedisDriverError, RedisDriverOptions};

/// [`JwtAdapter`] over socketioxide-redis with a [`RedisDriver`]: the adapter of a cluster.
pub type JwtRedisAdapter = JwtAdapter<CustomRedisAdapter<Emitter, RedisDriver>>;

/// What the connections' push senders share with the driver.
#[derive(Default)]
struct Inbox {
    /// Which connection may deliver messages: pushes of a replaced one are ignored.
    generation: AtomicU64,
    /// The subscribers of each channel, oldest first: two adapters of one namespace path
    /// overlap when a dynamic namespace is re-created while the removed one still closes.
    handlers: RwLock<HashMap<String, Vec<mpsc::Sender<ChanItem>>>>,
    up: AtomicBool,
    /// The driver, to start its probe when a connection reports its loss.
    link: OnceLock<Weak<Link>>,
    /// Counts the outages: whoever keeps state in Redis (the revocation list) reloads it after one.
    outages: tokio::sync::watch::Sender<u64>,
}

struct Link {
    source: Source,
    options: RedisDriverOptions,
    /// The current connection; replaced when it stays broken.
    conn: RwLock<Conn>,
    inbox: Arc<Inbox>,
    probing: AtomicBool,
}

/// A socketioxide-redis driver that survives Redis restarts and outages of any length. See the
/// [module docs](self). Cheap to clone.
#[derive(Clone)]
pub struct RedisDriver {
    link: Arc<Link>,
}

impl std::fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDriver")
            .field("connected", &self.is_connected())
            .field("options", &self.link.options)
            .finish_non_exhaustive()
    }
}

impl RedisDriver {
    /// Connects with the default options. The URL must ask for RESP3 (`?protocol=resp3`), or
    /// use [`RedisDriver::connect`] with a [`RedisConnection`], which asks for it.
    ///
    /// # Errors
    /// When Redis cannot be reached now (a server should not start half-connected).
    pub async fn new(client: ::redis::Client) -> Result<Self, RedisDriverError> {
        Self::with_options(client, RedisDriverOptions::default()).await
    }

    /// Connects to what `redis` names (one server, or the master its Sentinels name, followed
    /// through failovers), with `options`.
    ///
    /// # Errors
    /// As [`RedisDriver::new`]; [`RedisConnection::explain`] says what to fix.
    pub async fn connect(
        redis: &RedisConnection,
        options: RedisDriverOptions,
    ) -> Result<Self, RedisDriverError> {
        let source = match redis.sentinel_client()? {
            Some(sentinel) => Source::Sentinel(tokio::sync::Mutex::new(sentinel)),
            None if redis.is_cluster() => Source::Cluster(redis.clone()),
            None => Source::Fixed(redis.client()?),
        };
        Self::start(source, options).await
    }

    /// Connects with `options`.
    ///
    /// # Errors
    /// As [`RedisDriver::new`].
    pub async fn with_options(
        client: ::redis::Client,
        options: RedisDriverOptions,
    ) -> Result<Self, RedisDriverError> {
        Self::start(Source::Fixed(client), options).await
    }

    async fn start(source: Source, options: RedisDriverOptions) -> Result<Self, RedisDriverError> {
        let inbox = Arc::new(Inbox {
            up: AtomicBool::new(true),
            ..Inbox::default()
        });
        let conn = tokio::time::timeout(
            options.operation_timeout,
            source.connect(&options, pushes_to(&inbox, 0), true),
        )
        .await
        .map_err(|_| RedisDriverError::Timeout)??;
        let driver = Self {
            link: Arc::new(Link {
                source,
                options,
                conn: RwLock::new(conn),
                inbox,
                probing: AtomicBool::new(false),
            }),
        };
        let _ = driver.link.inbox.link.set(Arc::downgrade(&driver.link));
        let mut conn = driver.conn();
        tokio::time::timeout(driver.link.options.operation_timeout, async move {
            ::redis::cmd("PING").query_async::<()>(&mut conn).await
        })
        .await
        .map_err(|_| RedisDriverError::Timeout)??;
        driver.heartbeat();
        Ok(driver)
    }

    /// PINGs the link while it is up; one that does not answer in time is half-open, or worse:
    /// replaced at once, and down until the probe hears the new one. Ends with the driver.
    fn heartbeat(&self) {
        let link = Arc::downgrade(&self.link);
        let every = self.link.options.heartbeat_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(link) = link.upgrade() else { return };
                let driver = RedisDriver { link };
                if !driver.is_connected() {
                    continue; // the probe is on it
                }
                let mut conn = driver.conn();
                let ping = tokio::time::timeout(driver.link.options.operation_timeout, async {
                    ::redis::cmd("PING").query_async::<()>(&mut conn).await
                })
                .await;
                let answered = match ping {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => !is_link_failure(&e),
                    Err(_) => false,
                };
                if !answered && driver.is_connected() {
                    tracing::warn!("Redis did not answer the heartbeat: replacing the connection");
                    driver.rebuild().await;
                    driver.mark_down();
                }
            }
        });
    }

    /// The adapter constructor for [`JwtRedisAdapter`], with this driver and the options'
    /// request timeout.
    pub fn adapter(&self) -> RedisAdapterCtr<RedisDriver> {
        let config =
            RedisAdapterConfig::default().with_request_timeout(self.link.options.request_timeout);
        RedisAdapterCtr::new_with_driver(self.clone(), config)
    }

    /// Whether Redis answered the last operation (or the last probe).
    pub fn is_connected(&self) -> bool {
        self.link.inbox.up.load(Ordering::Acquire)
    }

    fn conn(&self) -> Conn {
        self.link
            .conn
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs one operation: fails at once while the link is down, bounded by the operation
    /// timeout otherwise; a failure marks the link down.
    async fn run<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RedisDriverError> {
        if !self.is_connected() {
            self.probe();
            return Err(RedisDriverError::Down);
        }
        match tokio::time::timeout(self.link.options.operation_timeout, op).await {
            Ok(Ok(value)) => Ok(value),
            // The link failed: down until the probe says otherwise.
            Ok(Err(e)) if is_link_failure(&e) => {
                self.mark_down();
                Err(e.into())
            }
            // Redis answered, with an error (a permission the ACL user lacks, a script's
            // error): the link is fine, this operation is not.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Redis refused an operation");
                Err(e.into())
            }
            Err(_) => {
                self.mark_down();
                Err(RedisDriverError::Timeout)
            }
        }
    }

    /// Runs one command (scripts included) as every driver operation runs: see [`Self::run`].
    pub(crate) async fn query<T: ::redis::FromRedisValue>(
        &self,
        cmd: &::redis::Cmd,
    ) -> Result<T, RedisDriverError> {
        let mut conn = self.conn();
        self.run(cmd.query_async::<T>(&mut conn)).await
    }

    /// Runs `cmd` on the shard that holds `key`'s slot (a Cluster) or the one server, as every
    /// driver operation runs.
    pub(crate) async fn query_on_shard_of<T: ::redis::FromRedisValue>(
        &self,
        key: &str,
        cmd: &::redis::Cmd,
    ) -> Result<T, RedisDriverError> {
        let mut conn = self.conn();
        self.run(async move { conn.query_on_shard_of(key, cmd).await })
            .await
    }

    /// Runs a pipeline whose replies are ignored, as every driver operation runs.
    pub(crate) async fn query_pipeline(
        &self,
        pipe: &::redis::Pipeline,
    ) -> Result<(), RedisDriverError> {
        let mut conn = self.conn();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    fn mark_down(&self) {
        if self.link.inbox.up.swap(false, Ordering::AcqRel) {
            tracing::warn!("Redis unreachable: broadcasts stay on this server until it is back");
            self.link.inbox.outages.send_modify(|n| *n += 1);
        }
        self.probe();
    }

    /// Changes once per outage (when the link goes down).
    pub(crate) fn outages(&self) -> tokio::sync::watch::Receiver<u64> {
        self.link.inbox.outages.subscribe()
    }

    /// Subscribes to `chan`: its messages arrive on the receiver (at most `size` waiting; beyond,
    /// dropped with a warning), through every reconnection and replaced connection.
    pub(crate) async fn listen(
        &self,
        chan: String,
        size: usize,
    ) -> Result<mpsc::Receiver<ChanItem>, RedisDriverError> {
        let (tx, rx) = mpsc::channel(size);
        self.link
            .inbox
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(chan.clone())
            .or_default()
            .push(tx);
        let mut conn = self.conn();
        self.run(async move { conn.subscribe(&[chan]).await })
            .await?;
        Ok(rx)
    }

    /// Starts the probe unless one runs: PING until Redis answers (replacing a connection that
    /// stays broken), subscribe to every channel again, then mark the link up.
    fn probe(&self) {
        if self.link.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let link = Arc::downgrade(&self.link);
        let probe_interval = self.link.options.probe_interval;
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut rebuilt_at = started;
            loop {
                // Sleep before taking the driver: a dropped driver ends the probe.
                tokio::time::sleep(probe_interval).await;
                let Some(link) = link.upgrade() else { return };
                let driver = RedisDriver { link };
                let mut conn = driver.conn();
                let ping = tokio::time::timeout(driver.link.options.operation_timeout, async {
                    ::redis::cmd("PING").query_async::<()>(&mut conn).await
                })
                .await;
                let answered = matches!(ping, Ok(Ok(())));
                // Behind Sentinel the server must still be the master: a demoted one answers
                // PING and SUBSCRIBE too, and would keep this instance apart from the others.
                let master = !answered || driver.is_master().await;
                if !master {
                    tracing::warn!(
                        "the Redis server is no longer the master: asking the Sentinels"
                    );
                    driver.rebuild().await;
                    rebuilt_at = tokio::time::Instant::now();
                    continue;
                }
                if answered && driver.resubscribe().await {
                    driver.link.inbox.up.store(true, Ordering::Release);
                    driver.link.probing.store(false, Ordering::Release);
                    tracing::info!(
                        down_ms = started.elapsed().as_millis() as u64,
                        "Redis reachable again: broadcasts cross servers again"
                    );
                    return;
                }
                // Behind Sentinel, a failover names another master: ask again sooner.
                let rebuild_after = if driver.link.source.follows_failovers() {
                    driver
                        .link
                        .options
                        .rebuild_after
                        .min(Duration::from_secs(1))
                } else {
                    driver.link.options.rebuild_after
                };
                if rebuilt_at.elapsed() >= rebuild_after {
                    driver.rebuild().await;
                    rebuilt_at = tokio::time::Instant::now();
                }
            }
        });
    }

    /// Whether the connection's server is the master (always, without Sentinel).
    async fn is_master(&self) -> bool {
        if !self.link.source.may_be_demoted() {
            return true;
        }
        let mut conn = self.conn();
        let role = tokio::time::timeout(self.link.options.operation_timeout, async {
            ::redis::cmd("ROLE")
                .query_async::<Vec<::redis::Value>>(&mut conn)
                .await
        })
        .await;
        match role {
            Ok(Ok(role)) => role
                .into_iter()
                .next()
                .and_then(|first| String::from_redis_value(first).ok())
                .is_some_and(|first| first == "master"),
            _ => false,
        }
    }

    /// Subscribes the current connection to every channel (again: Redis ignores a repeated
    /// subscription). A reconnection resubscribes by itself, a replaced connection does not.
    async fn resubscribe(&self) -> bool {
        let channels: Vec<String> = self
            .link
            .inbox
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        if channels.is_empty() {
            return true;
        }
        let mut conn = self.conn();
        let subscribed = tokio::time::timeout(
            self.link.options.operation_timeout,
            conn.subscribe(&channels),
        )
        .await;
        matches!(subscribed, Ok(Ok(())))
    }

    /// Replaces the connection with a new one (it connects, and is subscribed, once Redis
    /// answers the probe); with Sentinel, to the master they name now.
    async fn rebuild(&self) {
        let generation = self.link.inbox.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let on_push = pushes_to(&self.link.inbox, generation);
        let connecting = self.link.source.connect(&self.link.options, on_push, false);
        let fresh = match tokio::time::timeout(self.link.options.operation_timeout, connecting)
            .await
        {
            Ok(Ok(fresh)) => fresh,
            Ok(Err(e)) => {
                return tracing::warn!(error = %e, "could not make a new Redis connection")
            }
            Err(_) => return tracing::warn!("could not make a new Redis connection: timed out"),
        };
        *self.link.conn.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        tracing::debug!(generation, "Redis connection replaced");
    }

    /// Whether the driver talks to a Redis Cluster: stores then keep their keys under one hash
    /// tag, and publish with `SPUBLISH`.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link.source, Source::Cluster(_))
    }
}

/// Whether an error says the connection failed, rather than Redis answering with an error
/// reply (which has a code: `NOPERM`, `ERR`, ...). Anything else counts as a failed link, so
/// that operations fail fast while it is down; so do the replies of a server that is not (or
/// no longer) a master: after a failover the connection must go to the new one.
fn is_link_failure(e: &RedisError) -> bool {
    matches!(e.code(), None | Some("READONLY" | "MASTERDOWN"))
}

/// Delivers a connection's pushes to the handlers while `generation` is the current one: the
/// pushes of a replaced connection are ignored.
fn pushes_to(inbox: &Arc<Inbox>, generation: u64) -> PushHandler {
    let inbox = inbox.clone();
    Arc::new(move |push: PushInfo| {
        if inbox.generation.load(Ordering::Acquire) == generation {
            dispatch(push, &inbox);
        }
    })
}

fn dispatch(push: PushInfo, link: &Inbox) {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            let mut data = push.data.into_iter();
            let (Some(chan), Some(msg)) = (data.next(), data.next()) else {
                return;
            };
            let (Ok(chan), Ok(msg)) = (
                String::from_redis_value(chan),
                Vec::<u8>::from_redis_value(msg),
            ) else {
                return;
            };
            let handlers = link.handlers.read().unwrap_or_else(|e| e.into_inner());
            for tx in handlers.get(&chan).into_iter().flatten() {
                if let Err(e) = tx.try_send((chan.clone(), msg.clone())) {
                    tracing::warn!(error = %e, "Redis adapter channel full: message dropped");
                }
            }
        }
        PushKind::Disconnection => {
            if let Some(link) = link.link.get().and_then(Weak::upgrade) {
                RedisDriver { link }.mark_down();
            }
        }
        _ => {}
    }
}

impl Driver for RedisDriver {
    type Error = RedisDriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let mut publish = ::redis::cmd(publish_command(self.is_cluster()));
        publish.arg(chan).arg(val);
        self.query::<::redis::Value>(&publish).await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        Ok(MessageStream::new(self.listen(chan, size).await?))
    }

    /// Ends one subscription to `chan`: the one whose stream was dropped, or else the oldest
    /// (an adapter closing while its namespace's successor already subscribed). Redis is told
    /// only when no subscriber is left.
    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        {
            let mut handlers = self
                .link
                .inbox
                .handlers
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let Some(subscribers) = handlers.get_mut(&chan) else {
                return Ok(());
            };
            let before = subscribers.len();
            subscribers.retain(|tx| !tx.is_closed());
            if subscribers.len() == before && !subscribers.is_empty() {
                subscribers.remove(0);
            }
            if !subscribers.is_empty() {
                return Ok(());
            }
            handlers.remove(&chan);
        }
        let mut conn = self.conn();
        self.run(async move { conn.unsubscribe(&chan).await }).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut numsub = ::redis::cmd("PUBSUB");
        numsub
            .arg(if self.is_cluster() {
                "SHARDNUMSUB"
            } else {
                "NUMSUB"
            })
            .arg(chan);
        let reply = self.query::<::redis::Value>(&numsub).await?;
        subscriber_count(reply).ok_or_else(|| {
            RedisError::from((
                ::redis::ErrorKind::UnexpectedReturnType,
                "PUBSUB NUMSUB: no subscriber count in the reply",
            ))
            .into()
        })
    }
}
