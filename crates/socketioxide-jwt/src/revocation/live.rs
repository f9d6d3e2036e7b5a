//! The sockets of this process a list may have to reach: each tracked with the ids its token
//! is revoked by, and how to reach it ([`LiveFn`]); a [`LiveTicket`] ends the tracking.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

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

pub(super) struct LiveSession {
    pub(super) ids: TokenIds,
    pub(super) kick: Arc<LiveFn>,
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
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                LiveSession {
                    ids: TokenIds::of(claims),
                    kick: Arc::new(kick),
                },
            );
        LiveTicket {
            list: Arc::downgrade(&self.inner),
            id,
        }
    }

    /// Sockets of this process currently tracked.
    pub fn tracked_sockets(&self) -> usize {
        self.inner.live.lock().map(|l| l.len()).unwrap_or(0)
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
            list.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.id);
        }
    }
}

impl std::fmt::Debug for LiveTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTicket").field("id", &self.id).finish()
    }
}
