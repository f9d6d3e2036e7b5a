//! Revocation: refuse tokens (by `jti`), every token of a user issued until now (by `sub`, for
//! every issuer or for one, and `iat`), or every token of a login session (by `sid`) before they
//! expire, and disconnect the sockets that hold them.
//!
//! A [`RevocationList`] is a local, synchronously checked cache: no network round trip per
//! connection. [`RevocationList::in_memory`] serves one process; a [`RevocationBackend`] shares
//! it across processes ([`RevocationList::with_backend`]): the `socketioxide-jwt-redis` crate's
//! `RedisDriver::revocation_list` stores it in Redis and carries every message through a log
//! that no outage, reshard or burst loses.

mod backend;
mod entries;
mod event_ids;
mod held;
mod kinds;
mod live;
#[cfg(feature = "ssf")]
pub(crate) use self::event_ids::SignedEvent;
mod refresh;
mod revoked;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::claims::RegisteredClaims;
use crate::time::unix_now;

pub use self::backend::{RevocationBackend, RevocationFeed};
pub use self::kinds::{Revocation, RevocationCounts, RevocationError};
use self::live::LiveSockets;
pub(crate) use self::live::{LiveFn, LiveTicket, ToSocket};
pub(crate) use self::refresh::issued_since;
pub use self::refresh::{RefreshRequest, RefreshTarget};
use self::revoked::Revoked;

/// A list's parts, one job each: the entries, this process's live sockets, what refresh
/// requests made stale, the logout tokens acted on, and the backend that crosses processes.
pub(crate) struct ListInner {
    /// What is revoked, and for how long.
    revoked: Revoked,
    /// The authenticated sockets of this process a revocation or refresh request may reach.
    live: LiveSockets,
    /// Tokens made stale by refresh requests, for new sockets.
    stale: RwLock<refresh::Stale>,
    /// Logout token ids seen here, by issuer.
    seen_ids: Mutex<event_ids::SeenIds>,
    backend: RwLock<Option<Arc<dyn RevocationBackend>>>,
    /// This list's id among the processes (random): its own messages heard back are skipped.
    id: u64,
}

/// The revoked tokens and users, and the sockets of this process that may have to go.
///
/// Cheap to clone. Give it to [`JwtAuthBuilder::revocations`](crate::JwtAuthBuilder::revocations);
/// one list may serve several configurations.
///
/// # Example
/// ```
/// # use socketioxide_jwt::keys::Keys;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use socketioxide_jwt::{JwtAuth, RevocationList};
/// let revocations = RevocationList::in_memory();
/// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
///     .revocations(revocations.clone())
///     .build()
///     .unwrap();
/// // Every socket of "mallory" gets `unauthorized` / `revoked` and is disconnected, and her
/// // current tokens are refused from now on.
/// revocations.revoke_user("mallory").await.unwrap();
/// # let _ = auth;
/// # });
/// ```
#[derive(Clone)]
pub struct RevocationList {
    pub(crate) inner: Arc<ListInner>,
}

impl std::fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationList")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl RevocationList {
    /// How long a user revocation lasts unless told (24 h): tokens issued before it are
    /// refused for this long. Set your longest token lifetime with
    /// [`with_lifetime`](Self::with_lifetime) when it is longer.
    pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

    /// A list for a single process, whose user revocations last 24 h (use
    /// [`with_lifetime`](Self::with_lifetime) when tokens live longer).
    pub fn in_memory() -> Self {
        Self::with_lifetime(Self::DEFAULT_MAX_TOKEN_LIFETIME)
    }

    /// A single-process list whose user revocations last `max_token_lifetime`: set it to at least
    /// your longest token lifetime.
    pub fn with_lifetime(max_token_lifetime: Duration) -> Self {
        Self {
            inner: Arc::new(ListInner {
                revoked: Revoked::new(max_token_lifetime),
                live: LiveSockets::default(),
                stale: RwLock::default(),
                seen_ids: Mutex::default(),
                backend: RwLock::new(None),
                id: std::hash::BuildHasher::hash_one(
                    &std::collections::hash_map::RandomState::new(),
                    0u8,
                ),
            }),
        }
    }

    pub(crate) fn set_backend(&self, backend: Arc<dyn RevocationBackend>) {
        *self
            .inner
            .backend
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(backend);
    }

    /// Revokes the token with this `jti` until `exp` (when it would have expired anyway), plus
    /// the leeway of the configurations that use this list (which accept it that much longer).
    ///
    /// # Errors
    /// When the shared store cannot be reached: [`RevocationError::Queued`] (applied in this
    /// process, sent to the others when the store is back) or, with too many queued,
    /// [`RevocationError::Unavailable`] (applied in this process only).
    pub async fn revoke_token(&self, jti: &str, exp: u64) -> Result<(), RevocationError> {
        self.revoke(Revocation::Token {
            jti: jti.to_owned(),
            until: exp.saturating_add(self.leeway_secs()),
        })
        .await
    }

    /// Revokes every token of `sub` issued until now (`iat` ≤ now, in seconds: a token issued
    /// within the same second is revoked too), and every token of a login session that began
    /// by now (`auth_time` ≤ now), whenever it is issued: a token refreshed later from such a
    /// session, on a process that had not heard of the revocation yet, is refused once it has.
    ///
    /// <div class="warning">The user's next login must therefore start a new session at the
    /// identity provider: a provider that keeps the old <code>auth_time</code> when it issues
    /// new tokens from its own single sign-on session (no <code>prompt=login</code>) issues
    /// tokens this revocation refuses until it expires. End that session at the provider too,
    /// or ask for a fresh login.</div>
    ///
    /// The revocation is kept for the list's lifetime ([`with_lifetime`](Self::with_lifetime)),
    /// or longer: until the latest `exp` of any token this process has checked, so a long-lived
    /// token seen here cannot come back after the revocation is forgotten (a process that
    /// receives the revocation extends it the same way). A token no process has seen yet is
    /// covered for the lifetime only: set it to at least your longest token lifetime.
    ///
    /// # Errors
    /// As [`RevocationList::revoke_token`].
    ///
    /// With several trusted issuers this revokes `sub` at every one of them; name the issuer
    /// with [`revoke_user_of`](Self::revoke_user_of).
    pub async fn revoke_user(&self, sub: &str) -> Result<(), RevocationError> {
        self.revoke_user_issued_before(None, sub, unix_now()).await
    }

    /// Revokes every token of `sub` at issuer `iss` issued until now; the same `sub` at
    /// another issuer is another user, and keeps its sockets. Kept as
    /// [`revoke_user`](Self::revoke_user)'s revocation is.
    ///
    /// # Errors
    /// As [`RevocationList::revoke_token`].
    ///
    /// # Example
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use socketioxide_jwt::{claims::RegisteredClaims, RevocationList};
    /// let list = RevocationList::in_memory();
    /// list.revoke_user_of("https://a.example", "42").await.unwrap();
    /// let mut of_a = RegisteredClaims::for_sub("42");
    /// of_a.iss = Some("https://a.example".into());
    /// let mut of_b = of_a.clone();
    /// of_b.iss = Some("https://b.example".into());
    /// assert!(list.is_revoked(&of_a));
    /// assert!(!list.is_revoked(&of_b));
    /// # });
    /// ```
    pub async fn revoke_user_of(&self, iss: &str, sub: &str) -> Result<(), RevocationError> {
        self.revoke_user_issued_before(Some(iss), sub, unix_now())
            .await
    }

    /// Revokes the tokens of `sub` (at `iss`, or at every issuer) issued at or before
    /// `issued_before` (seconds since the epoch), kept as [`revoke_user`](Self::revoke_user)'s.
    pub(crate) async fn revoke_user_issued_before(
        &self,
        iss: Option<&str>,
        sub: &str,
        issued_before: u64,
    ) -> Result<(), RevocationError> {
        self.revoke(Revocation::User {
            sub: sub.to_owned(),
            iss: iss.map(String::from),
            issued_before,
            until: self.keep_until(),
        })
        .await
    }

    /// Revokes every token carrying the login session `sid`, whenever it was issued: the
    /// tokens refreshed from a stolen one too. Kept as [`revoke_user`](Self::revoke_user)'s
    /// revocation is.
    ///
    /// With several trusted issuers this revokes `sid` at every one of them; name the issuer
    /// with [`revoke_session_of`](Self::revoke_session_of).
    ///
    /// # Errors
    /// As [`RevocationList::revoke_token`].
    ///
    /// # Example
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use socketioxide_jwt::{claims::RegisteredClaims, RevocationList};
    /// let list = RevocationList::in_memory();
    /// list.revoke_session("login-7").await.unwrap();
    /// let mut claims = RegisteredClaims::for_sub("alice");
    /// claims.sid = Some("login-7".into());
    /// assert!(list.is_revoked(&claims));
    /// # });
    /// ```
    pub async fn revoke_session(&self, sid: &str) -> Result<(), RevocationError> {
        self.revoke_session_at(None, sid).await
    }

    /// Revokes every token carrying the login session `sid` at issuer `iss`; the same `sid`
    /// at another issuer is another session. As [`revoke_session`](Self::revoke_session)
    /// otherwise.
    ///
    /// # Errors
    /// As [`RevocationList::revoke_token`].
    pub async fn revoke_session_of(&self, iss: &str, sid: &str) -> Result<(), RevocationError> {
        self.revoke_session_at(Some(iss), sid).await
    }

    /// Revokes the login session `sid` at `iss`, or at every issuer.
    pub(crate) async fn revoke_session_at(
        &self,
        iss: Option<&str>,
        sid: &str,
    ) -> Result<(), RevocationError> {
        self.revoke(Revocation::Session {
            sid: sid.to_owned(),
            iss: iss.map(String::from),
            until: self.keep_until(),
        })
        .await
    }

    /// How long a user or session revocation is kept: the list's lifetime, or until the latest
    /// `exp` checked here.
    pub(crate) fn keep_until(&self) -> u64 {
        self.inner.revoked.keep_until(unix_now())
    }

    /// Records that a configuration accepts tokens `leeway` past their `exp`.
    pub(crate) fn accept_leeway(&self, leeway: Duration) {
        self.inner.revoked.accept_leeway(leeway);
    }

    fn leeway_secs(&self) -> u64 {
        self.inner.revoked.leeway_secs()
    }

    /// Applies `revocation` here, then publishes it to the other processes.
    ///
    /// # Errors
    /// As [`RevocationList::revoke_token`].
    pub async fn revoke(&self, revocation: Revocation) -> Result<(), RevocationError> {
        crate::metrics::revocation(revocation.kind_label(), "local");
        let held = self.apply(revocation);
        match self.backend() {
            // An expired one would delete what the store holds under its key.
            Some(_) if held.until() < unix_now() => Ok(()),
            Some(backend) => backend.publish(&held).await,
            None => Ok(()),
        }
    }

    /// The store that carries revocations to the other processes, if any.
    pub(crate) fn backend(&self) -> Option<Arc<dyn RevocationBackend>> {
        self.inner
            .backend
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a token with these claims is revoked. Local: no I/O.
    ///
    /// A user revocation covers the tokens whose login session began by its time: `iat`, or
    /// an earlier `auth_time` (a token refreshed later from such a session is refused too).
    pub fn is_revoked(&self, claims: &RegisteredClaims) -> bool {
        self.inner.revoked.revokes(claims, unix_now())
    }

    /// How many revocations are held, of each kind.
    pub fn counts(&self) -> RevocationCounts {
        self.inner.revoked.counts()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.counts() == RevocationCounts::default()
    }

    /// Records `revocation` and disconnects the matching sockets of this process; returns the
    /// entry as held now (see [`apply_all`](Self::apply_all)).
    pub(crate) fn apply(&self, revocation: Revocation) -> Revocation {
        let mut held = self.apply_all(vec![revocation]);
        held.pop().expect("one in, one out")
    }

    /// Records `revocations` under one lock, then disconnects the matching sockets of this
    /// process in one pass over them: O(revocations + live sockets).
    ///
    /// The entries are written before the live sockets are scanned, the reverse of a socket's
    /// verification (tracked, then checked): whatever the interleaving, a socket is either
    /// found by the scan or finds the entry.
    ///
    /// Returns each entry as held now (merged with an earlier one for the same token, user or
    /// session: the later `issued_before` and `until` of the two): what the store is sent, so
    /// that a revocation weaker than one already made (an older `issued_before`) never
    /// overwrites it there. An expired revocation is returned as given, and not held.
    pub(crate) fn apply_all(&self, revocations: Vec<Revocation>) -> Vec<Revocation> {
        let now = unix_now();
        self.purge_now_and_then(now);
        let (applied, batch) = self.inner.revoked.insert_all(revocations, now);
        let revoked = self
            .inner
            .live
            .select(|ids| batch.revokes(&ids.keys(), now));
        LiveSockets::tell_all(&revoked, &ToSocket::Revoked);
        applied
    }

    /// Replaces what the list holds with `stored` (a store's snapshot) plus what this list holds
    /// that `stored` lacks, then disconnects the live sockets the result revokes. Returns what
    /// `stored` lacked: what the store must be sent again (it was lost there, or never
    /// reached it). O(stored + held + live sockets), under one write lock for the swap only.
    fn replace_with(&self, stored: Vec<Revocation>) -> Vec<Revocation> {
        let now = unix_now();
        let missing = self.inner.revoked.replace_with(stored, now);
        let held = self.inner.revoked.read();
        let revoked = self.inner.live.select(|ids| held.revokes(&ids.keys(), now));
        drop(held);
        LiveSockets::tell_all(&revoked, &ToSocket::Revoked);
        missing
    }

    /// Drops expired entries, and expired stale marks, at most once a minute (each is ignored
    /// once expired anyway).
    fn purge_now_and_then(&self, now: u64) {
        if self.inner.revoked.purge_if_due(now) {
            self.inner
                .stale
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .forget_expired(now);
        }
    }
}

#[cfg(test)]
mod tests;
