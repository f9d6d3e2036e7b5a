//! The Socket.IO side: one process (in-memory revocations, the local adapter) or several (both
//! through Redis), with the chat's handlers registered.

use std::time::Duration;

use socketioxide::{ParserConfig, SocketIo};
use socketioxide_jwt::{JwtAuth, JwtAuthBuilder, JwtLocalAdapter, RevocationList};
use socketioxide_jwt_redis::{
    JwtRedisAdapter, RedisConnection, RedisDriver, RedisRevocationOptions,
};

use crate::cli::{self, Args};
use crate::{chat, BoxError};

/// Adds the Socket.IO layer to the app.
pub type AddSocketIo = Box<dyn FnOnce(axum::Router) -> axum::Router>;

/// The Socket.IO layer, the revocation list and the `JwtAuth` built with it.
pub async fn wire(
    args: &Args,
    builder: JwtAuthBuilder,
    revocation_lifetime: Duration,
) -> Result<(AddSocketIo, RevocationList, JwtAuth), BoxError> {
    let io_builder = SocketIo::builder()
        .ping_interval(Duration::from_millis(args.ping_interval_ms))
        .max_payload(args.max_message_bytes as u64)
        .ws_max_message_size(args.max_message_bytes)
        .ws_max_frame_size(args.max_message_bytes)
        .req_path(args.path.clone());
    let io_builder = match args.parser {
        cli::PacketFormat::Json => io_builder,
        cli::PacketFormat::Msgpack => io_builder.with_parser(ParserConfig::msgpack()),
    };
    let finds_nodes = !args.redis_sentinel.is_empty() || !args.redis_cluster.is_empty();
    let redis_url = match (&args.redis, finds_nodes) {
        (None, true) => Some("redis://127.0.0.1/".to_owned()),
        (url, _) => url.clone(),
    };
    let Some(url) = redis_url else {
        let revocations = RevocationList::with_lifetime(revocation_lifetime);
        let auth = builder.revocations(revocations.clone()).build()?;
        let (layer, io) = io_builder.with_adapter::<JwtLocalAdapter>(()).build_layer();
        chat::register(&io, &auth, args.allow_guests);
        return Ok((Box::new(move |app| app.layer(layer)), revocations, auth));
    };
    let redis = redis_connection(&url, args)?;
    let options = RedisRevocationOptions::default().max_token_lifetime(revocation_lifetime);
    let driver = RedisDriver::connect(&redis, Default::default())
        .await
        .map_err(|e| redis.explain(&e))?;
    let mut builder = builder;
    if let Some(max) = args.max_sockets_per_user {
        // Counted across the instances, replacing this process's count.
        builder = builder.max_sockets_per_user(max, driver.user_sockets(Default::default()));
    }
    let revocations = driver
        .revocation_list(options)
        .await
        .map_err(|e| redis.explain(&e))?;
    let auth = builder.revocations(revocations.clone()).build()?;
    let (layer, io) = io_builder
        .with_adapter::<JwtRedisAdapter>(driver.adapter())
        .build_layer();
    chat::register(&io, &auth, args.allow_guests).await?;
    tracing::info!(redis = %redis, "sharing broadcasts and revocations through Redis");
    Ok((Box::new(move |app| app.layer(layer)), revocations, auth))
}

/// `--redis` with its TLS files.
fn redis_connection(
    url: &str,
    args: &Args,
) -> Result<RedisConnection, socketioxide_jwt_redis::RedisConnectionError> {
    let mut redis = RedisConnection::new(url);
    if let Some(master) = &args.redis_sentinel_master {
        redis = redis.sentinel(master, args.redis_sentinel.iter().cloned());
    }
    if !args.redis_cluster.is_empty() {
        redis = redis.cluster(args.redis_cluster.iter().cloned());
    }
    if let Some(ca) = &args.redis_ca {
        redis = redis.ca_file(ca)?;
    }
    if let (Some(cert), Some(key)) = (&args.redis_cert, &args.redis_key) {
        redis = redis.client_cert_files(cert, key)?;
    }
    Ok(redis)
}
