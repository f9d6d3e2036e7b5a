//! The store's side of one process: a revocation stored and appended to the control log in one
//! script, a refresh request appended, what an outage queued, and why a send failed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use socketioxide_jwt::revocation::{Revocation, RevocationError, RevocationFeed};

use super::options::RedisRevocationOptions;
use crate::driver::{publish_command, RedisDriver, RedisDriverError};

pub(super) fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> RevocationError {
    RevocationError::Unavailable(Box::new(e))
}

/// How many hashes the revocations are spread over (by field): a new process reads them all at
/// once, so that Redis' work on one overlaps the reading of the others' replies.
pub(super) const HASHES: usize = 16;

/// Stores a revocation until its expiry and appends it to the control log, atomically and with
/// one reply. Not a `MULTI`/`EXEC` pipeline: redis-rs fails to parse an `EXEC` reply with a push
/// between its parts ("Invalid response when parsing multi response"). On a Cluster the hash,
/// the log and the wake-up throttle share one hash slot, so that the script stays on one shard.
///
/// `KEYS`: the hash, the log, the wake-up throttle (as in [`APPEND`]). `ARGV[1]`: the entry's
/// JSON; `ARGV[2]`: its
/// `until`; `ARGV[3]`: its `issued_before` (empty for the kinds without one); `ARGV[4]`: the
/// latest `until` stored ([`Revocation::MAX_UNTIL`]); `ARGV[5]` and `ARGV[6]`: the sender's id and
/// the log's retention (ms), as in [`APPEND`]; `ARGV[7]`: the entry's field; `ARGV[8]` and
/// `ARGV[9]`: the publish command and the wake-up channel, as in [`APPEND`].
///
/// The stored entry is merged, not overwritten: when the field holds a later `issued_before` or
/// `until` (a process that had not heard a stronger revocation yet sends a weaker one), those
/// are kept in what is stored and appended. An entry stored already as it would be is not
/// appended again (every process sending back what a failover lost appends it once). Then two
/// random fields of the hash are looked at (`HRANDFIELD`, O(1)), and dropped if expired: with
/// each write adding at most one field, the hash settles at about as many expired fields as
/// live ones at worst (a cursor's `HSCAN` here cost five times the rest of the script).
const STORE_AND_APPEND: &str = r#"
local value, exat, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local stored = redis.call('HGET', KEYS[1], ARGV[7])
if stored then
  local ok, held = pcall(cjson.decode, stored)
  if ok and type(held) == 'table' then
    local before = tonumber(ARGV[3])
    if before and type(held.issued_before) == 'number' and held.issued_before > before then
      local kept = string.format('%.0f', math.min(held.issued_before, max))
      value = string.gsub(value, '"issued_before":%d+', '"issued_before":' .. kept, 1)
    end
    if type(held['until']) == 'number' and held['until'] > exat then
      exat = math.min(held['until'], max)
      value = string.gsub(value, '"until":%d+', '"until":' .. string.format('%.0f', exat), 1)
    end
  end
end
if value == stored then return 0 end
redis.call('HSET', KEYS[1], ARGV[7], value)
local now = redis.call('TIME')
local sample = redis.call('HRANDFIELD', KEYS[1], 2, 'WITHVALUES')
for i = 1, #sample, 2 do
  local u = tonumber(string.match(sample[i + 1], '"until":(%d+)'))
  if u and u < tonumber(now[1]) then redis.call('HDEL', KEYS[1], sample[i]) end
end
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[6])
redis.call('XADD', KEYS[2], 'MINID', '~', string.format('%.0f', math.max(oldest, 0)), '*', 'm', value, 'o', ARGV[5])
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', 5) then redis.call(ARGV[8], ARGV[9], '') end
return 1
"#;

/// Appends a message that is not stored (a refresh request) to the control log `KEYS[1]`:
/// `ARGV[1]` the message, `ARGV[2]` the sender's id (its own messages are skipped when read
/// back), `ARGV[3]` the retention in ms (older messages are trimmed, by Redis' clock); then an
/// empty message on the wake-up channel `ARGV[5]` (`ARGV[4]`: `PUBLISH`, or `SPUBLISH` on a
/// Cluster, the channel sharing the log's hash slot), so that the other processes read at once
/// rather than at their next poll; at most one every 5 ms (`KEYS[2]`, set for 5 ms, holds the
/// others back: a burst wakes each process a few hundred times a second, not once per message).
/// The wake-up is only that: one lost or held back costs a poll interval at most.
const APPEND: &str = r#"
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%.0f', math.max(oldest, 0)), '*', 'm', ARGV[1], 'o', ARGV[2])
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', 5) then redis.call(ARGV[4], ARGV[5], '') end
return 1
"#;

/// The shared store: the driver, the revocations waiting to be sent.
pub(super) struct Store {
    pub(super) driver: RedisDriver,
    pub(super) options: RedisRevocationOptions,
    pub(super) outbox: Mutex<VecDeque<Revocation>>,
    /// Wakes the log's reader (to send what the outbox holds).
    pub(super) wake: Arc<tokio::sync::Notify>,
    /// The list's way in: what the other processes appended is applied through it; its
    /// sender id tags this process's messages (skipped when read back).
    pub(super) feed: RevocationFeed,
    /// How many times in a row Redis refused the outbox's first revocation.
    pub(super) front_rejections: std::sync::atomic::AtomicU32,
}

/// A revocation Redis refused this many times in a row (an error reply, not an outage) is set
/// aside, so that the ones queued behind it still reach the other processes.
pub(super) const MAX_REJECTIONS: u32 = 3;

/// Error replies that say "later", not "never": a loading, busy or failing-over server, or a
/// master that cannot replicate now (`min-replicas-to-write`).
const TRANSIENT_REPLIES: [&str; 10] = [
    "LOADING",
    "BUSY",
    "TRYAGAIN",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "READONLY",
    "OOM",
    "NOREPLICAS",
    // A Cluster resharding (redis-rs follows a few redirections, then returns the last).
    "MOVED",
    "ASK",
];

/// Why a send failed: Redis could not be reached (or was busy), or it refused this revocation.
#[derive(Debug)]
pub(super) enum SendFailure {
    Unreachable(RevocationError),
    Rejected(RedisDriverError),
}

impl SendFailure {
    pub(super) fn from_driver(e: RedisDriverError) -> Self {
        match &e {
            RedisDriverError::Redis(redis) => {
                // Redis 6 wraps an error raised inside a script: `ERR ... -NOREPLICAS ...`.
                let detail = redis.detail().unwrap_or_default();
                // Whole words only: `BUSYKEY` is no `BUSY`.
                let transient = |code: &str| {
                    TRANSIENT_REPLIES.contains(&code)
                        || detail
                            .split(|c: char| !c.is_ascii_alphanumeric())
                            .any(|word| TRANSIENT_REPLIES.contains(&word))
                };
                match redis.code() {
                    Some(code) if !transient(code) => Self::Rejected(e),
                    _ => Self::Unreachable(unavailable(e)),
                }
            }
            _ => Self::Unreachable(unavailable(e)),
        }
    }

    pub(super) fn into_error(self) -> RevocationError {
        match self {
            Self::Unreachable(e) => e,
            Self::Rejected(e) => unavailable(e),
        }
    }
}

impl Store {
    /// The channel that tells the processes to read the log now.
    pub(super) fn wake_channel(&self) -> String {
        format!("{}wake", self.options.key_prefix)
    }

    /// The key that holds wake-ups back for 5 ms after one.
    pub(super) fn wake_throttle(&self) -> String {
        format!("{}woken", self.options.key_prefix)
    }

    /// The revocations' hash number `shard`.
    pub(super) fn hash(&self, shard: usize) -> String {
        format!("{}all:{shard}", self.options.key_prefix)
    }

    /// Which hash holds `field`: the same in every process (FNV-1a, not a seeded hash).
    pub(super) fn shard_of(field: &str) -> usize {
        let hash = field.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % HASHES as u64) as usize
    }

    /// Stores `revocation` (with the expiry of what it revokes) and tells the other processes.
    pub(super) async fn send(&self, revocation: &Revocation) -> Result<(), RevocationError> {
        self.try_send(revocation)
            .await
            .map_err(SendFailure::into_error)
    }

    pub(super) async fn try_send(&self, revocation: &Revocation) -> Result<(), SendFailure> {
        // Every number in the stored JSON within what Redis' Lua (doubles) reads exactly.
        let revocation = revocation.clone().with_until_at_most(Revocation::MAX_UNTIL);
        let until = revocation.until().max(1);
        let json = serde_json::to_string(&revocation)
            .map_err(|e| SendFailure::Unreachable(unavailable(e)))?;
        let issued_before = match &revocation {
            Revocation::User { issued_before, .. } => issued_before.to_string(),
            _ => String::new(),
        };
        let field = revocation.key();
        let shard = Self::shard_of(&field);
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(STORE_AND_APPEND)
            .arg(3)
            .arg(self.hash(shard))
            .arg(&self.options.stream)
            .arg(self.wake_throttle())
            .arg(&json)
            .arg(until)
            .arg(issued_before)
            .arg(Revocation::MAX_UNTIL)
            .arg(self.feed.sender())
            .arg(self.retention_ms())
            .arg(field)
            .arg(publish_command(self.driver.is_cluster()))
            .arg(self.wake_channel());
        self.driver
            .query::<()>(&cmd)
            .await
            .map_err(SendFailure::from_driver)
    }

    pub(super) fn lock_outbox(&self) -> std::sync::MutexGuard<'_, VecDeque<Revocation>> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn retention_ms(&self) -> u64 {
        u64::try_from(self.options.log_retention.as_millis()).unwrap_or(u64::MAX)
    }

    /// Appends a message that is not stored (a refresh request) to the log.
    pub(super) async fn append(&self, message: &str) -> Result<(), RedisDriverError> {
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(APPEND)
            .arg(2)
            .arg(&self.options.stream)
            .arg(self.wake_throttle())
            .arg(message)
            .arg(self.feed.sender())
            .arg(self.retention_ms())
            .arg(publish_command(self.driver.is_cluster()))
            .arg(self.wake_channel());
        self.driver.query::<()>(&cmd).await
    }
}

#[cfg(test)]
mod tests {
    use super::Store;

    #[test]
    fn a_field_lives_in_the_same_hash_in_every_process() {
        // FNV-1a 64 modulo 16: the values bench/revocations.py computes too.
        assert_eq!(Store::shard_of("sid:s-1"), 14);
        assert_eq!(Store::shard_of("jti:abc"), 12);
        assert_eq!(Store::shard_of("sid:lost-1"), 11);
    }
}
