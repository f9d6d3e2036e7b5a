//! Claims that change now: asking live sockets to refresh their token at once, on every
//! process, through the revocation list's channel (not stored: a process that misses it, in a
//! Redis outage, does not ask its sockets).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{LiveFn, RevocationError, RevocationList, ToSocket};

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

/// A refresh request on the channel: `{"refresh": <target>}` (revocations carry a `kind`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshRequest {
    pub(crate) refresh: RefreshTarget,
}

impl RevocationList {
    /// Asks the matching sockets of this process, then of the others, to refresh now.
    pub(crate) async fn request_refresh(
        &self,
        target: RefreshTarget,
    ) -> Result<(), RevocationError> {
        self.apply_refresh(&target);
        match self.backend() {
            Some(backend) => {
                let request = RefreshRequest { refresh: target };
                backend.broadcast_refresh(&request).await
            }
            None => Ok(()),
        }
    }

    /// Asks the matching sockets of this process to refresh.
    pub(crate) fn apply_refresh(&self, target: &RefreshTarget) {
        let matches: Vec<Arc<LiveFn>> = {
            let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            live.values()
                .filter(|s| match target {
                    RefreshTarget::User { sub, iss } => {
                        s.ids.sub.as_deref() == Some(sub)
                            && (iss.is_none() || s.ids.iss.as_deref() == iss.as_deref())
                    }
                    // The socket itself knows its rooms.
                    RefreshTarget::Room { .. } | RefreshTarget::All => true,
                })
                .map(|s| s.kick.clone())
                .collect()
        };
        let room = match target {
            RefreshTarget::Room { ns, room } => Some((ns.as_str(), room.as_str())),
            _ => None,
        };
        tracing::debug!(candidates = matches.len(), "refresh requested");
        for kick in matches {
            kick(&ToSocket::RefreshNow { room });
        }
    }
}
