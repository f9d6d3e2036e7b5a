//! Where a socket's session is kept: a process-wide map from the socket (its address) to its
//! session, the entry owned by the socket's `authenticate` handler ([`SessionGuard`]).
//!
//! socketioxide's per-socket extensions would do, but their first entry allocates a map of four
//! buckets (148 bytes) and a box (8), ~190 bytes of glibc chunks per socket: a fifth of what this
//! crate adds to a held socket. An entry here is 24 bytes in a shared table (~45 bytes per
//! socket with the table's spare room).
//!
//! **Lifetime.** socketioxide keeps a socket's handlers until the socket is dropped, so the
//! guard, inside the `authenticate` handler, removes the entry then, as the extensions would
//! have. A socket's address is its key: the guard's `Weak` keeps the address taken until the
//! guard removes the entry, so no other socket can have it meanwhile.
//!
//! Should the application register its own `authenticate` handler on a socket, ours is dropped
//! with its guard while the socket lives. The session must not go then (its timer enforces the
//! token's expiry and revocation, and disconnect handlers read who left): the guard moves into
//! the socket's extensions, where it goes with the socket, and the socket is disconnected.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use foldhash::fast::FixedState;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;

/// Shards of the table: sockets connect and go on every core at once.
const SHARDS: usize = 16;

type Sessions = HashMap<usize, Arc<dyn Any + Send + Sync>, FixedState>;

/// One shard, alone on its cache lines: neighbouring shards' locks do not bounce between cores.
#[repr(align(128))]
struct Shard(Mutex<Sessions>);

/// Keys are heap addresses, chosen by the allocator, not by a client: a fixed hasher will do.
static TABLE: [Shard; SHARDS] =
    [const { Shard(Mutex::new(HashMap::with_hasher(FixedState::with_seed(0)))) }; SHARDS];

/// A shard keeps room for at least this many entries; below a quarter full it gives the rest
/// back (after a storm of sockets, the table would otherwise keep its peak size).
const MIN_CAPACITY: usize = 64;

/// The key of a socket: its address, unique while it lives.
fn key_of<A: Adapter>(s: &Socket<A>) -> usize {
    std::ptr::from_ref(s).addr()
}

/// The shard of `key`: Fibonacci hashing of the address (its low bits are the allocator's
/// alignment), its top bits.
fn shard_index(key: usize) -> usize {
    let hash = (key as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The top log2(SHARDS) bits: below SHARDS, so the cast loses nothing.
    (hash >> (u64::BITS - SHARDS.ilog2())) as usize
}

fn shard(key: usize) -> MutexGuard<'static, Sessions> {
    // Every operation on a shard completes or panics before touching it.
    TABLE[shard_index(key)]
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The session of `s`, if it has one of type `T`.
pub(crate) fn session<T, A>(s: &Socket<A>) -> Option<Arc<T>>
where
    T: Any + Send + Sync,
    A: Adapter,
{
    let key = key_of(s);
    let session = shard(key).get(&key)?.clone();
    session.downcast().ok()
}

/// How many sockets of this process have a session (pending, guest or authenticated).
pub(crate) fn count() -> usize {
    TABLE
        .iter()
        .map(|shard| shard.0.lock().unwrap_or_else(|e| e.into_inner()).len())
        .sum()
}

/// A socket's session and its entry in the table, removed when this is dropped: kept by the
/// socket's `authenticate` handler, which socketioxide drops with the socket.
pub(crate) struct SessionGuard<A: Adapter, T: Any + Send + Sync> {
    /// The socket, whose address is the key.
    socket: Weak<Socket<A>>,
    session: Arc<T>,
}

impl<A: Adapter, T: Any + Send + Sync> SessionGuard<A, T> {
    /// Puts `session` in the table as the session of `s`, until the guard is dropped.
    pub(crate) fn keep(s: &Arc<Socket<A>>, session: Arc<T>) -> Self {
        let key = key_of(s);
        let replaced = shard(key).insert(key, session.clone());
        if replaced.is_some() {
            // Not done by any path; the earlier guard leaves this entry alone (see `Drop`).
            tracing::error!(sid = %s.id, "a socket was given a second session");
        }
        Self {
            socket: Arc::downgrade(s),
            session,
        }
    }

    /// The session.
    pub(crate) fn session(&self) -> &Arc<T> {
        &self.session
    }
}

/// Removes the entry of `socket`, if it still holds `session`.
fn remove<A: Adapter, T: Any + Send + Sync>(socket: &Weak<Socket<A>>, session: &Arc<T>) {
    let key = Weak::as_ptr(socket).addr();
    let mut shard = shard(key);
    let ours = shard
        .get(&key)
        .is_some_and(|s| std::ptr::addr_eq(Arc::as_ptr(s), Arc::as_ptr(session)));
    let removed = if ours { shard.remove(&key) } else { None };
    let (len, capacity) = (shard.len(), shard.capacity());
    if capacity > 2 * MIN_CAPACITY && len < capacity / 4 {
        shard.shrink_to((len * 2).max(MIN_CAPACITY));
    }
    // Dropped after the shard's lock: dropping a session disarms its timer.
    drop(shard);
    drop(removed);
}

/// A [`SessionGuard`] whose handler was replaced, parked in the socket's extensions: it removes
/// the entry when it is dropped, with the socket or sooner (the application clearing the
/// extensions: it never parks again, which would lock the extensions from inside their own lock).
struct ParkedGuard<A: Adapter, T: Any + Send + Sync> {
    socket: Weak<Socket<A>>,
    session: Arc<T>,
}

impl<A: Adapter, T: Any + Send + Sync> Drop for ParkedGuard<A, T> {
    fn drop(&mut self) {
        remove(&self.socket, &self.session);
    }
}

impl<A: Adapter, T: Any + Send + Sync> Drop for SessionGuard<A, T> {
    fn drop(&mut self) {
        // With the socket itself, it cannot be upgraded any more: the usual way.
        let Some(socket) = self.socket.upgrade() else {
            return remove(&self.socket, &self.session);
        };
        tracing::warn!(sid = %socket.id, "the application replaced the `authenticate` handler; the socket is disconnected");
        // The session stays with the socket, in its extensions (their own lock, not the
        // handler map's, which socketioxide holds while it replaces a handler).
        socket.extensions.insert(Arc::new(ParkedGuard {
            socket: self.socket.clone(),
            session: self.session.clone(),
        }));
        // Not here: a disconnect runs the application's disconnect handler, and the handler
        // map is locked. Outside a runtime (never, from socketioxide), the session's timer
        // still ends the socket at its token's expiry.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = socket.disconnect();
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_spread_over_every_shard() {
        let mut seen = [0usize; SHARDS];
        // Addresses as an allocator hands out chunks of one size: 16-byte aligned, a stride apart.
        for i in 0..4096usize {
            seen[shard_index(0x5555_0000 + i * 1104)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 4096 / SHARDS / 2), "{seen:?}");
        assert!(shard_index(usize::MAX) < SHARDS);
    }
}
