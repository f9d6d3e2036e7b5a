//! Password hashes on a few threads of their own, with a bounded queue.
//!
//! Argon2 takes ~19 MiB and a core per hash. On tokio's blocking pool, a flood of logins starts a
//! thread per hash (up to 512 at once), and even one at a time they land on ever-new threads, each
//! keeping its own allocator arena with the hash's memory in it. Here a fixed set of threads (the
//! cores, at least 2) takes hashes from a queue of [`QUEUE`]; a login that finds it full is
//! answered at once ([`Busy`]) instead of waiting behind a flood.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Hashes waiting for a thread, at most (a few seconds of work on two cores).
pub const QUEUE: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

/// Every hashing thread is busy and the queue is full, or the pool is gone.
#[derive(Debug, thiserror::Error)]
#[error("too many password hashes at once")]
pub struct Busy;

/// The hashing threads; they end when the last handle is dropped.
#[derive(Clone)]
pub struct HashPool {
    jobs: SyncSender<Job>,
}

impl HashPool {
    /// One thread per core, at least 2.
    pub fn new() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || work(&queue))
                .expect("a hashing thread");
        }
        Self { jobs }
    }

    /// Runs `hash` on a hashing thread; [`Busy`] at once when the queue is full.
    pub async fn run<R: Send + 'static>(
        &self,
        hash: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Busy> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = done.send(hash());
            }))
            .map_err(|_| Busy)?;
        result.await.map_err(|_| Busy)
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, not while hashing.
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}
