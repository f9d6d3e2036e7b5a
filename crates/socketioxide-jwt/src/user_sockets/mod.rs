//! The cap on authenticated sockets per user (`JwtAuthBuilder::max_sockets_per_user`): where the
//! places are counted ([`UserSockets`]: this process, or Redis for a cluster) and the place a
//! socket holds while it is authenticated ([`UserPlace`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::future::BoxFuture;

/// Where [`UserSockets`] counts places, and gives them back: this process's memory, or a
/// shared store (`socketioxide-jwt-redis`'s `RedisDriver::user_sockets`). Plug one in with
/// [`UserSockets::with_store`].
///
/// What an implementation is given and must do:
/// - `sub` is the user's key: the token's `sub`, or `<iss>#<sub>` once several issuers are
///   trusted (the same `sub` at two issuers is two users);
/// - [`acquire`](Self::acquire) is awaited while the socket authenticates, with no timeout of
///   the library's: bound it yourself (a store that cannot answer should say `Some` or `None`
///   soon, not hang), and expect its future to be dropped half-way (the socket closed);
/// - [`release`](Self::release) runs in a `Drop` (the socket closed or its session ended): it
///   must not block and must not panic (a panic while unwinding aborts the process); queue the
///   work for a task.
///
/// # Example
/// A store that lets every user hold one place, whatever the cap:
/// ```
/// use socketioxide_jwt::{limits::PlaceStore, BoxFuture};
/// use std::sync::Mutex;
/// use std::collections::HashSet;
///
/// #[derive(Default)]
/// struct OnePlace(Mutex<HashSet<String>>);
/// impl PlaceStore for OnePlace {
///     fn acquire<'a>(&'a self, sub: &'a str, _max: usize) -> BoxFuture<'a, Option<u64>> {
///         let taken = self.0.lock().unwrap().insert(sub.to_owned());
///         Box::pin(async move { taken.then_some(0) })
///     }
///     fn release(&self, sub: &str, _id: u64) {
///         self.0.lock().unwrap().remove(sub);
///     }
///     fn local_count(&self, sub: &str) -> usize {
///         usize::from(self.0.lock().unwrap().contains(sub))
///     }
/// }
/// let sockets = socketioxide_jwt::limits::UserSockets::with_store(OnePlace::default());
/// # let _ = sockets;
/// ```
pub trait PlaceStore: Send + Sync + 'static {
    /// Takes one of `sub`'s places if fewer than `max` are taken; the place's id, or `None`.
    fn acquire<'a>(&'a self, sub: &'a str, max: usize) -> BoxFuture<'a, Option<u64>>;
    /// Gives place `id` of `sub` back. Never blocks.
    fn release(&self, sub: &str, id: u64);
    /// Places taken by `sub` as this process counts them.
    fn local_count(&self, sub: &str) -> usize;
}

/// A shared store counts as the store it points to.
impl<T: PlaceStore + ?Sized> PlaceStore for Arc<T> {
    fn acquire<'a>(&'a self, sub: &'a str, max: usize) -> BoxFuture<'a, Option<u64>> {
        (**self).acquire(sub, max)
    }
    fn release(&self, sub: &str, id: u64) {
        (**self).release(sub, id);
    }
    fn local_count(&self, sub: &str) -> usize {
        (**self).local_count(sub)
    }
}

/// Where the places of [`max_sockets_per_user`](crate::JwtAuthBuilder::max_sockets_per_user) are
/// counted: in this process ([`UserSockets::in_memory`], the default) or across every process of
/// a cluster (`socketioxide-jwt-redis`'s `RedisDriver::user_sockets`), or any [`PlaceStore`].
///
/// Cheap to clone; one counter may serve several configurations (they then share the cap).
///
/// # Example
/// ```
/// # use socketioxide_jwt::keys::Keys;
/// use socketioxide_jwt::{limits::UserSockets, JwtAuth};
/// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
///     .max_sockets_per_user(3, UserSockets::in_memory())
///     .build()?;
/// # let _ = auth;
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct UserSockets {
    store: Arc<dyn PlaceStore>,
}

impl fmt::Debug for UserSockets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSockets").finish_non_exhaustive()
    }
}

impl Default for UserSockets {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl UserSockets {
    /// Counts the sockets of this process only.
    pub fn in_memory() -> Self {
        Self::with_store(LocalPlaces::default())
    }

    /// Counts the sockets in `store`.
    ///
    /// # Example
    /// See [`PlaceStore`].
    pub fn with_store(store: impl PlaceStore) -> Self {
        Self {
            store: Arc::new(store),
        }
    }

    /// How many authenticated sockets of `sub` this process holds (the cluster-wide count lives
    /// in the shared store, when there is one).
    ///
    /// # Example
    /// ```
    /// let sockets = socketioxide_jwt::limits::UserSockets::in_memory();
    /// assert_eq!(sockets.local_count("alice"), 0);
    /// ```
    pub fn local_count(&self, sub: &str) -> usize {
        self.store.local_count(sub)
    }

    /// Takes a place for `sub` if it holds fewer than `max`.
    pub(crate) async fn acquire(&self, sub: &str, max: usize) -> Option<UserPlace> {
        let id = self.store.acquire(sub, max).await?;
        Some(UserPlace {
            store: self.store.clone(),
            sub: sub.into(),
            id,
        })
    }
}

/// One authenticated socket's place under the cap; given back when dropped (the socket closed,
/// was refused, or its session ended).
pub(crate) struct UserPlace {
    store: Arc<dyn PlaceStore>,
    sub: Box<str>,
    id: u64,
}

impl fmt::Debug for UserPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPlace").field("id", &self.id).finish()
    }
}

impl Drop for UserPlace {
    fn drop(&mut self) {
        self.store.release(&self.sub, self.id);
    }
}

/// The in-process count: one number per user holding at least one place.
#[derive(Default)]
struct LocalPlaces {
    counts: Mutex<HashMap<Box<str>, usize>>,
}

impl PlaceStore for LocalPlaces {
    fn acquire<'a>(&'a self, sub: &'a str, max: usize) -> BoxFuture<'a, Option<u64>> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let taken = counts.entry(sub.into()).or_insert(0);
        let place = (*taken < max).then(|| {
            *taken += 1;
            0
        });
        if *taken == 0 {
            counts.remove(sub);
        }
        Box::pin(std::future::ready(place))
    }

    fn release(&self, sub: &str, _id: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(taken) = counts.get_mut(sub) {
            *taken = taken.saturating_sub(1);
            if *taken == 0 {
                counts.remove(sub);
            }
        }
    }

    fn local_count(&self, sub: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(sub).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn places_are_capped_per_user_and_given_back_on_drop() {
        let sockets = UserSockets::in_memory();
        let a1 = sockets.acquire("alice", 2).await.expect("first place");
        let a2 = sockets.acquire("alice", 2).await.expect("second place");
        assert!(sockets.acquire("alice", 2).await.is_none(), "the cap holds");
        let b1 = sockets.acquire("bob", 2).await;
        assert!(b1.is_some(), "other users are unaffected");
        drop(a1);
        assert_eq!(sockets.local_count("alice"), 1);
        let a3 = sockets.acquire("alice", 2).await;
        assert!(a3.is_some(), "a place freed is taken again");
        drop((a2, a3, b1));
        assert_eq!(sockets.local_count("alice"), 0);
        assert!(sockets.store.local_count("bob") == 0);
    }
}
