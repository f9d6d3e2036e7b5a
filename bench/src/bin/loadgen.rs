//! Load generator speaking Engine.IO v4 / Socket.IO v5 over WebSocket directly (no client library
//! in the way). Opens `--sockets` sockets, `--concurrency` at a time, each connect →
//! (authenticate) → authenticated/ready, holds them `--hold-secs`, and prints JSON lines:
//!
//! - `holding`: every socket is up (the runner samples the server's CPU and RSS here);
//! - `result` (after the hold): sockets/s, latency percentiles, failures, and this process's own
//!   CPU use (`gen_core_share`: the share of one core it used while connecting; near 1.0 it, not
//!   the server, set the pace);
//! - with `--storm`, `storm-result`: every socket drops its connection at once and reconnects
//!   with its token, as after a deploy (at once, or after a socket.io-client-like jittered delay),
//!   retrying with socket.io-client's backoff; time until 99 % and 100 % are back, p99, lost.
//! - with `--watch` (cluster runs), while holding: `all-heard` once every held socket heard the
//!   broadcast `shout`, and `refused` for each socket refused (a revoked user), with wall-clock
//!   times (comparable across processes). With `--control` a runner drives the hold from stdin.
//!
//! Every client connects as socket.io-client does: one attempt at a time, each bounded by
//! `--timeout-secs` (20 s), retrying with its backoff; a socket not in after
//! `--connect-deadline-secs` is lost. Retries are counted (`retried`).
//!
//! Client sockets bind their source address (`--source-ip`, several allowed, round-robin) with
//! `IP_BIND_ADDRESS_NO_PORT`, so the kernel picks the port at `connect()` for the whole 4-tuple
//! instead of searching the range per socket at `bind()`, and with `SO_REUSEADDR`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Mode {
    /// Wait for the server's `ready` event (bare socketioxide).
    Bare,
    Message,
    Handshake,
}

#[derive(Parser)]
struct Args {
    /// Server base URL, e.g. http://127.0.0.1:3000
    #[arg(long)]
    url: String,
    #[arg(long, value_enum)]
    mode: Mode,
    #[arg(long, default_value_t = 1000)]
    sockets: usize,
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Keep every socket open this long after the last one is authenticated.
    #[arg(long, default_value_t = 0)]
    hold_secs: u64,
    /// Timeout of one connection attempt, seconds (socket.io-client's `timeout`, 20 s); a client
    /// retries with its backoff after a failed attempt.
    #[arg(long, default_value_t = 20)]
    timeout_secs: u64,
    /// Give up on a socket that is not authenticated this long after the run started.
    #[arg(long, default_value_t = 120)]
    connect_deadline_secs: u64,
    /// Users `user<first_user>` … (processes of one run use disjoint ranges).
    #[arg(long, default_value_t = 0)]
    first_user: usize,
    /// Source addresses for the client sockets (round-robin), e.g. 127.0.0.2.
    #[arg(long)]
    source_ip: Vec<IpAddr>,
    /// After the hold: drop every connection at once and reconnect all of them.
    #[arg(long)]
    storm: bool,
    /// Storm: each client waits a random 50–150 % of this before reconnecting (socket.io-client's
    /// `reconnectionDelay` 1000 with `randomizationFactor` 0.5); 0: all at once.
    #[arg(long, default_value_t = 0)]
    storm_delay_ms: u64,
    /// Commands on stdin, one per line, for a runner driving several processes: `shout` (the
    /// first held socket emits `shout`), `storm` or `end` (the hold ends; with `--storm`, the storm
    /// starts). The hold then lasts until one of those, not `--hold-secs`.
    #[arg(long)]
    control: bool,
    /// Storm: give up on a socket after this long.
    #[arg(long, default_value_t = 120)]
    storm_deadline_secs: u64,
    /// Print the connect latencies (ms) in `result`, for a runner merging several processes.
    #[arg(long)]
    latencies: bool,
    /// Cluster runs: while holding, report when every socket heard `shout` (`all-heard`) and
    /// each `unauthorized` (`refused`), on the wall clock.
    #[arg(long)]
    watch: bool,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The process's own CPU time (user + system).
fn own_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass; a zeroed rusage is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

/// A TCP connection from `source` (port picked at `connect()`) to `server`.
async fn tcp(server: SocketAddr, source: Option<IpAddr>) -> std::io::Result<tokio::net::TcpStream> {
    let socket = match server {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if let Some(ip) = source {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket fd and a c_int option value of the right size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                &on as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(server).await?;
    // Nagle off on the client too, or its back-to-back small writes wait for delayed ACKs.
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[derive(Clone)]
struct Target {
    server: SocketAddr,
    ws_url: String,
    mode: Mode,
}

/// One socket: returns the open connection and the time to authenticated.
async fn one(
    target: &Target,
    source: Option<IpAddr>,
    token: &str,
) -> Result<(Ws, Duration), String> {
    let start = Instant::now();
    let stream = tcp(target.server, source)
        .await
        .map_err(|e| e.to_string())?;
    // 4 KiB read buffers (tungstenite's default is 128 KiB: 1 GiB per 8 000 held sockets).
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(&target.ws_url, stream, Some(config))
            .await
            .map_err(|e| e.to_string())?;
    let connect = match target.mode {
        Mode::Handshake => format!("40{}", json!({ "token": token })),
        _ => "40".to_owned(),
    };
    let mut sent_connect = false;
    while let Some(msg) = ws.next().await {
        let text = match msg.map_err(|e| e.to_string())? {
            Message::Text(t) => t.to_string(),
            Message::Close(_) => return Err("closed".into()),
            _ => continue,
        };
        if text.starts_with('0') && !sent_connect {
            ws.send(Message::text(connect.clone()))
                .await
                .map_err(|e| e.to_string())?;
            sent_connect = true;
        } else if text == "2" {
            ws.send(Message::text("3"))
                .await
                .map_err(|e| e.to_string())?;
        } else if text.starts_with("40") {
            if target.mode == Mode::Message {
                let auth = format!("42{}", json!(["authenticate", { "token": token }]));
                ws.send(Message::text(auth))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        } else if text.starts_with("44") {
            return Err(format!("connect_error {text}"));
        } else if text.starts_with("42[\"authenticated\"") || text.starts_with("42[\"ready\"") {
            return Ok((ws, start.elapsed()));
        } else if text.starts_with("42[\"unauthorized\"") {
            return Err(format!("refused {text}"));
        }
    }
    Err("stream ended".into())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((p / 100.0) * sorted.len() as f64) as usize)
        .or(sorted.last())
        .copied()
        .unwrap_or(0.0)
}

fn sort(v: &mut [f64]) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
}

/// What a held socket heard (cluster runs).
enum Heard {
    Shout(f64),
    Unauthorized(f64),
}

/// Holds `ws` until `end` turns true: answers pings, emits `shout` when `shout` is notified
/// (the first socket only), and when watching reports what it hears on `heard`. Returns the
/// connection, or `None` once the server refused or closed it.
async fn hold(
    mut ws: Ws,
    mut end: watch::Receiver<bool>,
    shout: Option<Arc<Notify>>,
    heard: Option<mpsc::UnboundedSender<Heard>>,
) -> Option<Ws> {
    let shout_signal = async {
        match &shout {
            Some(n) => n.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(shout_signal);
    let mut shouted = false;
    loop {
        tokio::select! {
            _ = end.changed() => return Some(ws),
            _ = &mut shout_signal, if !shouted => {
                shouted = true;
                let msg = format!("42{}", json!(["shout", { "sent_ms": unix_ms() }]));
                if ws.send(Message::text(msg)).await.is_err() {
                    return None;
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str() == "2" {
                        if ws.send(Message::text("3")).await.is_err() {
                            return None;
                        }
                    } else if t.starts_with("42[\"shout\"") {
                        if let Some(h) = &heard {
                            let _ = h.send(Heard::Shout(unix_ms()));
                        }
                    } else if t.starts_with("42[\"unauthorized\"") {
                        if let Some(h) = &heard {
                            let _ = h.send(Heard::Unauthorized(unix_ms()));
                        }
                        return None;
                    }
                }
                Some(Ok(_)) => {}
                _ => return None,
            },
        }
    }
}

/// Reads control commands from stdin (a thread: stdin is blocking) into a channel.
fn control_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_owned()).is_err() {
                break;
            }
        }
    });
    rx
}

/// What a client that got in saw: the connection, the time from `start` (the storm's start, or
/// the run's), the time from its first attempt, and how many attempts it took.
type Connected = (Ws, Duration, Duration, u32);

/// Connects one client as socket.io-client does: after `first_delay`, one attempt at a time,
/// each bounded by `timeout` (its `timeout` option, 20 s), retrying with its backoff (1 s doubling
/// to 5 s, ±50 %) until `deadline`.
async fn connect_with_retries(
    target: Target,
    source: Option<IpAddr>,
    token: String,
    start: Instant,
    first_delay: Duration,
    deadline: Instant,
    timeout: Duration,
) -> Result<Connected, String> {
    tokio::time::sleep(first_delay).await;
    let first_attempt = Instant::now();
    let mut attempt = 0u32;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        attempt += 1;
        let last_error =
            match tokio::time::timeout(timeout.min(left), one(&target, source, &token)).await {
                Ok(Ok((ws, _))) => {
                    return Ok((ws, start.elapsed(), first_attempt.elapsed(), attempt));
                }
                Ok(Err(e)) => e,
                Err(_) => "timeout".into(),
            };
        let backoff = Duration::from_millis((1000u64 << attempt.min(3)).min(5000));
        let jittered = backoff.mul_f64(0.5 + fastrand::f64());
        if Instant::now() + jittered >= deadline {
            return Err(format!("{last_error} (after {attempt} attempts)"));
        }
        tokio::time::sleep(jittered).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let base = args.url.trim_end_matches('/');
    let authority = base.split("://").nth(1).unwrap_or(base);
    let server: SocketAddr = match tokio::net::lookup_host(authority)
        .await
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(addr) => addr,
        None => {
            eprintln!("cannot resolve {authority}");
            std::process::exit(2);
        }
    };
    let target = Target {
        server,
        ws_url: format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            base.replacen("http", "ws", 1)
        ),
        mode: args.mode,
    };
    let source =
        |i: usize| (!args.source_ip.is_empty()).then(|| args.source_ip[i % args.source_ip.len()]);
    let tokens: Vec<String> = (0..args.sockets)
        .map(|i| socketioxide_jwt_bench::token(&format!("user{}", args.first_user + i)))
        .collect();
    let timeout = Duration::from_secs(args.timeout_secs);
    let permits = Arc::new(Semaphore::new(args.concurrency));
    // Each socket's task connects it, reports, then holds it (answering pings from the start:
    // a socket left unpolled while the others connect would miss the server's heartbeat).
    let (end_tx, end_rx) = watch::channel(false);
    let shout = Arc::new(Notify::new());
    let (heard_tx, mut heard_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<(Duration, u32), String>>();
    let cpu0 = own_cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.connect_deadline_secs);
    let mut tasks = Vec::with_capacity(args.sockets);
    for (i, token) in tokens.iter().cloned().enumerate() {
        let (permits, target, src) = (permits.clone(), target.clone(), source(i));
        let (end, done) = (end_rx.clone(), done_tx.clone());
        let first = (i == 0).then(|| shout.clone());
        let heard = args.watch.then(|| heard_tx.clone());
        tasks.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await.expect("semaphore");
            let connected = connect_with_retries(
                target,
                src,
                token,
                started,
                Duration::ZERO,
                deadline,
                timeout,
            )
            .await;
            drop(permit);
            match connected {
                Ok((ws, _, latency, attempts)) => {
                    let _ = done.send(Ok((latency, attempts)));
                    drop(done);
                    hold(ws, end, first, heard).await.map(|ws| (i, ws))
                }
                Err(e) => {
                    let _ = done.send(Err(e));
                    None
                }
            }
        }));
    }
    drop((done_tx, heard_tx));
    let mut latencies = Vec::with_capacity(args.sockets);
    let mut failures = Vec::new();
    // One report per socket (the tasks keep running: they hold their sockets).
    let mut retried = 0usize;
    for _ in 0..args.sockets {
        match done_rx.recv().await {
            Some(Ok((latency, attempts))) => {
                latencies.push(latency.as_secs_f64() * 1000.0);
                retried += usize::from(attempts > 1);
            }
            Some(Err(e)) => failures.push(e),
            None => break,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let gen_cpu = (own_cpu() - cpu0).as_secs_f64();
    let holding = latencies.len();
    println!("{}", json!({ "event": "holding", "sockets": holding }));
    let mut commands = if args.control {
        Some(control_lines())
    } else {
        None
    };
    let hold_until = tokio::time::Instant::now() + Duration::from_secs(args.hold_secs);
    let (mut shouts, mut last_shout) = (0usize, 0f64);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(hold_until), if commands.is_none() => break,
            command = async { commands.as_mut().expect("control").recv().await }, if commands.is_some() => {
                match command.as_deref() {
                    Some("shout") => shout.notify_one(),
                    Some(_) | None => break,
                }
            }
            Some(heard) = heard_rx.recv() => match heard {
                Heard::Shout(t) => {
                    shouts += 1;
                    last_shout = last_shout.max(t);
                    if shouts == holding {
                        println!("{}", json!({ "event": "all-heard", "sockets": shouts, "last_ms": last_shout }));
                    }
                }
                Heard::Unauthorized(t) => println!("{}", json!({ "event": "refused", "t_ms": t })),
            },
        }
    }
    let _ = end_tx.send(true);
    let mut held = Vec::with_capacity(holding);
    for task in tasks {
        if let Ok(Some(socket)) = task.await {
            held.push(socket);
        }
    }
    sort(&mut latencies);
    let mut result = json!({
        "event": "result",
        "sockets": args.sockets,
        "ok": latencies.len(),
        "failures": failures.len(),
        "first_failure": failures.first(),
        "retried": retried,
        "seconds": elapsed,
        "sockets_per_s": latencies.len() as f64 / elapsed,
        "p50_ms": percentile(&latencies, 50.0), "p90_ms": percentile(&latencies, 90.0),
        "p99_ms": percentile(&latencies, 99.0),
        "max_ms": latencies.last().copied().unwrap_or(0.0),
        "gen_cpu_s": gen_cpu,
        "gen_core_share": gen_cpu / elapsed.max(1e-9),
    });
    if args.latencies {
        result["latencies_ms"] = json!(latencies);
    }
    println!("{result}");
    let lost_before_storm = failures.len();
    if args.storm {
        storm(&args, &target, &tokens, held, &source, timeout).await;
    }
    if lost_before_storm > 0 {
        std::process::exit(1);
    }
}

/// Drops every held connection at once and reconnects each, printing `storm-result`.
async fn storm(
    args: &Args,
    target: &Target,
    tokens: &[String],
    held: Vec<(usize, Ws)>,
    source: &dyn Fn(usize) -> Option<IpAddr>,
    timeout: Duration,
) {
    let indices: Vec<usize> = held.iter().map(|(i, _)| *i).collect();
    println!(
        "{}",
        json!({ "event": "storm-start", "sockets": indices.len(), "t_ms": unix_ms() })
    );
    let storm_start = Instant::now();
    let cpu0 = own_cpu();
    // Every connection goes at once: the server sees them all close.
    drop(held);
    let deadline = storm_start + Duration::from_secs(args.storm_deadline_secs);
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Reconnected sockets keep answering pings until every one is back (or lost).
    let (end_tx, end_rx) = watch::channel(false);
    for i in indices.iter().copied() {
        let delay = match args.storm_delay_ms {
            0 => Duration::ZERO,
            d => Duration::from_millis(d).mul_f64(0.5 + fastrand::f64()),
        };
        let (target, token, src, tx) = (target.clone(), tokens[i].clone(), source(i), tx.clone());
        let end = end_rx.clone();
        tokio::spawn(async move {
            match connect_with_retries(target, src, token, storm_start, delay, deadline, timeout)
                .await
            {
                Ok((ws, since_start, latency, attempts)) => {
                    let _ = tx.send(Ok((since_start, latency, attempts)));
                    drop(tx);
                    hold(ws, end, None, None).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    }
    drop(tx);
    let (mut back, mut latencies, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut retried = 0usize;
    while let Some(r) = rx.recv().await {
        match r {
            Ok((since_start, latency, attempts)) => {
                back.push(since_start.as_secs_f64() * 1000.0);
                latencies.push(latency.as_secs_f64() * 1000.0);
                retried += usize::from(attempts > 1);
            }
            Err(e) => failures.push(e),
        }
    }
    let gen_cpu = (own_cpu() - cpu0).as_secs_f64();
    let elapsed = storm_start.elapsed().as_secs_f64();
    sort(&mut back);
    sort(&mut latencies);
    println!(
        "{}",
        json!({
            "event": "storm-result",
            "sockets": indices.len(),
            "ok": back.len(),
            "failures": failures.len(),
            "first_failure": failures.first(),
            "retried": retried,
            "t99_ms": percentile(&back, 99.0),
            "t100_ms": back.last().copied().unwrap_or(0.0),
            "p99_ms": percentile(&latencies, 99.0),
            "gen_cpu_s": gen_cpu,
            "gen_core_share": gen_cpu / elapsed.max(1e-9),
            "back_ms": if args.latencies { json!(back) } else { json!(null) },
        })
    );
    let _ = end_tx.send(true);
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
