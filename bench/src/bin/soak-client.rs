//! Soak load: holds `--sockets` authenticated sockets (message mode) for `--secs`, each
//! refreshing its token in-band every `--refresh-secs` (first refresh at a random point of the
//! period), and `--churn-percent` of them per second dropping their connection and reconnecting
//! with a fresh token. Prints a JSON line every second (counts since the start) and a final one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// Server base URL, e.g. http://127.0.0.1:3000
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 10_000)]
    sockets: usize,
    #[arg(long, default_value_t = 600)]
    secs: u64,
    #[arg(long, default_value_t = 30)]
    refresh_secs: u64,
    /// Sockets dropping and reconnecting per second, in percent of `--sockets`.
    #[arg(long, default_value_t = 1.0)]
    churn_percent: f64,
    /// Connections opening at a time.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
}

#[derive(Default)]
struct Counts {
    connected: AtomicU64,
    authenticated: AtomicU64,
    refreshed: AtomicU64,
    reconnects: AtomicU64,
    failures: AtomicU64,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A small per-socket random source (xorshift64*): no shared state, no dependency.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())
}

/// Opens a socket and authenticates it; answers pings meanwhile.
async fn connect(ws_url: &str, sub: &str) -> Result<Ws, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, None, true)
        .await
        .map_err(|e| e.to_string())?;
    while let Some(msg) = ws.next().await {
        let Message::Text(text) = msg.map_err(|e| e.to_string())? else {
            continue;
        };
        match text.as_str() {
            t if t.starts_with('0') => send(&mut ws, "40".into()).await?,
            "2" => send(&mut ws, "3".into()).await?,
            t if t.starts_with("40") => {
                let token = socketioxide_jwt_bench::token(sub);
                send(
                    &mut ws,
                    format!("42{}", json!(["authenticate", { "token": token }])),
                )
                .await?
            }
            t if t.starts_with("42[\"authenticated\"") => return Ok(ws),
            t => return Err(format!("unexpected {t:.80}")),
        }
    }
    Err("stream ended".into())
}

/// One simulated user for the whole soak.
async fn user(
    i: usize,
    args: Arc<Args>,
    ws_url: Arc<str>,
    counts: Arc<Counts>,
    opening: Arc<Semaphore>,
    end: Instant,
) {
    let sub = format!("soak{i}");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let refresh = Duration::from_secs(args.refresh_secs);
    // Mean time between reconnects of one socket: 100 / churn_percent seconds.
    let mean_life = 100.0 / args.churn_percent.max(1e-9);
    let mut first = true;
    while Instant::now() < end {
        let ws = {
            let _permit = opening.acquire().await.expect("semaphore");
            tokio::time::timeout(Duration::from_secs(20), connect(&ws_url, &sub)).await
        };
        let mut ws = match ws {
            Ok(Ok(ws)) => ws,
            _ => {
                counts.failures.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        counts.authenticated.fetch_add(1, Ordering::Relaxed);
        counts.connected.fetch_add(1, Ordering::Relaxed);
        if !first {
            counts.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        let life = Duration::from_secs_f64(-mean_life * (1.0 - rng.next_f64()).ln());
        let drop_at = tokio::time::Instant::now() + life;
        let mut next_refresh =
            tokio::time::Instant::now() + refresh.mul_f64(rng.next_f64().max(0.05));
        let end_at = tokio::time::Instant::from_std(end);
        let outcome: Result<(), String> = loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                        if let Err(e) = send(&mut ws, "3".into()).await { break Err(e) }
                    }
                    Some(Ok(Message::Text(t))) if t.starts_with("42[\"authenticated\"") => {
                        counts.refreshed.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Ok(Message::Text(t))) if t.starts_with("42[\"unauthorized\"") => break Err(format!("{t:.80}")),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Err(e.to_string()),
                    None => break Err("closed by the server".into()),
                },
                () = tokio::time::sleep_until(next_refresh) => {
                    let token = socketioxide_jwt_bench::token(&sub);
                    if let Err(e) = send(&mut ws, format!("42{}", json!(["authenticate", { "token": token }]))).await {
                        break Err(e);
                    }
                    next_refresh += refresh;
                }
                () = tokio::time::sleep_until(drop_at) => break Ok(()),
                () = tokio::time::sleep_until(end_at) => break Ok(()),
            }
        };
        counts.connected.fetch_sub(1, Ordering::Relaxed);
        if outcome.is_err() {
            counts.failures.fetch_add(1, Ordering::Relaxed);
        }
        let _ = ws.close(None).await;
    }
}

fn report(counts: &Counts, started: Instant, event: &str) {
    println!(
        "{}",
        json!({
            "event": event,
            "t_ms": started.elapsed().as_millis() as u64,
            "connected": counts.connected.load(Ordering::Relaxed),
            "authenticated": counts.authenticated.load(Ordering::Relaxed),
            "refreshed": counts.refreshed.load(Ordering::Relaxed),
            "reconnects": counts.reconnects.load(Ordering::Relaxed),
            "failures": counts.failures.load(Ordering::Relaxed),
        })
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Arc::new(Args::parse());
    let ws_url: Arc<str> = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        args.url.replacen("http", "ws", 1)
    )
    .into();
    let counts = Arc::new(Counts::default());
    let opening = Arc::new(Semaphore::new(args.concurrency));
    let started = Instant::now();
    let end = started + Duration::from_secs(args.secs);
    let users: Vec<_> = (0..args.sockets)
        .map(|i| {
            tokio::spawn(user(
                i,
                args.clone(),
                ws_url.clone(),
                counts.clone(),
                opening.clone(),
                end,
            ))
        })
        .collect();
    let reporter = {
        let counts = counts.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticks.tick().await;
                report(&counts, started, "tick");
            }
        })
    };
    for user in users {
        let _ = user.await;
    }
    reporter.abort();
    report(&counts, started, "result");
}
