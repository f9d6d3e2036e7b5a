//! What the revocation list costs at scale, against a real Redis (`bench/revocations.py` starts
//! one, fills it and runs this):
//! - `load`: the time a new process takes to load every stored revocation, and the heap bytes
//!   each costs once loaded (a counting allocator: live bytes, not RSS);
//! - `burst`: `--instances` lists on one Redis, `--count` revocations made on the first as fast
//!   as it can; the time until every other list holds all of them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use socketioxide_jwt::revocation::Revocation;
use socketioxide_jwt::RevocationList;
use socketioxide_jwt_redis::RedisRevocationOptions;
use socketioxide_jwt_redis::{RedisConnection, RedisDriver};

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Parser)]
struct Args {
    /// The Redis URL (RESP3).
    #[arg(long)]
    redis: String,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Loads what is stored; prints `{"stored", "load_ms", "heap_bytes_per_entry"}`.
    Load,
    /// Revokes `count` sessions on one of `instances` lists; prints when each list had them all.
    Burst {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 3)]
        instances: usize,
        /// Revocations in flight at once on the sending list.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
    },
}

async fn list(url: &str, options: RedisRevocationOptions) -> RevocationList {
    let driver = RedisDriver::connect(&RedisConnection::new(url), Default::default())
        .await
        .expect("Redis reachable");
    driver
        .revocation_list(options)
        .await
        .expect("the list loads")
}

fn held(list: &RevocationList) -> usize {
    let counts = list.counts();
    counts.tokens + counts.users + counts.sessions
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match args.what {
        What::Load => {
            let before = LIVE.load(Ordering::Relaxed);
            let started = Instant::now();
            let list = list(&args.redis, RedisRevocationOptions::default()).await;
            let load = started.elapsed();
            let stored = held(&list);
            let bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
            println!(
                "{}",
                serde_json::json!({
                    "stored": stored,
                    "load_ms": load.as_millis() as u64,
                    "heap_bytes_per_entry": bytes as f64 / stored.max(1) as f64,
                })
            );
        }
        What::Burst {
            count,
            instances,
            concurrency,
        } => {
            let options =
                RedisRevocationOptions::default().poll_interval(Duration::from_millis(100));
            let mut lists = Vec::new();
            for _ in 0..instances.max(2) {
                lists.push(list(&args.redis, options.clone()).await);
            }
            let until = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
                + 3600;
            let origin = lists[0].clone();
            let base = held(&origin);
            let started = Instant::now();
            let mut sends = futures_util::stream::iter((0..count).map(|i| {
                let origin = origin.clone();
                async move {
                    let revocation = Revocation::Session {
                        sid: format!("burst-{i}"),
                        iss: None,
                        until,
                    };
                    // `Revocation` is non-exhaustive outside the crate: build it through the
                    // public API when it has one.
                    origin.revoke(revocation).await
                }
            }))
            .buffer_unordered(concurrency);
            let mut failed = 0usize;
            while let Some(result) = sends.next().await {
                failed += usize::from(result.is_err());
            }
            let sent = started.elapsed();
            let mut reached = Vec::new();
            for other in &lists[1..] {
                let deadline = Instant::now() + Duration::from_secs(300);
                while held(other) < base + count {
                    assert!(
                        Instant::now() < deadline,
                        "a list never got the whole burst"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                reached.push(started.elapsed().as_millis() as u64);
            }
            println!(
                "{}",
                serde_json::json!({
                    "count": count,
                    "instances": lists.len(),
                    "failed_sends": failed,
                    "sent_ms": sent.as_millis() as u64,
                    "last_applied_everywhere_ms": reached.iter().max(),
                })
            );
        }
    }
}
