//! Revocation: refuse tokens (by `jti`), every token of a user issued until now (by `sub`, for
//! every issuer or for one, and `iat`), or every token of a login session (by `sid`) before they
//! expire, and disconnect the sockets that hold them.
//!
//! A [`RevocationList`] is a local, synchronously checked cache: no network round trip per
//! connection. [`RevocationList::in_memory`] serves one process; with the `redis` feature,
//! [`RevocationList::redis`] shares it across processes (stored in Redis with an expiry, spread by
//! pub/sub, reloaded at start and after an outage).

mod entries;
mod kinds;
mod live;
mod logout_ids;
#[cfg(feature = "redis")]
mod redis;
mod refresh;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use self::entries::ByIssuer;
use crate::claims::RegisteredClaims;
use crate::future::BoxFuture;
use crate::time::unix_now;

pub use self::kinds::{Revocation, RevocationCounts, RevocationError};
use self::live::LiveSession;
pub(crate) use self::live::{LiveFn, LiveTicket, ToSocket};
#[cfg(feature = "redis")]
pub use self::redis::RedisRevocationOptions;
pub(crate) use self::refresh::issued_since;
pub(crate) use self::refresh::RefreshRequest;
pub use self::refresh::RefreshTarget;

/// Default time a user revocation is kept: tokens issued before it are refused for this long.
const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Publishes revocations to the other processes.
pub(crate) trait RevocationBackend: Send + Sync + 'static {
    fn publish<'a>(
        &'a self,
        revocation: &'a Revocation,
    ) -> BoxFuture<'a, Result<(), RevocationError>>;

    /// Tells the other processes to ask their matching sockets to refresh (not stored).
    fn broadcast_refresh<'a>(
        &'a self,
        request: &'a RefreshRequest,
    ) -> BoxFuture<'a, Result<(), RevocationError>>;

    /// Records `id` until `until` (seconds since the epoch) unless it is recorded already:
    /// `true` the first time, in every process.
    fn record_once<'a>(
        &'a self,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>>;

    /// Forgets a record of [`record_once`](Self::record_once) (best effort).
    fn forget_record<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()>;
}

pub(crate) struct ListInner {
    tokens: RwLock<HashMap<String, u64>>,
    /// (`issued_before`, `until`) by `sub`.
    users: RwLock<ByIssuer<(u64, u64)>>,
    /// `until` by `sid`.
    sessions: RwLock<ByIssuer<u64>>,
    live: Mutex<HashMap<u64, LiveSession>>,
    next_id: AtomicU64,
    max_token_lifetime: Duration,
    /// The latest `exp` of any token checked here (`u64::MAX` once a token without `exp` was):
    /// a user revocation is kept at least until then (see [`RevocationList::revoke_user`]).
    latest_exp: AtomicU64,
    backend: RwLock<Option<Arc<dyn RevocationBackend>>>,
    /// Logout token ids seen here, by issuer.
    seen_logouts: Mutex<logout_ids::SeenLogouts>,
    /// Tokens made stale by refresh requests, for new sockets.
    stale: RwLock<refresh::Stale>,
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
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use socketioxide_jwt::{JwtAuth, RevocationList};
/// let revocations = RevocationList::in_memory();
/// let auth = JwtAuth::builder()
///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
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
    /// A list for a single process, whose user revocations last 24 h (use
    /// [`with_lifetime`](Self::with_lifetime) when tokens live longer).
    pub fn in_memory() -> Self {
        Self::with_lifetime(DEFAULT_MAX_TOKEN_LIFETIME)
    }

    /// A single-process list whose user revocations last `max_token_lifetime`: set it to at least
    /// your longest token lifetime.
    pub fn with_lifetime(max_token_lifetime: Duration) -> Self {
        Self {
            inner: Arc::new(ListInner {
                tokens: RwLock::default(),
                users: RwLock::default(),
                sessions: RwLock::default(),
                live: Mutex::default(),
                next_id: AtomicU64::new(1),
                max_token_lifetime,
                latest_exp: AtomicU64::new(0),
                backend: RwLock::new(None),
                seen_logouts: Mutex::default(),
                stale: RwLock::default(),
                id: std::hash::BuildHasher::hash_one(
                    &std::collections::hash_map::RandomState::new(),
                    0u8,
                ),
            }),
        }
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn set_backend(&self, backend: Arc<dyn RevocationBackend>) {
        *self
            .inner
            .backend
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(backend);
    }

    /// Revokes the token with this `jti` until `exp` (when it would have expired anyway).
    ///
    /// # Errors
    /// When the shared store cannot be reached: [`RevocationError::Queued`] (applied in this
    /// process, sent to the others when the store is back) or, with too many queued,
    /// [`RevocationError::Unavailable`] (applied in this process only).
    pub async fn revoke_token(&self, jti: &str, exp: u64) -> Result<(), RevocationError> {
        self.revoke(Revocation::Token {
            jti: jti.to_owned(),
            until: exp,
        })
        .await
    }

    /// Revokes every token of `sub` issued until now (`iat` ≤ now, in seconds: a token issued
    /// within the same second is revoked too).
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

    /// Revokes every token carrying the login session `sid` (at `iss`, or at every issuer
    /// when `None`), whenever it was issued: the tokens refreshed from a stolen one too. Kept
    /// as [`revoke_user`](Self::revoke_user)'s revocation is.
    ///
    /// # Errors
    /// As [`RevocationList::revoke_token`].
    ///
    /// # Example
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use socketioxide_jwt::{claims::RegisteredClaims, RevocationList};
    /// let list = RevocationList::in_memory();
    /// list.revoke_session(None, "login-7").await.unwrap();
    /// let mut claims = RegisteredClaims::for_sub("alice");
    /// claims.sid = Some("login-7".into());
    /// assert!(list.is_revoked(&claims));
    /// # });
    /// ```
    pub async fn revoke_session(
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
        unix_now()
            .saturating_add(self.inner.max_token_lifetime.as_secs())
            .max(self.latest_exp())
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

    /// The latest `exp` seen by [`is_revoked`](Self::is_revoked).
    fn latest_exp(&self) -> u64 {
        self.inner.latest_exp.load(Ordering::Relaxed)
    }

    /// Whether a token with these claims is revoked. Local: no I/O.
    pub fn is_revoked(&self, claims: &RegisteredClaims) -> bool {
        let now = unix_now();
        let exp = claims.exp.unwrap_or(u64::MAX);
        if exp > self.latest_exp() {
            self.inner.latest_exp.fetch_max(exp, Ordering::Relaxed);
        }
        if let Some(jti) = &claims.jti {
            let tokens = self.inner.tokens.read().unwrap_or_else(|e| e.into_inner());
            if tokens.get(jti).is_some_and(|until| *until >= now) {
                return true;
            }
        }
        let iss = claims.iss.as_deref();
        if let Some(sub) = &claims.sub {
            let users = self.inner.users.read().unwrap_or_else(|e| e.into_inner());
            let revoked = !users.is_empty()
                && users.matching(iss, sub).any(|(before, until)| {
                    until >= now && claims.iat.is_none_or(|iat| iat <= before)
                });
            if revoked {
                return true;
            }
        }
        if let Some(sid) = &claims.sid {
            let sessions = self
                .inner
                .sessions
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if !sessions.is_empty() && sessions.matching(iss, sid).any(|until| until >= now) {
                return true;
            }
        }
        false
    }

    /// How many revocations are held, of each kind.
    pub fn counts(&self) -> RevocationCounts {
        RevocationCounts {
            tokens: self.inner.tokens.read().map(|t| t.len()).unwrap_or(0),
            users: self.inner.users.read().map(|u| u.len()).unwrap_or(0),
            sessions: self.inner.sessions.read().map(|s| s.len()).unwrap_or(0),
        }
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.counts() == RevocationCounts::default()
    }

    /// Records `revocation` and disconnects the matching sockets of this process.
    ///
    /// The entry is written before the live sockets are scanned, the reverse of a socket's
    /// verification (tracked, then checked): whatever the interleaving, a socket is either
    /// found by the scan or finds the entry.
    ///
    /// Returns the entry as held now (merged with an earlier one for the same token, user or
    /// session: the later `issued_before` and `until` of the two): what the store is sent, so
    /// that a revocation weaker than one already made (an older `issued_before`) never
    /// overwrites it there.
    pub(crate) fn apply(&self, revocation: Revocation) -> Revocation {
        let now = unix_now();
        self.forget_expired(now);
        let revocation = match revocation {
            Revocation::Token { jti, until } if until >= now => {
                let mut tokens = self.inner.tokens.write().unwrap_or_else(|e| e.into_inner());
                let entry = tokens.entry(jti.clone()).or_insert(until);
                *entry = (*entry).max(until);
                let until = *entry;
                Revocation::Token { jti, until }
            }
            Revocation::User {
                sub,
                iss,
                issued_before,
                until,
            } if until >= now => {
                // Kept while a token checked here could still be accepted (see `revoke_user`).
                let until = until.max(self.latest_exp());
                let mut users = self.inner.users.write().unwrap_or_else(|e| e.into_inner());
                let (issued_before, until) =
                    users.upsert(iss.as_deref(), &sub, (issued_before, until), |a, b| {
                        (a.0.max(b.0), a.1.max(b.1))
                    });
                Revocation::User {
                    sub,
                    iss,
                    issued_before,
                    until,
                }
            }
            Revocation::Session { sid, iss, until } if until >= now => {
                let until = until.max(self.latest_exp());
                let mut sessions = self
                    .inner
                    .sessions
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                let until = sessions.upsert(iss.as_deref(), &sid, until, u64::max);
                Revocation::Session { sid, iss, until }
            }
            expired => expired,
        };
        let matches: Vec<Arc<LiveFn>> = {
            let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            live.values()
                .filter(|s| s.ids.revoked_by(&revocation))
                .map(|s| s.kick.clone())
                .collect()
        };
        if !matches.is_empty() {
            tracing::info!(sockets = matches.len(), "revocation: disconnecting sockets");
        }
        for kick in matches {
            kick(&ToSocket::Revoked);
        }
        revocation
    }

    fn forget_expired(&self, now: u64) {
        self.inner
            .tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until >= now);
        self.inner
            .users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, until)| *until >= now);
        self.inner
            .sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|until| *until >= now);
        self.inner
            .stale
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .forget_expired(now);
    }
}

#[cfg(test)]
mod tests;
