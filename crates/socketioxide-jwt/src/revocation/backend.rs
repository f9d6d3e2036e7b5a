//! The seam between a [`RevocationList`] and what carries its messages to the other processes
//! (a store and a log: the `socketioxide-jwt-redis` crate is one): the list sends through a
//! [`RevocationBackend`], and the backend hands what it heard from the others to the list's
//! [`RevocationFeed`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{ListInner, RefreshRequest, Revocation, RevocationError, RevocationList};
use crate::future::BoxFuture;

/// Carries a list's messages to the other processes, and remembers what must be done once
/// across them. Implemented by a shared store (`socketioxide-jwt-redis`); connect one with
/// [`RevocationList::with_backend`].
///
/// Its contract: a message it accepted (`Ok`) reaches every live process's list, through that
/// process's [`RevocationFeed`], or that process learns it may have missed something and
/// reloads the whole set ([`RevocationFeed::replace_with`]).
///
/// # Example
/// A backend for one process, that sends nothing anywhere:
/// ```
/// use socketioxide_jwt::revocation::{RefreshRequest, Revocation, RevocationBackend, RevocationError};
/// use socketioxide_jwt::BoxFuture;
///
/// struct Nowhere;
/// impl RevocationBackend for Nowhere {
///     fn publish<'a>(&'a self, _: &'a Revocation) -> BoxFuture<'a, Result<(), RevocationError>> {
///         Box::pin(async { Ok(()) })
///     }
///     fn broadcast_refresh<'a>(&'a self, _: &'a RefreshRequest) -> BoxFuture<'a, Result<(), RevocationError>> {
///         Box::pin(async { Ok(()) })
///     }
///     fn record_once<'a>(&'a self, _: &'a str, _: u64) -> BoxFuture<'a, Result<bool, RevocationError>> {
///         Box::pin(async { Ok(true) })
///     }
///     fn forget_record<'a>(&'a self, _: &'a str) -> BoxFuture<'a, ()> {
///         Box::pin(async {})
///     }
/// }
/// ```
pub trait RevocationBackend: Send + Sync + 'static {
    /// Sends a revocation, already applied in this process, to the others (and stores it for
    /// the processes that start later).
    ///
    /// # Errors
    /// [`RevocationError::Queued`] when it will be sent later, [`RevocationError::Unavailable`]
    /// when it will not.
    fn publish<'a>(
        &'a self,
        revocation: &'a Revocation,
    ) -> BoxFuture<'a, Result<(), RevocationError>>;

    /// Tells the other processes to ask their matching sockets to refresh (not stored).
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when the others cannot be told.
    fn broadcast_refresh<'a>(
        &'a self,
        request: &'a RefreshRequest,
    ) -> BoxFuture<'a, Result<(), RevocationError>>;

    /// Records `id` until `until` (seconds since the epoch) unless it is recorded already:
    /// `true` the first time, in every process (back-channel logout tokens are acted on once).
    ///
    /// # Errors
    /// When the store cannot be reached: this process's memory then decides.
    fn record_once<'a>(
        &'a self,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>>;

    /// Forgets a record of [`record_once`](Self::record_once) (best effort).
    fn forget_record<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()>;
}

/// A backend's way into its list: what the other processes sent is applied here. Holds the list
/// weakly: once the list is dropped, [`is_alive`](Self::is_alive) is `false` and the methods
/// that reach the list say so (`None`, `false`), so that the backend's tasks can end.
#[derive(Clone)]
pub struct RevocationFeed {
    list: Weak<ListInner>,
    sender: u64,
}

impl std::fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationFeed")
            .field("sender", &self.sender)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl RevocationFeed {
    /// The list's id among the processes (random): a backend tags what it sends with it, and
    /// skips its own messages when it hears them back.
    pub fn sender(&self) -> u64 {
        self.sender
    }

    /// Whether the list still exists.
    pub fn is_alive(&self) -> bool {
        self.list.strong_count() > 0
    }

    fn list(&self) -> Option<RevocationList> {
        self.list.upgrade().map(|inner| RevocationList { inner })
    }

    /// Applies revocations made by other processes (in one pass over this process's sockets).
    /// `false` when the list is gone.
    pub fn apply(&self, revocations: Vec<Revocation>) -> bool {
        let Some(list) = self.list() else {
            return false;
        };
        for revocation in &revocations {
            crate::metrics::revocation(revocation.kind_label(), "remote");
        }
        list.apply_all(revocations);
        true
    }

    /// Applies a refresh request heard from the others, unless this list sent it. `false` when
    /// skipped or the list is gone.
    pub fn refresh_requested(&self, request: &RefreshRequest) -> bool {
        self.list().is_some_and(|list| list.hear_refresh(request))
    }

    /// Replaces what the list holds with `stored` (the store's whole set) plus what the list
    /// holds that `stored` lacks, and disconnects the sockets the result revokes. Returns what
    /// `stored` lacked (lost by the store, or never sent to it): what the backend must send
    /// again. `None` when the list is gone. O(stored + held + live sockets).
    pub fn replace_with(&self, stored: Vec<Revocation>) -> Option<Vec<Revocation>> {
        self.list().map(|list| list.replace_with(stored))
    }

    /// Counts a revocation the store kept refusing and the backend gave up sending (it applies
    /// in this process only), in the metrics (`origin="set_aside"`).
    pub fn set_aside(&self, revocation: &Revocation) {
        crate::metrics::revocation(revocation.kind_label(), "set_aside");
    }
}

impl RevocationList {
    /// A list whose messages `connect` carries to the other processes: it is given the list's
    /// feed (to load what is stored and apply what it hears), and returns the backend. User
    /// revocations last `max_token_lifetime`, as in [`with_lifetime`](Self::with_lifetime).
    ///
    /// # Errors
    /// What `connect` returns.
    ///
    /// # Example
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # use socketioxide_jwt::revocation::{RefreshRequest, Revocation, RevocationBackend, RevocationError};
    /// # use socketioxide_jwt::BoxFuture;
    /// # struct Nowhere;
    /// # impl RevocationBackend for Nowhere {
    /// #     fn publish<'a>(&'a self, _: &'a Revocation) -> BoxFuture<'a, Result<(), RevocationError>> { Box::pin(async { Ok(()) }) }
    /// #     fn broadcast_refresh<'a>(&'a self, _: &'a RefreshRequest) -> BoxFuture<'a, Result<(), RevocationError>> { Box::pin(async { Ok(()) }) }
    /// #     fn record_once<'a>(&'a self, _: &'a str, _: u64) -> BoxFuture<'a, Result<bool, RevocationError>> { Box::pin(async { Ok(true) }) }
    /// #     fn forget_record<'a>(&'a self, _: &'a str) -> BoxFuture<'a, ()> { Box::pin(async {}) }
    /// # }
    /// use std::time::Duration;
    /// use socketioxide_jwt::RevocationList;
    /// let list = RevocationList::with_backend(Duration::from_secs(3600), |feed| async move {
    ///     // A real backend loads the stored set here, and starts listening to the others.
    ///     feed.replace_with(Vec::new());
    ///     Ok::<_, RevocationError>(Nowhere)
    /// })
    /// .await
    /// .unwrap();
    /// assert!(list.is_empty());
    /// # });
    /// ```
    pub async fn with_backend<B, E, F, Fut>(
        max_token_lifetime: Duration,
        connect: F,
    ) -> Result<Self, E>
    where
        B: RevocationBackend,
        F: FnOnce(RevocationFeed) -> Fut,
        Fut: std::future::Future<Output = Result<B, E>>,
    {
        let list = Self::with_lifetime(max_token_lifetime);
        let feed = RevocationFeed {
            list: Arc::downgrade(&list.inner),
            sender: list.inner.id,
        };
        let backend = connect(feed).await?;
        list.set_backend(Arc::new(backend));
        Ok(list)
    }
}
