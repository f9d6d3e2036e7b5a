//! chat-demo: log in over REST, get a JWT, and the same token authenticates the Socket.IO chat.
//!
//! Run it from the repository root with `./scripts/demo.sh` (installs and builds the JS client
//! the page uses, then `cargo run -p chat-demo`), and open the URL it prints.
//! `cargo run -p chat-demo -- --help` lists the flags.

mod assets;
mod chat;
mod cli;
mod cookie;
mod hashing;
mod http;
mod identity;
mod keys;
mod logging;
mod prometheus;
mod proxies;
mod room_tokens;
mod rooms;
mod secret;
mod serve;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use socketioxide::{ParserConfig, SocketIo};
use socketioxide_jwt::credentials::CredentialSource;
use socketioxide_jwt::layer::OriginLayer;
use socketioxide_jwt::{AuthMode, JwtAuth};

use crate::assets::ClientScripts;
use crate::cli::{Args, Mode};
use crate::cookie::TokenCookie;
use crate::identity::AccountPolicy;
use crate::tokens::TokenIssuer;
use crate::users::{UserStore, DEMO_ACCOUNTS};
use socketioxide_jwt::limits::{ForwardingHeader, TrustedProxies, UserSockets};
use socketioxide_jwt::{JwtLocalAdapter, RevocationList, StandardClaims};
use socketioxide_jwt_redis::RedisRevocationOptions;
use socketioxide_jwt_redis::{JwtRedisAdapter, RedisConnection, RedisDriver};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(logging::filter(std::env::var("RUST_LOG").ok().as_deref()))
        .init();
    if let Err(e) = run(Args::parse()).await {
        eprintln!("chat-demo: {e}");
        let mut source = e.source();
        while let Some(s) = source {
            eprintln!("  caused by: {s}");
            source = s.source();
        }
        std::process::exit(1);
    }
}

async fn run(mut args: Args) -> Result<(), BoxError> {
    args.read_secret_files()?;
    // First: the library counts from its first key fetch on.
    let prometheus = args
        .metrics
        .then(prometheus::install_recorder)
        .transpose()?;
    std::fs::create_dir_all(&args.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            args.data_dir.display()
        )
    })?;
    let users = UserStore::open(&args.data_dir)?;
    let admin_password_set = args.admin_password.is_some();
    if let Some(password) = args.admin_password.take() {
        let chars = password.chars().count();
        if !(8..=256).contains(&chars) {
            return Err(format!(
                "the admin password has {chars} characters: give 8 to 256 (logins take up to 256)"
            )
            .into());
        }
        users
            .set_password("admin".into(), password, "admin")
            .await?;
        tracing::info!("the admin account's password was set from the configuration");
    }

    if (args.jwks.is_some() || !args.oidc_issuer.is_empty())
        && args.audience.is_none()
        && !args.any_audience
    {
        return Err(
            "--jwks and --oidc-issuer need --audience <the `aud` your identity provider \
             puts in this app's tokens> (or --any-audience to accept tokens it issued for any \
             of its clients)"
                .into(),
        );
    }
    let (verifier, issuer) = keys::keys(&args).await?;
    let providers = keys::providers(&args).await?;
    let accounts = AccountPolicy::new(
        users.clone(),
        issuer.as_ref().map(TokenIssuer::name),
        args.require_account,
    );
    // Bound first: the token cookie's default origin is this address.
    let listener = serve::listen(std::net::SocketAddr::new(args.host, args.port))
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let token_cookie = match &args.token_cookie {
        Some(_) if args.mode != Mode::Handshake => {
            return Err(
                "--token-cookie needs --mode handshake: a cookie travels with the \
                        handshake, not with the authenticate event"
                    .into(),
            )
        }
        Some(name) => {
            let origins = cookie::origins(&args.allowed_origins, listener.local_addr()?);
            Some((TokenCookie::new(name, &origins)?, origins))
        }
        None => None,
    };
    let mut builder = JwtAuth::builder(keys::key_source(&args, verifier, providers)?);
    builder = builder
        .mode(match args.mode {
            Mode::Message => AuthMode::Message,
            Mode::Handshake => AuthMode::Handshake,
        })
        .timeout(Duration::from_millis(args.auth_timeout_ms))
        .identity_claim(args.identity_claim.clone())
        .leeway(Duration::from_secs(args.leeway_secs))
        // Presence is read from the per-user rooms.
        .user_rooms();
    if let Some((cookie, origins)) = &token_cookie {
        builder = builder.token_cookie(cookie.name()).cookie_origins(origins);
    }
    if !args.credential_sources.is_empty() {
        let mut sources = Vec::with_capacity(args.credential_sources.len());
        for source in &args.credential_sources {
            sources.push(match source {
                cli::SourceArg::Auth => CredentialSource::AuthPayload,
                cli::SourceArg::Header => CredentialSource::AuthorizationHeader,
                cli::SourceArg::Cookie => match &token_cookie {
                    Some((cookie, _)) => CredentialSource::Cookie(cookie.name().to_owned()),
                    None => {
                        return Err("--credential-source cookie needs --token-cookie NAME".into())
                    }
                },
            });
        }
        builder = builder.credential_sources(sources);
    }
    if let Some(max) = args.max_pending {
        builder = builder.max_pending(max);
    }
    if let Some(max) = args.max_pending_per_address {
        builder = builder.max_pending_per_address(max);
    }
    // Behind --trusted-proxy, the client is who the proxy says: for the pending places shared
    // per address, the logs, and the REST limits below.
    let header = match args.forwarded_header {
        cli::ForwardingHeaderArg::XForwardedFor => ForwardingHeader::XForwardedFor,
        cli::ForwardingHeaderArg::Forwarded => ForwardingHeader::Forwarded,
    };
    let proxies = std::sync::Arc::new(
        TrustedProxies::new(&args.trusted_proxies)
            .map_err(|e| format!("--trusted-proxy: {e}"))?
            .header(header),
    );
    if !args.trusted_proxies.is_empty() {
        let proxies = proxies.clone();
        builder = builder.client_ip(move |parts| proxies.client_ip_of(parts));
    }
    builder = builder
        .expiry_warning(
            (args.expiry_warning_secs > 0).then(|| Duration::from_secs(args.expiry_warning_secs)),
        )
        .rooms_from_claims(|claims: &StandardClaims| {
            rooms::in_claims(claims)
                .map(rooms::socket_room)
                .collect::<Vec<_>>()
        });
    if let Some(max) = args.max_sockets_per_user {
        builder = builder.max_sockets_per_user(max, UserSockets::in_memory());
    }
    if args.max_session_age_secs > 0 {
        builder = builder.max_session_age(Duration::from_secs(args.max_session_age_secs));
    }
    if accounts.checks_anything() {
        let accounts = accounts.clone();
        builder = builder.check(move |claims| {
            let accounts = accounts.clone();
            async move { accounts.check(&claims).await }
        });
    }
    let token_ttl = Duration::from_secs(args.token_ttl_secs);
    // User and session revocations last as long as a token they cover could still be accepted:
    // the demo's own tokens live `token_ttl`, a provider's may live a day (Auth0's access tokens).
    let issued_elsewhere =
        args.public_key.is_some() || args.jwks.is_some() || !args.oidc_issuer.is_empty();
    let revocation_lifetime = if issued_elsewhere {
        token_ttl.max(Duration::from_secs(24 * 3600))
    } else {
        token_ttl
    };

    // One process (in-memory revocations, local adapter) or several (both through Redis).
    let io_builder = SocketIo::builder()
        .ping_interval(Duration::from_millis(args.ping_interval_ms))
        .max_payload(args.max_message_bytes as u64)
        .ws_max_message_size(args.max_message_bytes)
        .ws_max_frame_size(args.max_message_bytes)
        .req_path(args.path.clone())
        // 1 KiB instead of 4: ~3 KiB less per held socket, no throughput loss measured.
        .ws_read_buffer_size(1024);
    let io_builder = match args.parser {
        cli::PacketFormat::Json => io_builder,
        cli::PacketFormat::Msgpack => io_builder.with_parser(ParserConfig::msgpack()),
    };
    type AddSocketIo = Box<dyn FnOnce(axum::Router) -> axum::Router>;
    let finds_nodes = !args.redis_sentinel.is_empty() || !args.redis_cluster.is_empty();
    let redis_url = match (&args.redis, finds_nodes) {
        (None, true) => Some("redis://127.0.0.1/".to_owned()),
        (url, _) => url.clone(),
    };
    let (add_socketio, revocations, auth): (AddSocketIo, _, _) = match &redis_url {
        None => {
            let revocations = RevocationList::with_lifetime(revocation_lifetime);
            let auth = builder.revocations(revocations.clone()).build()?;
            let (layer, io) = io_builder.with_adapter::<JwtLocalAdapter>(()).build_layer();
            chat::register(&io, &auth, args.allow_guests);
            (Box::new(move |app| app.layer(layer)), revocations, auth)
        }
        Some(url) => {
            let redis = redis_connection(url, &args)?;
            let options = RedisRevocationOptions::default().max_token_lifetime(revocation_lifetime);
            let driver = RedisDriver::connect(&redis, Default::default())
                .await
                .map_err(|e| redis.explain(&e))?;
            if let Some(max) = args.max_sockets_per_user {
                // Counted across the instances, replacing this process's count.
                builder =
                    builder.max_sockets_per_user(max, driver.user_sockets(Default::default()));
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
            (Box::new(move |app| app.layer(layer)), revocations, auth)
        }
    };

    let state = http::AppState {
        users,
        accounts,
        issuer: issuer.map(Arc::new),
        auth,
        revocations,
        leeway: Duration::from_secs(args.leeway_secs),
        admin_issuers: args.admin_issuers.clone().into(),
        mode: args.mode,
        auth_timeout_ms: args.auth_timeout_ms,
        socket_path: args.path.clone(),
        token_cookie: token_cookie.map(|(cookie, _)| Arc::new(cookie)),
        room_token_ttl: Duration::from_secs(args.room_token_ttl_secs),
        identity_claim: args.identity_claim.as_str().into(),
    };
    let scripts = ClientScripts::choose(args.client_dir.clone());
    if let Some(problem) = scripts.problem() {
        tracing::warn!("the page cannot work: {problem}");
    }
    let mut router = http::router(state, &scripts, proxies);
    if let Some(prometheus) = prometheus {
        router = prometheus::with_metrics_route(router, prometheus);
    }
    let mut app = add_socketio(router);
    if !args.allowed_origins.is_empty() {
        app = app.layer(OriginLayer::new(&args.allowed_origins).path_prefix(&args.path));
    }

    print_banner(&args, listener.local_addr()?, &scripts, admin_password_set);
    serve::serve(listener, app, &args.path).await?;
    Ok(())
}

fn print_banner(
    args: &Args,
    addr: std::net::SocketAddr,
    scripts: &ClientScripts,
    admin_password_set: bool,
) {
    // Tests read this line to find the port.
    println!("chat-demo listening on http://{addr}");
    println!(
        "  mode: {}   token lifetime: {} s",
        args.mode.as_str(),
        args.token_ttl_secs
    );
    if args.metrics {
        println!("  metrics: http://{addr}/metrics");
    }
    if args.public_key.is_none() {
        println!("  demo accounts (username / password):");
        for (user, password, role) in DEMO_ACCOUNTS {
            let password = match *user {
                "admin" if admin_password_set => "(yours)",
                _ => password,
            };
            println!("    {user:<6} / {password:<15} ({role})");
        }
    }
    match scripts.problem() {
        None => println!("  open http://{addr}/ in a browser"),
        Some(problem) => println!("  THE PAGE CANNOT WORK: {problem}"),
    }
}

/// `--redis` with its TLS files.
fn redis_connection(
    url: &str,
    args: &cli::Args,
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
