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
//! have. A socket's address is its key: no other socket can sit at that address before this one
//! is dropped, and its entry goes while it is. Should the application register its own
//! `authenticate` handler on a socket, ours is dropped with its guard while the socket lives:
//! the session (its expiry, its refresh) would go with it, so the socket is disconnected.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use foldhash::fast::FixedState;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;

/// Shards of the table: sockets connect and go on every core at once.
const SHARDS: usize = 16;

type Sessions = HashMap<usize, Arc<dyn Any + Send + Sync>, FixedState>;

/// Keys are heap addresses, chosen by the allocator, not by a client: a fixed hasher will do.
static TABLE: [Mutex<Sessions>; SHARDS] =
    [const { Mutex::new(HashMap::with_hasher(FixedState::with_seed(0))) }; SHARDS];

/// The key of a socket: its address, unique while it lives.
fn key_of<A: Adapter>(s: &Socket<A>) -> usize {
    std::ptr::from_ref(s).addr()
}

/// The shard of `key`: Fibonacci hashing of the address (its low bits are the allocator's
/// alignment), its top bits.
fn shard_index(key: usize) -> usize {
    (key >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - SHARDS.ilog2())
}

fn shard(key: usize) -> MutexGuard<'static, Sessions> {
    // Every operation on a shard completes or panics before touching it.
    TABLE[shard_index(key)]
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
        .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()).len())
        .sum()
}

/// A socket's entry in the table, removed when this is dropped: kept by the socket's
/// `authenticate` handler, which socketioxide drops with the socket.
pub(crate) struct SessionGuard<A: Adapter> {
    /// The socket, whose address is the key.
    socket: Weak<Socket<A>>,
}

impl<A: Adapter> SessionGuard<A> {
    /// Puts `session` in the table as the session of `s`, until the guard is dropped.
    pub(crate) fn keep<T: Any + Send + Sync>(s: &Arc<Socket<A>>, session: Arc<T>) -> Self {
        let key = key_of(s);
        let replaced = shard(key).insert(key, session);
        debug_assert!(replaced.is_none(), "a socket was given a second session");
        Self {
            socket: Arc::downgrade(s),
        }
    }
}

impl<A: Adapter> Drop for SessionGuard<A> {
    fn drop(&mut self) {
        // Removed under the shard's lock, dropped after it: dropping a session disarms its timer.
        let key = Weak::as_ptr(&self.socket).addr();
        let session = shard(key).remove(&key);
        // With the socket itself, it cannot be upgraded any more: the usual way.
        if let Some(socket) = self.socket.upgrade() {
            tracing::warn!(sid = %socket.id, "the application replaced the `authenticate` handler; the socket's session goes with it, so the socket is disconnected");
            // Not here: socketioxide holds the socket's handler map locked while it replaces a
            // handler, and a disconnect runs the application's disconnect handler.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        let _ = socket.disconnect();
                    });
                }
                Err(_) => {
                    let _ = socket.disconnect();
                }
            }
        }
        drop(session);
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
            seen[shard_index(0x5555_0000_0000 + i * 1104)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 4096 / SHARDS / 2), "{seen:?}");
        assert!(shard_index(usize::MAX) < SHARDS);
    }
}
