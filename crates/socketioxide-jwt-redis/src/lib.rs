//! Redis for [socketioxide-jwt](socketioxide_jwt): several processes behind one Redis (a
//! server, a Sentinel-watched master, or a Cluster), from one [`RedisDriver`]:
//!
//! - [`RedisDriver::adapter`]: the socketioxide-redis adapter's driver ([`JwtRedisAdapter`]),
//!   which reconnects and resubscribes by itself, however long an outage or whatever a Cluster
//!   reshard does, and never holds local delivery up while Redis is down;
//! - [`RedisDriver::revocation_list`]: a [`RevocationList`](socketioxide_jwt::RevocationList)
//!   shared by every process: stored in Redis, every message carried by a control log (a Redis
//!   Stream) that each process reads from where it was, so that no outage, reshard, failover or
//!   burst loses a revocation (a process that may have missed one reloads the whole set);
//! - [`RedisDriver::user_sockets`]: the per-user socket cap counted across processes.
//!
//! # Example
//! ```no_run
//! # use socketioxide_jwt::keys::Keys;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use socketioxide::SocketIo;
//! use socketioxide_jwt::JwtAuth;
//! use socketioxide_jwt_redis::{
//!     JwtRedisAdapter, RedisConnection, RedisDriver, RedisDriverOptions, RedisRevocationOptions,
//!     RedisUserSocketsOptions,
//! };
//!
//! let redis = RedisConnection::new("redis://127.0.0.1:6379/");
//! let driver = RedisDriver::connect(&redis, RedisDriverOptions::default()).await?;
//! let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
//!     .revocations(driver.revocation_list(RedisRevocationOptions::default()).await?)
//!     .max_sockets_per_user(5, driver.user_sockets(RedisUserSocketsOptions::default()))
//!     .build()?;
//! let (layer, io) = SocketIo::builder()
//!     .with_adapter::<JwtRedisAdapter>(driver.adapter())
//!     .build_layer();
//! # let _ = (auth, layer, io); Ok(()) }
//! ```

mod driver;
mod revocations;
mod user_sockets;

pub use driver::{
    JwtRedisAdapter, RedisConnection, RedisConnectionError, RedisDriver, RedisDriverError,
    RedisDriverOptions,
};
pub use revocations::RedisRevocationOptions;
pub use user_sockets::RedisUserSocketsOptions;
