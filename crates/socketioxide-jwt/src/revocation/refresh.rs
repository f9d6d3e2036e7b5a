//! Claims that change now: asking live sockets to refresh their token at once, on every
//! process, through the revocation list's channel (not stored: a process that misses it, in a
//! Redis outage, does not ask its sockets).
//!
//! A request for a user (or every user) also makes the tokens issued before it stale for new
//! sockets of that process, for the list's lifetime: a client cannot keep the old claims by
//! reconnecting with its old token (it is refused `token_expired` and fetches a fresh one). A
//! room's request cannot (a room is known once a socket is in it).

use serde::{Deserialize, Serialize};

use super::entries::ByIssuer;
use super::{RevocationError, RevocationList, ToSocket};
use crate::claims::RegisteredClaims;
use crate::time::unix_now;

/// Which sockets [`JwtAuth::request_refresh`](crate::JwtAuth::request_refresh) asks.
///
/// # Example
/// ```
/// use socketioxide_jwt::revocation::RefreshTarget;
/// let one_user = RefreshTarget::user_of("https://idp.example", "42");
/// let a_room = RefreshTarget::room("/", "team-blue");
/// # let _ = (one_user, a_room, RefreshTarget::All);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefreshTarget {
    /// The sockets of a user: `sub`, at issuer `iss` (or at every issuer when `None`).
    User {
        /// The subject.
        sub: String,
        /// Its issuer; `None`: the `sub` at every issuer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iss: Option<String>,
    },
    /// The sockets in a room of a namespace (`/` for the main one).
    Room {
        /// The namespace's path.
        ns: String,
        /// The room.
        room: String,
    },
    /// Every authenticated socket.
    All,
}

impl RefreshTarget {
    /// The sockets of `sub` at every issuer.
    pub fn user(sub: impl Into<String>) -> Self {
        Self::User {
            sub: sub.into(),
            iss: None,
        }
    }

    /// The sockets of `sub` at issuer `iss` only.
    pub fn user_of(iss: impl Into<String>, sub: impl Into<String>) -> Self {
        Self::User {
            sub: sub.into(),
            iss: Some(iss.into()),
        }
    }

    /// The sockets in `room` of namespace `ns`.
    pub fn room(ns: impl Into<String>, room: impl Into<String>) -> Self {
        Self::Room {
            ns: ns.into(),
            room: room.into(),
        }
    }
}

/// A refresh request as it crosses processes: `{"refresh": <target>, "from": <process>,
/// "since": <seconds>}` (a [`Revocation`](super::Revocation) carries a `kind` instead). `from`
/// lets the process that sent it skip its own echo. A backend carries it as it is
/// ([`RevocationBackend::broadcast_refresh`](super::RevocationBackend::broadcast_refresh), then
/// [`RevocationFeed::refresh_requested`](super::RevocationFeed::refresh_requested)).
///
/// # Example
/// ```
/// use socketioxide_jwt::revocation::RefreshRequest;
/// let heard: RefreshRequest =
///     serde_json::from_str(r#"{"refresh":{"user":{"sub":"42"}},"from":7,"since":1700000000}"#).unwrap();
/// # let _ = heard;
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub(crate) refresh: RefreshTarget,
    /// The sending list's [`ListInner::id`](super::ListInner).
    #[serde(default)]
    pub(crate) from: u64,
    /// When it was made (seconds since the epoch, the sender's clock): tokens issued before
    /// are stale.
    #[serde(default)]
    pub(crate) since: u64,
}

/// How far before a refresh request a token may have been issued and still count as issued
/// since: the clocks of the process that made the request and of the token's issuer differ a
/// little.
pub(crate) const CLOCK_MARGIN_SECS: u64 = 5;

/// Whether a token issued at `iat` was issued since `since` (within [`CLOCK_MARGIN_SECS`]).
pub(crate) fn issued_since(iat: u64, since: u64) -> bool {
    iat.saturating_add(CLOCK_MARGIN_SECS) >= since
}

/// Tokens issued before a refresh request, for new sockets: by user, and for everyone.
#[derive(Debug, Default)]
pub(super) struct Stale {
    /// (`since`, `until`) by `sub`.
    users: ByIssuer<(u64, u64)>,
    /// (`since`, `until`) for every token.
    all: Option<(u64, u64)>,
}

impl Stale {
    pub(super) fn forget_expired(&mut self, now: u64) {
        self.users.retain(|(_, until)| *until >= now);
        self.all = self.all.filter(|(_, until)| *until >= now);
    }
}

impl RevocationList {
    /// Asks the matching sockets of this process, then of the others, to refresh now.
    pub(crate) async fn request_refresh(
        &self,
        target: RefreshTarget,
    ) -> Result<(), RevocationError> {
        let request = RefreshRequest {
            refresh: target,
            from: self.inner.id,
            since: unix_now(),
        };
        self.apply_refresh(&request);
        match self.backend() {
            Some(backend) => backend.broadcast_refresh(&request).await,
            None => Ok(()),
        }
    }

    /// Whether a new socket's token was issued before a refresh request for its user (or
    /// everyone). A token without `iat` cannot tell, and is not.
    pub(crate) fn is_stale(&self, claims: &RegisteredClaims) -> bool {
        let Some(iat) = claims.iat else {
            return false;
        };
        let stale = self.inner.stale.read().unwrap_or_else(|e| e.into_inner());
        if stale.all.is_none() && stale.users.is_empty() {
            return false;
        }
        let now = unix_now();
        let before = |(since, until): (u64, u64)| !issued_since(iat, since) && until >= now;
        if stale.all.is_some_and(before) {
            return true;
        }
        let Some(sub) = &claims.sub else {
            return false;
        };
        !stale.users.is_empty() && stale.users.matching(claims.iss.as_deref(), sub).any(before)
    }

    /// A request heard on the channel: applied, unless this process sent it (it applied its
    /// own before sending it). `false` when skipped.
    pub(crate) fn hear_refresh(&self, request: &RefreshRequest) -> bool {
        let from_elsewhere = request.from != self.inner.id;
        if from_elsewhere {
            self.apply_refresh(request);
        }
        from_elsewhere
    }

    /// Asks the matching sockets of this process to refresh.
    pub(crate) fn apply_refresh(&self, request: &RefreshRequest) {
        let target = &request.refresh;
        let now = unix_now();
        // A sender whose clock runs ahead would make every token issued until then stale.
        let since = request.since.min(now);
        // Kept while a token issued before could still be valid (the list's lifetime).
        let until = since.saturating_add(self.inner.revoked.max_token_lifetime().as_secs());
        // Written before the live sockets are scanned (as a revocation is).
        self.purge_now_and_then(now);
        {
            let mut stale = self.inner.stale.write().unwrap_or_else(|e| e.into_inner());
            let merge = |a: (u64, u64), b: (u64, u64)| (a.0.max(b.0), a.1.max(b.1));
            match target {
                RefreshTarget::User { sub, iss } => {
                    stale
                        .users
                        .upsert(iss.as_deref(), sub.as_str(), (since, until), merge);
                }
                RefreshTarget::All => {
                    stale.all = Some(
                        stale
                            .all
                            .map_or((since, until), |old| merge(old, (since, until))),
                    );
                }
                RefreshTarget::Room { .. } => {}
            }
        }
        let room = match target {
            RefreshTarget::Room { ns, room } => Some((ns.as_str(), room.as_str())),
            _ => None,
        };
        let candidates = self.inner.live.select(|ids| match target {
            RefreshTarget::User { sub, iss } => ids.is_user(sub, iss.as_deref()),
            // The socket itself knows its rooms.
            RefreshTarget::Room { .. } | RefreshTarget::All => true,
        });
        super::live::LiveSockets::tell_all(&candidates, &ToSocket::RefreshNow { room, since });
        tracing::debug!(candidates = candidates.len(), "refresh requested");
    }
}
