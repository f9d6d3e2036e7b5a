//! A bounded soak: thousands of connect/authenticate/disconnect cycles mixed with bad tokens and
//! silent connections. Afterwards nothing leaks (sockets, pending places, rooms, tasks) and memory
//! is back near its baseline. `SOAK_ROUNDS` sets the size (default 20 rounds of 100 sockets).

use std::time::Duration;

use serde_json::json;
use socketioxide_jwt_e2e::*;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_leaves_nothing_behind() {
    let rounds: usize = std::env::var("SOAK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let auth = auth().timeout(Duration::from_millis(300)).build().unwrap();
    let gate = auth.clone();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let io = server.io.clone();
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut c = Client::start().await;

    let mut run_round = async |round: usize| {
        let good = sign(&claims("soak", 600));
        let forged = format!("{}x", &good[..good.len() - 1]);
        let expired = sign(&claims("soak", -10));
        let batches = [
            ("good", 60, Some(good), "served"),
            ("forged", 15, Some(forged), "invalid_token"),
            ("expired", 10, Some(expired), "token_expired"),
            ("silent", 15, None, "timeout"),
        ];
        for (kind, count, token, _) in &batches {
            c.send(
                json!({"op": "cycle", "prefix": format!("r{round}-{kind}-"), "count": count,
                          "url": server.url("/"), "token": token}),
            )
            .await;
        }
        let mut served = 0;
        for (kind, count, _, expected) in &batches {
            for i in 0..*count {
                let id = format!("r{round}-{kind}-{i}");
                let done = c.expect_kind(&id, "cycle_done").await;
                assert_eq!(done["outcome"], *expected, "{id}");
                served += usize::from(*expected == "served");
            }
        }
        c.log.clear();
        served
    };

    // Warm-up round, then the baseline.
    run_round(0).await;
    wait_until(|| io.sockets().is_empty(), "the warm-up sockets to go").await;
    let (tasks_before, rss_before) = (metrics.num_alive_tasks(), rss_bytes());

    let started = std::time::Instant::now();
    let mut served = 0;
    for round in 1..=rounds {
        served += run_round(round).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(served, rounds * 60, "every good client was served");

    wait_until(|| io.sockets().is_empty(), "every socket to be gone").await;
    wait_until(
        || gate.pending_sockets() == 0,
        "every pending place to be released",
    )
    .await;
    wait_until(
        || metrics.num_alive_tasks() <= tasks_before + 2,
        "tasks to return to the baseline",
    )
    .await;
    wait_until(
        || socketioxide_jwt::__sessions_held() == 0,
        "every session to be dropped with its socket",
    )
    .await;
    let rooms = io.rooms().await.unwrap();
    assert!(rooms.is_empty(), "rooms left behind: {rooms:?}");
    let rss_after = rss_bytes();
    let growth = rss_after.saturating_sub(rss_before);
    println!(
        "soak: {} cycles in {elapsed:?}; tasks {tasks_before} -> {}; RSS {:.1} MiB -> {:.1} MiB",
        rounds * 100,
        metrics.num_alive_tasks(),
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0
    );
    assert!(growth < 16 << 20, "RSS grew by {} KiB", growth / 1024);
}
