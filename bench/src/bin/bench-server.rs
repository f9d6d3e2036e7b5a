//! A server for the storm benchmark: `--kind bare` (socketioxide, no authentication),
//! `round-trip` (no authentication, one extra client → server event as message mode has),
//! `message` or `handshake` (socketioxide-jwt). Prints `listening on http://ADDR`.

use axum::extract::Request;
use axum::serve::ListenerExt;
use axum::ServiceExt;
use clap::{Parser, ValueEnum};
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::Data;
use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;
use socketioxide_jwt::keys::Keys;
use socketioxide_jwt::layer::CompactHeadLayer;
use socketioxide_jwt::{AuthMode, JwtAuth, JwtAuthBuilder, JwtLocalAdapter, RevocationList};
use socketioxide_jwt_redis::RedisRevocationOptions;
use socketioxide_jwt_redis::{JwtRedisAdapter, RedisDriver};
use std::time::Duration;
use tower_layer::Layer;

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// socketioxide, no authentication: emits `ready` on connect.
    Bare,
    /// socketioxide, no authentication, message mode's round trip: answers an `authenticate`
    /// event with `authenticated` without verifying anything (what the extra message costs).
    RoundTrip,
    Message,
    Handshake,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    kind: Kind,
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// socketioxide's websocket read buffer per socket, bytes (its default: 4096).
    #[arg(long, env = "BENCH_WS_READ_BUFFER")]
    ws_read_buffer: Option<usize>,
    /// socketioxide's per-socket packet buffer (its default: 128).
    #[arg(long, env = "BENCH_MAX_BUFFER")]
    max_buffer: Option<usize>,
    /// socketioxide's heartbeat interval, seconds (its default: 25). `bench/scaling.py` sets a long
    /// one while counting instructions under valgrind, where connecting 19 000 sockets takes
    /// longer than one interval: the held sockets' pings would otherwise count as connection work.
    #[arg(long, env = "BENCH_PING_INTERVAL_SECS")]
    ping_interval_secs: Option<u64>,
    /// The memory settings the README recommends: `CompactHeadLayer` around the router and a
    /// 1 KiB websocket read buffer (unless `--ws-read-buffer` says otherwise).
    #[arg(long, env = "BENCH_LEAN")]
    lean: bool,
    /// Print a JSON line of server state to stderr this often (round-trip, message and handshake
    /// kinds): RSS, alive tasks, sockets, pending sockets, rooms. For the soak test.
    #[arg(long)]
    stats_every_ms: Option<u64>,
    /// Seconds before `exp` to send `token_expiring` (0: off). Default: the library's (60 s).
    #[arg(long)]
    expiry_warning_secs: Option<u64>,
    /// Message and handshake kinds, cluster runs: share broadcasts and revocations through this
    /// Redis (`redis://HOST:PORT/?protocol=resp3`). Adds a `shout` event (its payload broadcast to
    /// every socket of every instance) and `POST /revoke?first=N&count=M` (revokes the users
    /// `user<N>` … `user<N+M-1>` at once).
    #[arg(long)]
    redis: Option<String>,
    /// Message and handshake kinds: per-user rooms with this prefix (`user:`); none by default.
    #[arg(long)]
    user_room_prefix: Option<String>,
    /// Install a Prometheus recorder for the library's metrics (built with `--features metrics`).
    #[cfg(feature = "metrics")]
    #[arg(long)]
    prometheus: bool,
    /// Tokio's runtime: `multi-thread` (`#[tokio::main]`'s default; one worker per core it may
    /// use) or `current-thread` (one thread: what one instance per core runs, as Node does).
    #[arg(
        long,
        value_enum,
        env = "BENCH_RUNTIME",
        default_value = "multi-thread"
    )]
    runtime: Runtime,
}

#[derive(Clone, Copy, ValueEnum)]
enum Runtime {
    MultiThread,
    CurrentThread,
}

/// socketioxide's memory knobs, when given.
fn tuned<A: socketioxide::adapter::Adapter>(
    mut builder: socketioxide::SocketIoBuilder<A>,
    args: &Args,
) -> socketioxide::SocketIoBuilder<A> {
    if let Some(size) = args.ws_read_buffer.or(args.lean.then_some(1024)) {
        builder = builder.ws_read_buffer_size(size);
    }
    if let Some(size) = args.max_buffer {
        builder = builder.max_buffer_size(size);
    }
    if let Some(secs) = args.ping_interval_secs {
        builder = builder.ping_interval(Duration::from_secs(secs));
    }
    builder
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut runtime = match args.runtime {
        Runtime::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    runtime.enable_all().build()?.block_on(serve(args))
}

async fn serve(args: Args) -> std::io::Result<()> {
    #[cfg(feature = "metrics")]
    if args.prometheus {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("a Prometheus recorder");
    }
    let app = match args.kind {
        Kind::Bare => {
            let (layer, io) = tuned(SocketIo::builder(), &args)
                .with_adapter::<LocalAdapter>(())
                .build_layer();
            io.ns("/", async |s: SocketRef<LocalAdapter>| {
                s.emit("ready", &()).ok();
            });
            axum::Router::new().layer(layer)
        }
        Kind::RoundTrip => {
            let (layer, io) = tuned(SocketIo::builder(), &args)
                .with_adapter::<LocalAdapter>(())
                .build_layer();
            // Registered in a connect middleware, before the client hears it is connected (as
            // socketioxide-jwt does): a handler registered later can miss the first event.
            let register = async |s: SocketRef<LocalAdapter>| {
                s.on("authenticate", answer_authenticate);
                Ok::<(), std::convert::Infallible>(())
            };
            io.ns("/", (async |_: SocketRef<LocalAdapter>| {}).with(register));
            if let Some(every) = args.stats_every_ms {
                tokio::spawn(print_stats(
                    io,
                    || 0,
                    std::time::Duration::from_millis(every),
                ));
            }
            axum::Router::new().layer(layer)
        }
        Kind::Message | Kind::Handshake => {
            let mode = if matches!(args.kind, Kind::Message) {
                AuthMode::Message
            } else {
                AuthMode::Handshake
            };
            let mut builder = JwtAuth::builder(Keys::hmac(socketioxide_jwt_bench::SECRET))
                .mode(mode)
                .max_pending(100_000);
            if let Some(prefix) = &args.user_room_prefix {
                builder = builder.user_room_prefix(Some(prefix));
            }
            if let Some(secs) = args.expiry_warning_secs {
                builder = builder.expiry_warning((secs > 0).then(|| Duration::from_secs(secs)));
            }
            if let Some(url) = &args.redis {
                cluster_app(&args, builder, url).await
            } else {
                let auth = builder.build().expect("config");
                let (layer, io) = tuned(SocketIo::builder(), &args)
                    .with_adapter::<JwtLocalAdapter>(())
                    .build_layer();
                io.ns(
                    "/",
                    auth.on_authenticated(async |_: SocketRef<JwtLocalAdapter>| {}),
                );
                if let Some(every) = args.stats_every_ms {
                    let pending = move || auth.pending_sockets();
                    let every = std::time::Duration::from_millis(every);
                    tokio::spawn(print_stats(io, pending, every));
                }
                axum::Router::new().layer(layer)
            }
        }
    };
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(([127, 0, 0, 1], args.port).into())?;
    let listener = socket.listen(1024)?;
    println!("listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if args.lean {
        let app = CompactHeadLayer::new().layer(app);
        axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
    } else {
        axum::serve(listener, app).await
    }
}

/// The cluster-run server: the Redis adapter and revocation list, `shout`, `POST /revoke`.
async fn cluster_app(args: &Args, builder: JwtAuthBuilder, url: &str) -> axum::Router {
    let client = redis::Client::open(url).expect("a redis:// URL");
    let driver = RedisDriver::new(client).await.expect("Redis");
    let options = RedisRevocationOptions::default().max_token_lifetime(Duration::from_secs(7200));
    let revocations = driver.revocation_list(options).await.expect("Redis");
    let auth = builder
        .revocations(revocations.clone())
        .build()
        .expect("config");
    let (layer, io) = tuned(SocketIo::builder(), args)
        .with_adapter::<JwtRedisAdapter>(driver.adapter())
        .build_layer();
    io.ns(
        "/",
        auth.on_authenticated(async |s: SocketRef<JwtRedisAdapter>| {
            s.on(
                "shout",
                async |io: SocketIo<JwtRedisAdapter>, Data(v): Data<serde_json::Value>| {
                    if let Err(e) = io.emit("shout", &v).await {
                        eprintln!("shout: {e}");
                    }
                },
            );
        }),
    )
    .await
    .expect("the Redis adapter");
    axum::Router::new()
        .route("/revoke", axum::routing::post(revoke))
        .with_state(revocations)
        .layer(layer)
}

#[derive(serde::Deserialize)]
struct RevokeRange {
    first: usize,
    count: usize,
}

/// Revokes the users `user<first>` … at once; answers when every revocation is stored.
async fn revoke(
    axum::extract::State(list): axum::extract::State<RevocationList>,
    axum::extract::Query(range): axum::extract::Query<RevokeRange>,
) -> String {
    let started = std::time::Instant::now();
    let revocations = (range.first..range.first + range.count).map(|i| {
        let list = list.clone();
        async move { list.revoke_user(&format!("user{i}")).await }
    });
    let results = futures_util::future::join_all(revocations).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let first_error = results
        .iter()
        .find_map(|r| r.as_ref().err().map(|e| format!("{e:?}")));
    serde_json::json!({ "revoked": results.len() - failed, "failed": failed, "first_error": first_error,
                        "ms": started.elapsed().as_secs_f64() * 1000.0 })
    .to_string()
}

/// The round-trip server's `authenticate` handler: answers without verifying anything (an async
/// handler, as socketioxide 0.18 has no other kind: socketioxide spawns a task per call).
async fn answer_authenticate(s: SocketRef<LocalAdapter>) {
    s.emit("authenticated", &()).ok();
}

/// Every `every`: one JSON line on stderr with what must stay flat under a soak.
async fn print_stats<A: socketioxide::adapter::Adapter>(
    io: SocketIo<A>,
    pending: impl Fn() -> usize,
    every: std::time::Duration,
) {
    let started = std::time::Instant::now();
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let rooms = io.rooms().await.map(|r| r.len()).unwrap_or_default();
        let rss_kib = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            })
            .unwrap_or_default();
        let stats = serde_json::json!({
            "t_ms": started.elapsed().as_millis() as u64,
            "rss_kib": rss_kib,
            "tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
            "sockets": io.sockets().len(),
            "pending": pending(),
            "sessions": socketioxide_jwt::__sessions_held(),
            "rooms": rooms,
        });
        eprintln!("{stats}");
    }
}
