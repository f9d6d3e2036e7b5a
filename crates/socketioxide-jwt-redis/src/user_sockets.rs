//! The Redis count of [`UserSockets`] ([`RedisDriver::user_sockets`]): one sorted set per user, one member per authenticated
//! socket of the cluster (`<process>:<place>`), scored by the end of its lease on Redis' own clock.
//!
//! - Taking a place is one Lua script: drop the expired leases, count, add if under the cap.
//!   Atomic, so two processes never both take the last place.
//! - Giving one back (`ZREM`) is queued to a background task; the same task renews this
//!   process's leases every third of [`RedisUserSocketsOptions::lease`]. A process that dies
//!   stops renewing: its places free themselves within one lease.
//! - Every operation goes through the adapter's [`RedisDriver`]: bounded, failing at once while
//!   Redis is known to be down, recovering with it.
//! - While Redis is unreachable, places are counted in this process only (each process lets a
//!   user hold up to the cap), and the leases are written back once Redis answers again: a
//!   user may then be over the cap until some of their sockets close. Nobody is disconnected
//!   to enforce it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use socketioxide_jwt::limits::{PlaceStore, UserSockets};
use socketioxide_jwt::BoxFuture;

use crate::driver::{hash_tagged, RedisDriver};

/// Options of [`RedisDriver::user_sockets`]: start from [`RedisUserSocketsOptions::default`].
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt_redis::RedisUserSocketsOptions;
/// let options = RedisUserSocketsOptions::default().lease(Duration::from_secs(30));
/// assert_eq!(options.lease, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisUserSocketsOptions {
    /// Prefix of the per-user keys. Defaults to `socketioxide-jwt:user-sockets:`.
    pub key_prefix: String,
    /// How long a place outlives the last renewal of its process (renewed every third of it):
    /// the places of a process that died free themselves after at most this long. Defaults to
    /// 60 s.
    pub lease: Duration,
}

impl Default for RedisUserSocketsOptions {
    fn default() -> Self {
        Self {
            key_prefix: "socketioxide-jwt:user-sockets:".into(),
            lease: Duration::from_secs(60),
        }
    }
}

impl RedisUserSocketsOptions {
    /// Sets [`RedisUserSocketsOptions::key_prefix`]: the prefix of the per-user keys.
    #[must_use]
    pub fn key_prefix(mut self, key_prefix: impl Into<String>) -> Self {
        self.key_prefix = key_prefix.into();
        self
    }

    /// Sets [`RedisUserSocketsOptions::lease`]: how long a place outlives its process.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
}

/// `KEYS[1]` the user's set; `ARGV` max, member, lease (ms). 1 if the place was taken.
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// `KEYS[1]` the user's set; `ARGV` lease (ms), then the members to renew (added if missing).
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
";

/// Releases that failed (Redis down) are retried at the next renewal, up to this many.
const MAX_RETRIED_RELEASES: usize = 100_000;

struct RedisPlaces {
    /// Bounded operations that fail at once while Redis is known to be down.
    driver: RedisDriver,
    options: RedisUserSocketsOptions,
    /// This process's name in the members.
    process: String,
    next_id: AtomicU64,
    /// The places this process holds, per user: what it renews and counts alone during an
    /// outage.
    held: Mutex<HashMap<Box<str>, Vec<u64>>>,
    releases: mpsc::UnboundedSender<(Box<str>, u64)>,
}

impl RedisDriver {
    /// Counts the sockets of every process on this Redis (the adapter's driver: its
    /// operations are bounded, fail at once while Redis is down, and recover with it): a user
    /// holds at most the cap across the cluster. During an outage the cap is applied per
    /// process (the leases are written back when Redis answers again), and no socket is
    /// refused for Redis being down.
    /// Call it inside a Tokio runtime (it starts the task that renews and gives back places).
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt_redis::{RedisConnection, RedisDriver, RedisUserSocketsOptions};
    /// let driver = RedisDriver::new(RedisConnection::new("redis://127.0.0.1/").client()?).await?;
    /// use socketioxide_jwt::{keys::Keys, JwtAuth};
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .max_sockets_per_user(3, driver.user_sockets(RedisUserSocketsOptions::default()))
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn user_sockets(&self, mut options: RedisUserSocketsOptions) -> UserSockets {
        let driver = self;
        if driver.is_cluster() {
            // One hash slot for every user's key: the release pipeline spans users.
            options.key_prefix = hash_tagged(&options.key_prefix);
        }
        let (releases, rx) = mpsc::unbounded_channel();
        let lease = options.lease;
        let places = Arc::new(RedisPlaces {
            driver: driver.clone(),
            options,
            process: process_name(),
            next_id: AtomicU64::new(1),
            held: Mutex::default(),
            releases,
        });
        tokio::spawn(maintain(Arc::downgrade(&places), rx, lease / 3));
        UserSockets::with_store(places)
    }
}

/// A name no other process shares: the pid and the start time in nanoseconds.
fn process_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}-{nanos:x}", std::process::id())
}

impl RedisPlaces {
    fn key(&self, sub: &str) -> String {
        format!("{}{sub}", self.options.key_prefix)
    }

    fn member(&self, id: u64) -> String {
        format!("{}:{id}", self.process)
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.options.lease.as_millis()).unwrap_or(u64::MAX)
    }

    fn hold(&self, sub: &str, id: u64) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.entry(sub.into()).or_default().push(id);
    }
}

impl PlaceStore for RedisPlaces {
    fn acquire<'a>(&'a self, sub: &'a str, max: usize) -> BoxFuture<'a, Option<u64>> {
        Box::pin(async move {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let mut cmd = ::redis::cmd("EVAL");
            cmd.arg(ACQUIRE)
                .arg(1)
                .arg(self.key(sub))
                .arg(max)
                .arg(self.member(id))
                .arg(self.lease_ms());
            match self.driver.query::<i64>(&cmd).await {
                Ok(1) => {
                    self.hold(sub, id);
                    Some(id)
                }
                Ok(_) => None,
                Err(_) => {
                    // Redis is unreachable: this process's own count decides.
                    if self.local_count(sub) >= max {
                        return None;
                    }
                    tracing::warn!(
                        "user socket cap counted in this process only: Redis is unreachable"
                    );
                    self.hold(sub, id);
                    Some(id)
                }
            }
        })
    }

    fn release(&self, sub: &str, id: u64) {
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(ids) = held.get_mut(sub) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    held.remove(sub);
                }
            }
        }
        let _ = self.releases.send((sub.into(), id));
    }

    fn local_count(&self, sub: &str) -> usize {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(sub).map_or(0, Vec::len)
    }
}

/// Gives places back as they are released, and renews this process's leases every `every`.
/// Ends when the store is dropped.
async fn maintain(
    places: Weak<RedisPlaces>,
    mut releases: mpsc::UnboundedReceiver<(Box<str>, u64)>,
    every: Duration,
) {
    let mut retry: Vec<(Box<str>, u64)> = Vec::new();
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut batch = Vec::new();
        let renew = tokio::select! {
            released = releases.recv() => match released {
                Some(first) => {
                    batch.push(first);
                    while let Ok(more) = releases.try_recv() {
                        batch.push(more);
                    }
                    false
                }
                None => return,
            },
            _ = tick.tick() => true,
        };
        let Some(places) = places.upgrade() else {
            return;
        };
        if renew {
            batch.append(&mut retry);
        }
        if !batch.is_empty() && !give_back(&places, &batch).await {
            retry.extend(batch);
            let over = retry.len().saturating_sub(MAX_RETRIED_RELEASES);
            retry.drain(..over);
        }
        if renew {
            renew_leases(&places).await;
        }
    }
}

/// `ZREM`s the released places; `false` if Redis did not answer.
async fn give_back(places: &RedisPlaces, released: &[(Box<str>, u64)]) -> bool {
    let mut by_user: HashMap<&str, Vec<String>> = HashMap::new();
    for (sub, id) in released {
        by_user.entry(sub).or_default().push(places.member(*id));
    }
    let mut pipe = ::redis::pipe();
    for (sub, members) in by_user {
        pipe.cmd("ZREM").arg(places.key(sub)).arg(members).ignore();
    }
    places.driver.query_pipeline(&pipe).await.is_ok()
}

/// Extends (or writes back, after an outage) the lease of every place this process holds.
async fn renew_leases(places: &RedisPlaces) {
    let held: Vec<(String, Vec<String>)> = {
        let held = places.held.lock().unwrap_or_else(|e| e.into_inner());
        held.iter()
            .map(|(sub, ids)| {
                let members = ids.iter().map(|id| places.member(*id)).collect();
                (places.key(sub), members)
            })
            .collect()
    };
    for chunk in held.chunks(1000) {
        let mut pipe = ::redis::pipe();
        for (key, members) in chunk {
            pipe.cmd("EVAL")
                .arg(RENEW)
                .arg(1)
                .arg(key)
                .arg(places.lease_ms())
                .arg(members)
                .ignore();
        }
        if places.driver.query_pipeline(&pipe).await.is_err() {
            // Retried at the next tick; the driver probes Redis and recovers the connection.
            return;
        }
    }
}
