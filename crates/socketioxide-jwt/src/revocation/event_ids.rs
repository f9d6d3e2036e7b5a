//! The ids of the signed events a list has acted on (`iss`, `jti`): back-channel logout tokens,
//! each until it can no longer verify, and Security Event Tokens, for a day after receipt. A
//! replay is refused. In this process's memory, and in the shared store when there is one
//! (where the first process to record an id wins).

use std::collections::HashMap;

use super::kinds::issuer_key_part;
use super::{RevocationError, RevocationList};
use crate::time::unix_now;

/// How much later than `exp` + leeway the store forgets an id: its key expires by Redis'
/// clock, which may run ahead of ours.
const STORE_CLOCK_MARGIN_SECS: u64 = 60;

/// Which kind of signed event an id belongs to: each kind has ids of its own (a logout
/// token's `jti` and a SET's may coincide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(not(feature = "ssf"), allow(dead_code))]
pub(crate) enum SignedEvent {
    /// An OpenID Connect back-channel logout token.
    Logout,
    /// A Security Event Token of a Shared Signals transmitter.
    Set,
}

impl SignedEvent {
    /// The part of the store's id that names the kind.
    fn key_part(self) -> &'static str {
        match self {
            Self::Logout => "jti:",
            Self::Set => "set:",
        }
    }

    /// Ids remembered at most per issuer, in one process. Beyond, without a shared store, that
    /// issuer's new ones are refused until older ones expire (the other issuers' are not
    /// affected); with one, the store decides and this process stops remembering them.
    fn max_per_issuer(self) -> usize {
        match self {
            // Logout ids live minutes (a logout token's `exp`).
            Self::Logout => 20_000,
            // SET ids live a day: ~70 a minute, sustained.
            Self::Set => 100_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Logout => "logout tokens",
            Self::Set => "security event tokens",
        }
    }
}

/// Ids seen here: `until` by `jti`, by kind and issuer.
#[derive(Debug, Default)]
pub(super) struct SeenIds(HashMap<(SignedEvent, String), HashMap<String, u64>>);

/// The store's id of a signed event: `iss:<len>:<iss>:jti:<jti>` (a logout token) or
/// `iss:<len>:<iss>:set:<jti>` (a SET).
fn store_id(kind: SignedEvent, iss: &str, jti: &str) -> String {
    format!("{}{}{jti}", issuer_key_part(iss), kind.key_part())
}

impl RevocationList {
    /// Records the logout token `jti` of `iss` until `until`: `true` the first time (in every
    /// process sharing the list), `false` for a replay.
    ///
    /// When the shared store is unreachable, this process's memory decides (a replay to
    /// another process then goes through; what it revokes is the same set again, see
    /// [`JwtAuth::backchannel_logout`](crate::JwtAuth::backchannel_logout)).
    pub(crate) async fn record_logout(
        &self,
        iss: &str,
        jti: &str,
        until: u64,
    ) -> Result<bool, RevocationError> {
        self.record_once(SignedEvent::Logout, iss, jti, until).await
    }

    /// Forgets a logout token recorded by [`record_logout`](Self::record_logout) whose logout
    /// could not be carried out, so that the provider's retry is not taken for a replay.
    pub(crate) async fn forget_logout(&self, iss: &str, jti: &str) {
        self.forget(SignedEvent::Logout, iss, jti).await;
    }

    /// Records the signed event `jti` of `iss` until `until`: `true` the first time (in every
    /// process sharing the list), `false` for a replay.
    pub(crate) async fn record_once(
        &self,
        kind: SignedEvent,
        iss: &str,
        jti: &str,
        until: u64,
    ) -> Result<bool, RevocationError> {
        let backend = self.backend();
        if self.seen_here(kind, iss, jti, backend.is_some())? {
            return Ok(false);
        }
        let Some(backend) = backend else {
            return Ok(self.remember_here(kind, iss, jti, until));
        };
        // The store decides (its key expires by Redis' clock: a margin for that clock).
        let kept_until = until.saturating_add(STORE_CLOCK_MARGIN_SECS);
        match backend
            .record_once(&store_id(kind, iss, jti), kept_until)
            .await
        {
            Ok(true) => {
                self.remember_here(kind, iss, jti, until);
                Ok(true)
            }
            // Recorded by another process (and only there: if that one forgets it because it
            // could not carry it out, the sender's retry is not refused here).
            Ok(false) => Ok(false),
            Err(e) => {
                tracing::warn!(error = %e, kind = kind.name(), "replay check: the store is unreachable, this process's memory decides");
                Ok(self.remember_here(kind, iss, jti, until))
            }
        }
    }

    /// Forgets a signed event recorded by [`record_once`](Self::record_once) that could not be
    /// carried out, so that the sender's retry is not taken for a replay.
    pub(crate) async fn forget(&self, kind: SignedEvent, iss: &str, jti: &str) {
        if let Some(of_issuer) = self.seen_ids().0.get_mut(&(kind, iss.to_owned())) {
            of_issuer.remove(jti);
        }
        if let Some(backend) = self.backend() {
            backend.forget_record(&store_id(kind, iss, jti)).await;
        }
    }

    /// Whether this process has acted on that event. `Err` when its issuer has too many
    /// remembered already and no shared store can decide.
    fn seen_here(
        &self,
        kind: SignedEvent,
        iss: &str,
        jti: &str,
        shared: bool,
    ) -> Result<bool, RevocationError> {
        let now = unix_now();
        let mut seen = self.seen_ids();
        let Some(of_issuer) = seen.0.get_mut(&(kind, iss.to_owned())) else {
            return Ok(false);
        };
        if of_issuer.get(jti).is_some_and(|until| *until >= now) {
            return Ok(true);
        }
        if of_issuer.len() >= kind.max_per_issuer() {
            of_issuer.retain(|_, until| *until >= now);
        }
        if of_issuer.len() >= kind.max_per_issuer() && !shared {
            return Err(RevocationError::Unavailable(
                format!("too many {} of this issuer remembered at once", kind.name()).into(),
            ));
        }
        Ok(false)
    }

    /// Remembers the event here: `false` if it already was (a concurrent delivery). With its
    /// issuer's share full (a shared store decides then), not remembered.
    fn remember_here(&self, kind: SignedEvent, iss: &str, jti: &str, until: u64) -> bool {
        let now = unix_now();
        let mut seen = self.seen_ids();
        let of_issuer = seen.0.entry((kind, iss.to_owned())).or_default();
        if of_issuer.len() >= kind.max_per_issuer() && !of_issuer.contains_key(jti) {
            return true;
        }
        let before = of_issuer.insert(jti.to_owned(), until);
        before.is_none_or(|before| before < now)
    }

    fn seen_ids(&self) -> std::sync::MutexGuard<'_, SeenIds> {
        self.inner
            .seen_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
