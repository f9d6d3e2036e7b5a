//! The sockets of this process a list may have to reach: each tracked with the ids its token
//! is revoked by, and how to reach it ([`LiveFn`]); a [`LiveTicket`] ends the tracking.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::held::{session_start, TokenKeys};
use super::{ListInner, RevocationList};
use crate::claims::RegisteredClaims;

/// What the list tells a live socket.
#[derive(Debug)]
pub(crate) enum ToSocket<'a> {
    /// Its token was revoked: refuse it.
    Revoked,
    /// Refresh now (if it is in `room`, a namespace and a room, when one is given) with a token
    /// issued at or after `since` (seconds since the epoch).
    RefreshNow {
        room: Option<(&'a str, &'a str)>,
        since: u64,
    },
}

/// How the list reaches a live socket.
pub(crate) type LiveFn = Box<dyn Fn(&ToSocket<'_>) + Send + Sync>;

struct LiveSession {
    ids: TokenIds,
    kick: Arc<LiveFn>,
}

/// The authenticated sockets of this process, each with what its token is revoked by and how
/// to reach it: a registry of its own, which the list consults when it revokes or asks for a
/// refresh.
#[derive(Default)]
pub(super) struct LiveSockets {
    sessions: Mutex<HashMap<u64, LiveSession>>,
    next_id: AtomicU64,
}

impl LiveSockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, LiveSession>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, ids: TokenIds, kick: LiveFn) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let kick = Arc::new(kick);
        self.lock().insert(id, LiveSession { ids, kick });
        id
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    /// How to reach every socket whose token `selected` picks (chosen under the registry's
    /// lock, reached with [`tell_all`](Self::tell_all) after it, and after any other lock the
    /// caller took to choose: a socket told may untrack itself, or run application code).
    pub(super) fn select(&self, selected: impl Fn(&TokenIds) -> bool) -> Vec<Arc<LiveFn>> {
        self.lock()
            .values()
            .filter(|s| selected(&s.ids))
            .map(|s| s.kick.clone())
            .collect()
    }

    /// Tells `message` to each of `sockets`.
    pub(super) fn tell_all(sockets: &[Arc<LiveFn>], message: &ToSocket<'_>) {
        if matches!(message, ToSocket::Revoked) && !sockets.is_empty() {
            tracing::info!(sockets = sockets.len(), "revocation: disconnecting sockets");
        }
        for kick in sockets {
            kick(message);
        }
    }
}

/// What revocations match a live token by.
#[derive(Debug, Default)]
pub(super) struct TokenIds {
    sub: Option<Box<str>>,
    iss: Option<Box<str>>,
    jti: Option<Box<str>>,
    sid: Option<Box<str>>,
    /// See [`TokenKeys::session_start`].
    session_start: Option<u64>,
}

impl TokenIds {
    /// Whether the token is of user `sub` at `iss` (at any issuer when `None`).
    pub(super) fn is_user(&self, sub: &str, iss: Option<&str>) -> bool {
        self.sub.as_deref() == Some(sub) && (iss.is_none() || self.iss.as_deref() == iss)
    }

    fn of(claims: &RegisteredClaims) -> Self {
        let boxed = |s: &Option<String>| s.as_deref().map(Box::from);
        Self {
            sub: boxed(&claims.sub),
            iss: boxed(&claims.iss),
            jti: boxed(&claims.jti),
            sid: boxed(&claims.sid),
            session_start: session_start(claims.iat, claims.auth_time),
        }
    }

    pub(super) fn keys(&self) -> TokenKeys<'_> {
        TokenKeys {
            sub: self.sub.as_deref(),
            iss: self.iss.as_deref(),
            jti: self.jti.as_deref(),
            sid: self.sid.as_deref(),
            session_start: self.session_start,
        }
    }
}

impl RevocationList {
    /// Tracks an authenticated socket; the ticket stops tracking it when dropped.
    pub(crate) fn track(&self, claims: &RegisteredClaims, kick: LiveFn) -> LiveTicket {
        let id = self.inner.live.insert(TokenIds::of(claims), kick);
        LiveTicket {
            list: Arc::downgrade(&self.inner),
            id,
        }
    }

    /// Sockets of this process currently tracked.
    pub fn tracked_sockets(&self) -> usize {
        self.inner.live.len()
    }
}

/// An authenticated socket's entry in the list; removed when dropped.
pub(crate) struct LiveTicket {
    list: Weak<ListInner>,
    id: u64,
}

impl Drop for LiveTicket {
    fn drop(&mut self) {
        if let Some(list) = self.list.upgrade() {
            list.live.remove(self.id);
        }
    }
}

impl std::fmt::Debug for LiveTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTicket").field("id", &self.id).finish()
    }
}
