//! chat-demo: log in over REST, get a JWT, and the same token authenticates the Socket.IO chat.
//!
//! Run it from the repository root with `./scripts/demo.sh` (installs and builds the JS client
//! the page uses, then `cargo run -p chat-demo`), and open the URL it prints.
//! `cargo run -p chat-demo -- --help` lists the flags.

mod admin;
mod assets;
mod chat;
mod cli;
mod configure;
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
mod signals;
mod socketio;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use socketioxide_jwt::layer::OriginLayer;

use crate::assets::ClientScripts;
use crate::cli::Args;
use crate::identity::AccountPolicy;
use crate::tokens::TokenIssuer;
use crate::users::DEMO_ACCOUNTS;

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
    let (users, admin_password_set) = configure::users(&mut args).await?;
    configure::check_audience(&args)?;
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
    let cookie = configure::token_cookie(&args, listener.local_addr()?)?;
    let proxies = configure::trusted_proxies(&args)?;
    let source = keys::key_source(&args, verifier, providers)?;
    let builder = configure::auth_builder(&args, source, &cookie, &proxies, &accounts)?;
    let lifetime = configure::revocation_lifetime(&args);
    let (add_socketio, revocations, auth) = socketio::wire(&args, builder, lifetime).await?;

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
        token_cookie: cookie.map(|(cookie, _)| Arc::new(cookie)),
        room_token_ttl: Duration::from_secs(args.room_token_ttl_secs),
        identity_claim: args.identity_claim.as_str().into(),
    };
    let scripts = ClientScripts::choose(args.client_dir.clone());
    if let Some(problem) = scripts.problem() {
        tracing::warn!("the page cannot work: {problem}");
    }
    let auth = state.auth.clone();
    let mut router =
        signals::add_receiver(&args, &auth, http::router(state, &scripts, proxies)).await?;
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
