//! The log's replies: stream ids, a process's position, one read and what it says of that
//! position, and the parsing of Redis' answers.

use ::redis::{FromRedisValue, Value};

use socketioxide_jwt::revocation::Revocation;

/// A stream id (`<ms>-<seq>`), ordered as Redis orders them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StreamId(pub(super) u64, pub(super) u64);

impl StreamId {
    pub(super) fn parse(id: &str) -> Option<Self> {
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
pub(in crate::revocations) struct Position {
    pub(super) last: StreamId,
    pub(super) count: u64,
}

/// One read of the log.
#[derive(Debug)]
pub(super) struct Read {
    /// The last id the log generated.
    pub(super) last_generated: StreamId,
    /// How many messages it was ever given.
    pub(super) added: u64,
    /// How many it holds now (the others were trimmed).
    pub(super) length: u64,
    /// The messages after the position: id, sender, payload.
    pub(super) batch: Vec<(StreamId, u64, Vec<u8>)>,
    /// Whether the log still holds the message at the position.
    pub(super) holds_position: bool,
}

/// What a read says of the position it was made from.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
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
    pub(super) fn verdict(&self, from: &Position) -> Verdict {
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

/// The revocations of an `HSCAN` batch (field, value, field, value...) still valid at `now`;
/// a value that does not parse is skipped.
pub(super) fn parse_stored(pairs: Vec<Value>, now: u64) -> Vec<Revocation> {
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
pub(super) fn parse_read(reply: Value) -> Option<Read> {
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
pub(super) fn parse_entry(entry: Value) -> Option<(StreamId, u64, Vec<u8>)> {
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
