//! The connection to Redis every part of this crate shares: a socketioxide-redis driver that
//! survives Redis outages of any length, and the adapter type that goes with it.
//!
//! See [`RedisDriver`].

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use ::redis::RedisError;
use socketioxide::adapter::Emitter;
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::sync::mpsc;

use socketioxide_jwt::adapter::JwtAdapter;

mod clients;
mod conn;
mod connection;
mod inbox;
mod options;
mod upkeep;
pub(crate) use self::conn::{hash_tagged, publish_command};
use self::conn::{subscriber_count, Conn, Source};
pub use self::connection::{RedisConnection, RedisConnectionError};
use self::inbox::Inbox;
pub use self::options::{RedisDriverError, RedisDriverOptions};
use self::upkeep::is_link_failure;

/// [`JwtAdapter`] over socketioxide-redis with a [`RedisDriver`]: the adapter of a cluster.
pub type JwtRedisAdapter = JwtAdapter<CustomRedisAdapter<Emitter, RedisDriver>>;

struct Link {
    source: Source,
    options: RedisDriverOptions,
    /// The current connection; replaced when it stays broken.
    conn: RwLock<Conn>,
    inbox: Arc<Inbox>,
    probing: AtomicBool,
    /// Held while a channel's subscribers change and Redis is told: an unsubscribe that
    /// empties a channel and a new listener of it send SUNSUBSCRIBE and SUBSCRIBE in the order
    /// of their list changes, never the reverse (which would leave the listener deaf).
    subscribing: tokio::sync::Mutex<()>,
}

/// A socketioxide-redis driver that survives Redis restarts and outages of any length. Cheap to
/// clone.
///
/// socketioxide-redis 0.4's own driver keeps one connection: once Redis restarts, its
/// subscriptions are gone and instances stop hearing each other until they restart. And every
/// broadcast waits for its remote half before delivering locally, so during an outage a message
/// did not even reach the sockets of the sending process. [`RedisDriver`]:
/// - reconnects and resubscribes by itself (redis' `ConnectionManager`), and if the connection
///   stays broken, rebuilds it and subscribes again, however long the outage;
/// - fails fast while Redis is known to be down (a background probe tells when it is back), so
///   no broadcast waits on it: with [`JwtAdapter`], which then delivers the
///   packet to this process's sockets anyway, local delivery never stops;
/// - bounds every Redis operation with a timeout.
///
/// # Example
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use socketioxide::SocketIo;
/// use socketioxide_jwt_redis::{JwtRedisAdapter, RedisConnection, RedisDriver};
///
/// let client = RedisConnection::new("redis://127.0.0.1:6379/").client()?;
/// let driver = RedisDriver::new(client).await?;
/// let (layer, io) = SocketIo::builder()
///     .with_adapter::<JwtRedisAdapter>(driver.adapter())
///     .build_layer();
/// # let _ = (layer, io); Ok(()) }
/// ```
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
        if redis.is_sentinel() && redis.is_cluster() {
            return Err(RedisConnectionError::SentinelAndCluster.into());
        }
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
        let inbox = Arc::new(Inbox::new());
        let conn = tokio::time::timeout(
            options.operation_timeout,
            source.connect(&options, inbox.pushes_to(0), true),
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
                subscribing: tokio::sync::Mutex::new(()),
            }),
        };
        let link = Arc::downgrade(&driver.link);
        driver.link.inbox.on_lost(move || {
            if let Some(link) = link.upgrade() {
                RedisDriver { link }.mark_down();
            }
        });
        let link = Arc::downgrade(&driver.link);
        driver.link.inbox.on_dropped(move |chan| {
            if let Some(link) = link.upgrade() {
                tokio::spawn(RedisDriver { link }.restore_subscription(chan));
            }
        });
        let mut conn = driver.conn();
        tokio::time::timeout(driver.link.options.operation_timeout, async move {
            ::redis::cmd("PING").query_async::<()>(&mut conn).await
        })
        .await
        .map_err(|_| RedisDriverError::Timeout)??;
        driver.heartbeat();
        Ok(driver)
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
        self.link.inbox.is_up()
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

    /// Runs one command that may take long (a bulk read): as [`Self::query`], but bounded by
    /// `timeout`, and one that runs out of time is only an error of its own, not an outage (a
    /// slow reply is not a lost link; the heartbeat judges that).
    pub(crate) async fn query_bulk<T: ::redis::FromRedisValue>(
        &self,
        cmd: &::redis::Cmd,
        timeout: std::time::Duration,
    ) -> Result<T, RedisDriverError> {
        if !self.is_connected() {
            self.probe();
            return Err(RedisDriverError::Down);
        }
        let mut conn = self.conn();
        match tokio::time::timeout(timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            // The connection's own response timeout: slow, not lost.
            Ok(Err(e)) if e.is_timeout() => Err(e.into()),
            Ok(Err(e)) if is_link_failure(&e) => {
                self.mark_down();
                Err(e.into())
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(RedisDriverError::Timeout),
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

    /// Changes once per outage (when the link goes down).
    pub(crate) fn outages(&self) -> tokio::sync::watch::Receiver<u64> {
        self.link.inbox.outages()
    }

    /// Subscribes to `chan`: its messages arrive on the receiver (at most `size` waiting; beyond,
    /// dropped with a warning), through every reconnection and replaced connection.
    pub(crate) async fn listen(
        &self,
        chan: String,
        size: usize,
    ) -> Result<mpsc::Receiver<ChanItem>, RedisDriverError> {
        let (tx, rx) = mpsc::channel(size);
        let _order = self.link.subscribing.lock().await;
        self.link.inbox.subscribe(chan.clone(), tx);
        let mut conn = self.conn();
        self.run(async move { conn.subscribe(&[chan]).await })
            .await?;
        Ok(rx)
    }

    /// Whether the driver talks to a Redis Cluster: stores then keep their keys under one hash
    /// tag, and publish with `SPUBLISH`.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link.source, Source::Cluster(_))
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
        let _order = self.link.subscribing.lock().await;
        if !self.link.inbox.unsubscribe(&chan) {
            return Ok(());
        }
        let mut conn = self.conn();
        self.run(async move { conn.unsubscribe(&chan).await }).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut numsub = ::redis::cmd("PUBSUB");
        let reply = if self.is_cluster() {
            // Asked of the channel's own shard only: every node (replicas included) would
            // answer too, and one of them down would fail the count.
            numsub.arg("SHARDNUMSUB").arg(chan);
            self.query_on_shard_of::<::redis::Value>(chan, &numsub)
                .await?
        } else {
            numsub.arg("NUMSUB").arg(chan);
            self.query::<::redis::Value>(&numsub).await?
        };
        subscriber_count(reply).ok_or_else(|| {
            RedisError::from((
                ::redis::ErrorKind::UnexpectedReturnType,
                "PUBSUB NUMSUB: no subscriber count in the reply",
            ))
            .into()
        })
    }
}
