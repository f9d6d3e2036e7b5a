//! Keeping a process's list in step with the store through the control log: reading what the
//! other processes appended, from where this one was; knowing when it may have missed
//! something; and resynchronising then (the whole set reloaded, what the store lost sent again,
//! what was queued in an outage sent).

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use ::redis::{FromRedisValue, Value};
use futures_util::StreamExt;

use socketioxide_jwt::revocation::{RefreshRequest, Revocation, RevocationError, RevocationFeed};

use super::store::{unavailable, SendFailure, Store, HASHES, MAX_REJECTIONS};

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

/// A stream id (`<ms>-<seq>`), ordered as Redis orders them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StreamId(u64, u64);

impl StreamId {
    fn parse(id: &str) -> Option<Self> {
        let (ms, seq) = id.split_once('-')?;
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// Where a process is in the log: the last message it read, and how many messages the log
/// had ever been given up to it (Redis' `entries-added` then).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Position {
    last: StreamId,
    count: u64,
}

/// One read of the log.
#[derive(Debug)]
struct Read {
    /// The last id the log generated.
    last_generated: StreamId,
    /// How many messages it was ever given.
    added: u64,
    /// How many it holds now (the others were trimmed).
    length: u64,
    /// The messages after the position: id, sender, payload.
    batch: Vec<(StreamId, u64, Vec<u8>)>,
    /// Whether the log still holds the message at the position.
    holds_position: bool,
}

/// What a read says of the position it was made from.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing missed: apply the batch, move on.
    InStep,
    /// Messages this process had not read were trimmed.
    Gap,
    /// The log holds less than this process read (a failover to a replica that had not
    /// received the last messages, a restart without persistence, a deleted key).
    WentBack,
}

impl Read {
    /// Whether anything after `from` may have been missed. The log is only ever trimmed from
    /// its oldest end: of the `added - length` messages trimmed, at most `from.count` had been
    /// read; any more were not.
    ///
    /// The message at the position may be gone only by trimming, which takes every message up
    /// to it: if fewer were trimmed than had been added up to it, the log lost it otherwise (a
    /// deleted key, a failover, an eviction), however many messages were added since.
    fn verdict(&self, from: &Position) -> Verdict {
        let Some(trimmed) = self.added.checked_sub(self.length) else {
            // A log that holds more than it was ever given: not the one this process read.
            return Verdict::WentBack;
        };
        let lost_position = from.count > 0 && !self.holds_position && trimmed < from.count;
        if self.added < from.count || self.last_generated < from.last || lost_position {
            Verdict::WentBack
        } else if trimmed > from.count {
            Verdict::Gap
        } else {
            Verdict::InStep
        }
    }
}

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

/// The revocations of an `HSCAN` batch (field, value, field, value...) still valid at `now`;
/// a value that does not parse is skipped.
fn parse_stored(pairs: Vec<Value>, now: u64) -> Vec<Revocation> {
    pairs
        .into_iter()
        .skip(1)
        .step_by(2)
        .filter_map(|value| match value {
            Value::BulkString(bytes) => Revocation::from_json(&bytes),
            _ => None,
        })
        .filter(|revocation| revocation.until() >= now)
        .collect()
}

/// Reads a reply of [`READ`].
fn parse_read(reply: Value) -> Option<Read> {
    let Value::Array(parts) = reply else {
        return None;
    };
    let mut parts = parts.into_iter();
    let last_generated = StreamId::parse(&String::from_redis_value(parts.next()?).ok()?)?;
    let added = u64::from_redis_value(parts.next()?).ok()?;
    let length = u64::from_redis_value(parts.next()?).ok()?;
    let Value::Array(entries) = parts.next()? else {
        return None;
    };
    // Every message counts towards the position; one whose fields are malformed is applied as
    // an empty (ignored) message.
    let batch = entries
        .into_iter()
        .map(parse_entry)
        .collect::<Option<Vec<_>>>()?;
    let holds_position = parts.next().map_or(Some(false), |held| {
        i64::from_redis_value(held).ok().map(|held| held > 0)
    })?;
    Some(Read {
        last_generated,
        added,
        length,
        batch,
        holds_position,
    })
}

/// One message of the log: its id, sender and payload. Only a reply without an id is refused;
/// malformed fields give an empty payload (ignored when applied) or sender 0 (no process's id).
fn parse_entry(entry: Value) -> Option<(StreamId, u64, Vec<u8>)> {
    let Value::Array(entry) = entry else {
        return None;
    };
    let mut entry = entry.into_iter();
    let id = StreamId::parse(&String::from_redis_value(entry.next()?).ok()?)?;
    let (mut sender, mut payload) = (0, Vec::new());
    let Some(Value::Array(fields)) = entry.next() else {
        return Some((id, sender, payload));
    };
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        match Vec::<u8>::from_redis_value(name)
            .unwrap_or_default()
            .as_slice()
        {
            b"m" => payload = Vec::<u8>::from_redis_value(value).unwrap_or_default(),
            b"o" => {
                sender = Vec::<u8>::from_redis_value(value)
                    .ok()
                    .and_then(|o| std::str::from_utf8(&o).ok()?.parse().ok())
                    .unwrap_or(0);
            }
            _ => {}
        }
    }
    Some((id, sender, payload))
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
    mut position: Position,
    mut outages: tokio::sync::watch::Receiver<u64>,
    mut wakeups: tokio::sync::mpsc::Receiver<(String, Vec<u8>)>,
) {
    let mut must_resync = false;
    let mut last_read = tokio::time::Instant::now();
    // Said once per spell of failures, not at every retry.
    let mut failing = false;
    let mut wait = Duration::ZERO;
    let mut backoff = Duration::from_millis(100);
    loop {
        {
            let Some(wake) = store.upgrade().map(|store| store.wake.clone()) else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                // Another process appended: read now (the poll is the guarantee, not this).
                Some(_) = wakeups.recv() => {
                    // A burst wakes a process thousands of times: one read per few ms takes
                    // them all, in batches.
                    tokio::time::sleep_until(last_read + COALESCE).await;
                    while wakeups.try_recv().is_ok() {}
                }
                // A revocation was queued: sent below.
                () = wake.notified() => {}
                changed = outages.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    must_resync = true;
                }
            }
        }
        let Some(store) = store.upgrade() else { return };
        if !store.feed.is_alive() {
            return;
        }
        let poll = store.options.poll_interval;
        // What an outage queued goes first, but a store refusing it does not stop the reading.
        if !store.lock_outbox().is_empty() {
            match store.flush_outbox().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "queued revocations sent"),
                Err(e) => tracing::debug!(error = %e, "queued revocations not sent yet"),
            }
        }
        if must_resync {
            outages.borrow_and_update();
            match resync(&store).await {
                Ok(at) => {
                    position = at;
                    must_resync = false;
                    failing = false;
                    backoff = Duration::from_millis(100);
                }
                Err(_) if !store.feed.is_alive() => return,
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(error = %e, "revocation store unreachable: using the last known revocations until it is back");
                    }
                    wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        last_read = tokio::time::Instant::now();
        match store.read(position.last, BATCH).await {
            Ok(read) => match read.verdict(&position) {
                Verdict::InStep => {
                    failing = false;
                    backoff = Duration::from_millis(100);
                    let full = read.batch.len() == BATCH;
                    if let Some((last, _, _)) = read.batch.last() {
                        position = Position {
                            last: *last,
                            count: position.count + read.batch.len() as u64,
                        };
                    }
                    apply_batch(&store.feed, read.batch);
                    wait = if full { Duration::ZERO } else { poll };
                }
                verdict => {
                    tracing::warn!(
                        ?verdict,
                        "the control log may hold less than this process missed: reloading"
                    );
                    must_resync = true;
                    wait = Duration::ZERO;
                }
            },
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "could not read the control log: trying again");
                }
                wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(last: (u64, u64), added: u64, length: u64) -> Read {
        Read {
            last_generated: StreamId(last.0, last.1),
            added,
            length,
            batch: Vec::new(),
            holds_position: true,
        }
    }

    #[test]
    fn a_read_knows_when_messages_were_missed() {
        let at = Position {
            last: StreamId(100, 0),
            count: 10,
        };
        // 15 added, 5 of them (the read ones) trimmed: nothing missed.
        assert_eq!(read((200, 0), 15, 10).verdict(&at), Verdict::InStep);
        // 15 added, 11 trimmed: one this process had not read.
        assert_eq!(read((200, 0), 15, 4).verdict(&at), Verdict::Gap);
        // The log holds less than was read: a failover lost messages, or the key went.
        assert_eq!(read((90, 0), 15, 15).verdict(&at), Verdict::WentBack);
        assert_eq!(read((0, 0), 0, 0).verdict(&at), Verdict::WentBack);
        assert_eq!(read((300, 0), 8, 8).verdict(&at), Verdict::WentBack);
        assert_eq!(
            read((0, 0), 0, 0).verdict(&Position::default()),
            Verdict::InStep
        );
        assert_eq!(read((200, 0), 5, 6).verdict(&at), Verdict::WentBack);
        // The message at the position is gone but fewer were trimmed than read up to it: the
        // log was deleted and written again (more messages since than this process had read).
        let refilled = Read {
            holds_position: false,
            ..read((300, 0), 12, 12)
        };
        assert_eq!(refilled.verdict(&at), Verdict::WentBack);
        // Gone by trimming: every message up to it was trimmed.
        let trimmed = Read {
            holds_position: false,
            ..read((300, 0), 15, 5)
        };
        assert_eq!(trimmed.verdict(&at), Verdict::InStep);
    }

    #[test]
    fn stream_ids_order_as_redis_orders_them() {
        assert!(StreamId::parse("10-2") < StreamId::parse("10-10"));
        assert!(StreamId::parse("9-99") < StreamId::parse("10-0"));
        assert_eq!(StreamId::parse("x-1"), None);
        assert_eq!(
            StreamId::parse("7-1").map(|id| id.to_string()),
            Some("7-1".into())
        );
    }

    #[test]
    fn a_read_reply_is_parsed_and_a_wrong_shape_refused() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let reply = Value::Array(vec![
            bulk("5-1"),
            Value::Int(3),
            Value::Int(2),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("5-1"),
                    Value::Array(vec![bulk("m"), bulk("{}"), bulk("o"), bulk("42")]),
                ]),
                Value::Array(vec![bulk("5-2"), Value::Nil]),
            ]),
            Value::Int(1),
        ]);
        let read = parse_read(reply).expect("parsed");
        assert_eq!(read.last_generated, StreamId(5, 1));
        assert_eq!((read.added, read.length), (3, 2));
        assert_eq!(
            read.batch,
            vec![
                (StreamId(5, 1), 42, b"{}".to_vec()),
                (StreamId(5, 2), 0, Vec::new())
            ],
            "a message with malformed fields still counts"
        );
        assert!(read.holds_position);
        assert!(parse_read(Value::Nil).is_none());
        assert!(parse_read(Value::Array(vec![bulk("nope")])).is_none());
    }
}
