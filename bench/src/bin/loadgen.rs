//! Connection-storm load generator speaking Engine.IO v4 / Socket.IO v5 over WebSocket
//! directly (no client library in the way). Opens `--sockets` sockets, `--concurrency` at a
//! time, each connect → (authenticate) → authenticated/ready, holds them `--hold-secs`, and
//! prints one JSON line: sockets/s, latency percentiles, failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;
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
    /// Per-socket timeout, seconds.
    #[arg(long, default_value_t = 20)]
    timeout_secs: u64,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One socket: returns the open connection and the time to authenticated.
async fn one(ws_url: &str, mode: Mode, token: &str) -> Result<(Ws, Duration), String> {
    let start = Instant::now();
    // Nagle off on the client too, or its back-to-back small writes wait for delayed ACKs.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, None, true)
        .await
        .map_err(|e| e.to_string())?;
    let connect = match mode {
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
            if mode == Mode::Message {
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        args.url.replacen("http", "ws", 1)
    );
    let tokens: Vec<String> = (0..args.sockets)
        .map(|i| socketioxide_jwt_bench::token(&format!("user{i}")))
        .collect();
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.sockets);
    for token in tokens {
        let permits = permits.clone();
        let (ws_url, mode, timeout) = (
            ws_url.clone(),
            args.mode,
            Duration::from_secs(args.timeout_secs),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            match tokio::time::timeout(timeout, one(&ws_url, mode, &token)).await {
                Ok(result) => result,
                Err(_) => Err("timeout".into()),
            }
        }));
    }
    let mut held = Vec::with_capacity(args.sockets);
    let mut latencies = Vec::with_capacity(args.sockets);
    let mut failures = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok((ws, latency)) => {
                latencies.push(latency.as_secs_f64() * 1000.0);
                held.push(ws);
            }
            Err(e) => failures.push(e),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Hold: answer pings so the server keeps every socket.
    if args.hold_secs > 0 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.hold_secs);
        let mut keepers = Vec::new();
        for mut ws in held.drain(..) {
            keepers.push(tokio::spawn(async move {
                while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
                    if matches!(&msg, Message::Text(t) if t.as_str() == "2")
                        && ws.send(Message::text("3")).await.is_err()
                    {
                        break;
                    }
                }
                ws
            }));
        }
        println!(
            "{}",
            json!({ "event": "holding", "sockets": keepers.len() })
        );
        for k in keepers {
            if let Ok(ws) = k.await {
                held.push(ws);
            }
        }
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let pct = |p: f64| {
        latencies
            .get(((p / 100.0) * latencies.len() as f64) as usize)
            .or(latencies.last())
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        json!({
            "event": "result",
            "sockets": args.sockets,
            "ok": latencies.len(),
            "failures": failures.len(),
            "first_failure": failures.first(),
            "seconds": elapsed,
            "sockets_per_s": latencies.len() as f64 / elapsed,
            "p50_ms": pct(50.0), "p90_ms": pct(90.0), "p99_ms": pct(99.0),
            "max_ms": latencies.last().copied().unwrap_or(0.0),
        })
    );
    drop(held);
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
