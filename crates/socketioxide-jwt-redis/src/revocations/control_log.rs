//! Keeping a process's list in step with the store through the control log: reading what the
//! other processes appended, from where this one was; knowing when it may have missed
//! something; and resynchronising then (the whole set reloaded, what the store lost sent again,
//! what was queued in an outage sent).

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use ::redis::Value;
use futures_util::StreamExt;

use socketioxide_jwt::revocation::{RefreshRequest, Revocation, RevocationError, RevocationFeed};

use super::store::{unavailable, SendFailure, Store, HASHES, MAX_REJECTIONS};

mod reply;
#[cfg(test)]
mod tests;

use self::reply::Position;
use self::reply::{parse_read, parse_stored, Read, StreamId, Verdict};

/// Messages read per round trip; a full batch is followed by the next one at once.
const BATCH: usize = 1000;

/// Fields read per `HSCAN` when the whole set is loaded: a reply of about 250 KiB, read well
/// within the connection's response timeout (the operation timeout) even on a busy machine.
const SCAN_BATCH: usize = 2_000;

/// Hashes read at once when the whole set is loaded.
const HASHES_AT_ONCE: usize = 4;

/// The longest a bulk read (a batch of the log, a batch of the stored set) may take: longer
/// than one operation's timeout, and running out of it is no outage.
const BULK_TIMEOUT: Duration = Duration::from_secs(10);

/// The least time between two reads a wake-up starts.
const COALESCE: Duration = Duration::from_millis(5);

/// Revocations sent again at once after a reload (those the store lost).
const RESENDS_AT_ONCE: usize = 64;

/// The longest wait between two tries while Redis does not answer.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Reads the log after `ARGV[1]` (at most `ARGV[2]` messages), with what tells whether
/// something was missed: the last id the stream generated, how many messages were ever added
/// to it, how many it holds now, and whether it still holds the message at `ARGV[1]`.
/// `{"0-0", 0, 0, {}, 0}` when there is no log.
const READ: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0-0', 0, 0, {}, 0} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, added, length = '0-0', 0, 0
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1]
  elseif info[i] == 'entries-added' then added = info[i + 1]
  elseif info[i] == 'length' then length = info[i + 1] end
end
local batch = {}
if tonumber(ARGV[2]) > 0 then
  batch = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
end
local held = #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
return {last, added, length, batch, held}
"#;

impl Store {
    /// Reads up to `limit` messages after `from`.
    async fn read(&self, from: StreamId, limit: usize) -> Result<Read, RevocationError> {
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(READ)
            .arg(1)
            .arg(&self.options.stream)
            .arg(from.to_string())
            .arg(limit);
        let reply: Value = self
            .driver
            .query_bulk(&cmd, BULK_TIMEOUT)
            .await
            .map_err(unavailable)?;
        parse_read(reply).ok_or_else(|| {
            RevocationError::Unavailable("the control log's reply has an unexpected shape".into())
        })
    }

    /// Reads every stored revocation (the expired ones left out): the hashes at once, one
    /// `HSCAN` round trip per [`SCAN_BATCH`] fields of each, every batch parsed while the next
    /// ones are read.
    async fn load_all(&self) -> Result<Vec<Revocation>, RevocationError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut scans =
            futures_util::stream::iter((0..HASHES).map(|shard| self.load_hash(shard, now)))
                .buffer_unordered(HASHES_AT_ONCE);
        let mut stored = Vec::new();
        while let Some(batches) = scans.next().await {
            stored.extend(batches?.into_iter().flatten());
        }
        Ok(stored)
    }

    /// Reads hash number `shard`; each batch parsed on a blocking thread.
    async fn load_hash(
        &self,
        shard: usize,
        now: u64,
    ) -> Result<Vec<Vec<Revocation>>, RevocationError> {
        let hash = self.hash(shard);
        let mut parsing = Vec::new();
        let mut cursor = 0u64;
        loop {
            let mut scan = ::redis::cmd("HSCAN");
            scan.arg(&hash).arg(cursor).arg("COUNT").arg(SCAN_BATCH);
            let (next, pairs): (u64, Vec<Value>) = self
                .driver
                .query_bulk(&scan, BULK_TIMEOUT)
                .await
                .map_err(unavailable)?;
            parsing.push(tokio::task::spawn_blocking(move || {
                parse_stored(pairs, now)
            }));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut batches = Vec::with_capacity(parsing.len());
        for batch in parsing {
            batches.push(
                batch
                    .await
                    .map_err(|e| RevocationError::Unavailable(Box::new(e)))?,
            );
        }
        Ok(batches)
    }

    /// Sends what was queued while Redis was unreachable, in order (a revocation Redis keeps
    /// refusing is set aside after [`MAX_REJECTIONS`]).
    async fn flush_outbox(&self) -> Result<usize, RevocationError> {
        let mut sent = 0;
        loop {
            let Some(next) = self.lock_outbox().front().cloned() else {
                return Ok(sent);
            };
            match self.try_send(&next).await {
                Ok(()) => {
                    self.front_rejections.store(0, Ordering::SeqCst);
                    sent += 1;
                }
                Err(SendFailure::Rejected(e)) => {
                    let rejections = self.front_rejections.fetch_add(1, Ordering::SeqCst) + 1;
                    if rejections < MAX_REJECTIONS {
                        return Err(unavailable(e));
                    }
                    // Refused every time: set it aside (it applies in this process already) so
                    // that later revocations flow.
                    self.front_rejections.store(0, Ordering::SeqCst);
                    tracing::error!(kind = next.kind_label(), error = %e, "Redis refuses this revocation: set aside, the ones queued after it go on");
                    self.feed.set_aside(&next);
                }
                Err(SendFailure::Unreachable(e)) => return Err(e),
            }
            self.lock_outbox().pop_front();
        }
    }
}

/// Brings the list in step with the store: reloads the whole set, sends the store what the
/// list holds that it lacks (lost there, or never sent); returns the log position to read on
/// from (taken before the reload: what is appended during it is read again, harmlessly).
pub(super) async fn resync(store: &Store) -> Result<Position, RevocationError> {
    let at = store.read(StreamId::default(), 0).await?;
    let stored = store.load_all().await?;
    let loaded = stored.len();
    let Some(missing) = store.feed.replace_with(stored) else {
        return Err(RevocationError::Unavailable("the list was dropped".into()));
    };
    let mut sent_again = 0;
    for batch in missing.chunks(RESENDS_AT_ONCE) {
        let sends = batch.iter().map(|revocation| store.try_send(revocation));
        for (revocation, sent) in batch
            .iter()
            .zip(futures_util::future::join_all(sends).await)
        {
            match sent {
                Ok(()) => sent_again += 1,
                Err(SendFailure::Rejected(e)) => {
                    tracing::error!(kind = revocation.kind_label(), error = %e, "Redis refuses a revocation it lost: kept in this process only");
                }
                Err(SendFailure::Unreachable(e)) => return Err(e),
            }
        }
    }
    tracing::info!(loaded, sent_again, "revocations in step with the store");
    Ok(Position {
        last: at.last_generated,
        count: at.added,
    })
}

/// Applies one batch of the log: revocations together (one pass over the live sockets),
/// refresh requests in their place; this process's own messages skipped.
fn apply_batch(feed: &RevocationFeed, batch: Vec<(StreamId, u64, Vec<u8>)>) {
    let mut revocations = Vec::new();
    for (_, sender, payload) in batch {
        if sender == feed.sender() {
            continue;
        }
        if let Some(revocation) = Revocation::from_json(&payload) {
            revocations.push(revocation);
        } else if let Ok(request) = serde_json::from_slice::<RefreshRequest>(&payload) {
            if !revocations.is_empty() {
                feed.apply(std::mem::take(&mut revocations));
            }
            feed.refresh_requested(&request);
        } else {
            tracing::warn!("ignored a malformed message in the control log");
        }
    }
    if !revocations.is_empty() {
        feed.apply(revocations);
    }
}

/// Follows the log from `position` until the list or the store is dropped: reads every
/// `poll_interval` (at once after a full batch, or when another process says it appended),
/// resynchronises after an outage, a gap or a history gone back, and sends what an outage
/// queued.
pub(super) async fn follow(
    store: Weak<Store>,
    position: Position,
    mut outages: tokio::sync::watch::Receiver<u64>,
    mut wakeups: tokio::sync::mpsc::Receiver<(String, Vec<u8>)>,
) {
    let mut follower = Follower {
        position,
        must_resync: false,
        last_read: tokio::time::Instant::now(),
        failing: false,
        wait: Duration::ZERO,
        backoff: Duration::from_millis(100),
    };
    loop {
        if !follower.until_due(&store, &mut outages, &mut wakeups).await {
            return;
        }
        let Some(store) = store.upgrade() else { return };
        if !store.feed.is_alive() {
            return;
        }
        // What an outage queued goes first, but a store refusing it does not stop the reading.
        if !store.lock_outbox().is_empty() {
            match store.flush_outbox().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "queued revocations sent"),
                Err(e) => tracing::debug!(error = %e, "queued revocations not sent yet"),
            }
        }
        if follower.must_resync {
            outages.borrow_and_update();
            match follower.resync(&store).await {
                Resynced::Yes => {}
                Resynced::NotYet => continue,
                Resynced::Stopped => return,
            }
        }
        follower.read(&store).await;
    }
}

/// A process following the log: where it is, and how long it waits before the next read.
struct Follower {
    position: Position,
    must_resync: bool,
    last_read: tokio::time::Instant,
    /// Said once per spell of failures, not at every retry.
    failing: bool,
    wait: Duration,
    backoff: Duration,
}

/// How a resynchronisation went.
enum Resynced {
    Yes,
    /// The store is unreachable: try again after the backoff.
    NotYet,
    /// The list is gone.
    Stopped,
}

impl Follower {
    /// Waits until a read is due: the wait is over, another process appended, a revocation was
    /// queued, or an outage ended (then a resync is due). `false` when the list is gone.
    async fn until_due(
        &mut self,
        store: &Weak<Store>,
        outages: &mut tokio::sync::watch::Receiver<u64>,
        wakeups: &mut tokio::sync::mpsc::Receiver<(String, Vec<u8>)>,
    ) -> bool {
        let Some(wake) = store.upgrade().map(|store| store.wake.clone()) else {
            return false;
        };
        tokio::select! {
            () = tokio::time::sleep(self.wait) => {}
            // Another process appended: read now (the poll is the guarantee, not this).
            Some(_) = wakeups.recv() => {
                // A burst wakes a process thousands of times: one read per few ms takes
                // them all, in batches.
                tokio::time::sleep_until(self.last_read + COALESCE).await;
                while wakeups.try_recv().is_ok() {}
            }
            // A revocation was queued: sent below.
            () = wake.notified() => {}
            changed = outages.changed() => {
                if changed.is_err() {
                    return false;
                }
                self.must_resync = true;
            }
        }
        true
    }

    async fn resync(&mut self, store: &Store) -> Resynced {
        match resync(store).await {
            Ok(at) => {
                self.position = at;
                self.must_resync = false;
                self.failing = false;
                self.backoff = Duration::from_millis(100);
                Resynced::Yes
            }
            Err(_) if !store.feed.is_alive() => Resynced::Stopped,
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!(error = %e, "revocation store unreachable: using the last known revocations until it is back");
                }
                self.back_off();
                Resynced::NotYet
            }
        }
    }

    /// One read from the position: applied when in step, else a resync is due.
    async fn read(&mut self, store: &Store) {
        self.last_read = tokio::time::Instant::now();
        match store.read(self.position.last, BATCH).await {
            Ok(read) => match read.verdict(&self.position) {
                Verdict::InStep => {
                    self.failing = false;
                    self.backoff = Duration::from_millis(100);
                    let full = read.batch.len() == BATCH;
                    if let Some((last, _, _)) = read.batch.last() {
                        self.position = Position {
                            last: *last,
                            count: self.position.count + read.batch.len() as u64,
                        };
                    }
                    apply_batch(&store.feed, read.batch);
                    self.wait = if full {
                        Duration::ZERO
                    } else {
                        store.options.poll_interval
                    };
                }
                verdict => {
                    tracing::warn!(
                        ?verdict,
                        "the control log may hold less than this process missed: reloading"
                    );
                    self.must_resync = true;
                    self.wait = Duration::ZERO;
                }
            },
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!(error = %e, "could not read the control log: trying again");
                }
                self.back_off();
            }
        }
    }

    fn back_off(&mut self) {
        self.wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}
