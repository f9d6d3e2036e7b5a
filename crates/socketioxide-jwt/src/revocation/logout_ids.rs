//! The ids of the logout tokens a list has acted on (`iss`, `jti`), each until its token can no
//! longer verify: a replay is refused. In this process's memory, and in the shared store when
//! there is one (where the first process to record an id wins).

use std::collections::HashMap;

use super::kinds::issuer_key_part;
use super::{RevocationError, RevocationList};
use crate::time::unix_now;

/// Ids remembered at most per issuer, in one process; beyond, that issuer's new logout tokens
/// are refused until older ones expire (the other issuers' are not affected).
const MAX_PER_ISSUER: usize = 20_000;

/// How much later than `exp` + leeway the store forgets an id: its key expires by Redis'
/// clock, which may run ahead of ours.
const STORE_CLOCK_MARGIN_SECS: u64 = 60;

/// Logout token ids seen here: `until` by `jti`, by issuer.
#[derive(Debug, Default)]
pub(super) struct SeenLogouts(HashMap<String, HashMap<String, u64>>);

/// The store's id of a logout token: `iss:<len>:<iss>:jti:<jti>`.
fn store_id(iss: &str, jti: &str) -> String {
    format!("{}jti:{jti}", issuer_key_part(iss))
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
        if self.seen_here(iss, jti)? {
            return Ok(false);
        }
        let Some(backend) = self.backend() else {
            return Ok(self.remember_here(iss, jti, until));
        };
        // The store decides (its key expires by Redis' clock: a margin for that clock).
        let kept_until = until.saturating_add(STORE_CLOCK_MARGIN_SECS);
        match backend.record_once(&store_id(iss, jti), kept_until).await {
            Ok(true) => {
                self.remember_here(iss, jti, until);
                Ok(true)
            }
            // Recorded by another process (and only there: if that one forgets it because its
            // logout failed, the provider's retry is not refused here).
            Ok(false) => Ok(false),
            Err(e) => {
                tracing::warn!(error = %e, "logout replay check: the store is unreachable, this process's memory decides");
                Ok(self.remember_here(iss, jti, until))
            }
        }
    }

    /// Whether this process has acted on that logout token; `Err` when its issuer has too many
    /// remembered already.
    fn seen_here(&self, iss: &str, jti: &str) -> Result<bool, RevocationError> {
        let now = unix_now();
        let mut seen = self.seen_logouts();
        let Some(of_issuer) = seen.0.get_mut(iss) else {
            return Ok(false);
        };
        if of_issuer.get(jti).is_some_and(|until| *until >= now) {
            return Ok(true);
        }
        if of_issuer.len() >= MAX_PER_ISSUER {
            of_issuer.retain(|_, until| *until >= now);
        }
        if of_issuer.len() >= MAX_PER_ISSUER {
            return Err(RevocationError::Unavailable(
                "too many logout tokens of this issuer remembered at once".into(),
            ));
        }
        Ok(false)
    }

    /// Remembers the logout token here: `false` if it already was (a concurrent delivery).
    fn remember_here(&self, iss: &str, jti: &str, until: u64) -> bool {
        let now = unix_now();
        let mut seen = self.seen_logouts();
        let of_issuer = seen.0.entry(iss.to_owned()).or_default();
        let before = of_issuer.insert(jti.to_owned(), until);
        before.is_none_or(|before| before < now)
    }

    /// Forgets a logout token recorded by [`record_logout`](Self::record_logout) whose logout
    /// could not be carried out, so that the provider's retry is not taken for a replay.
    pub(crate) async fn forget_logout(&self, iss: &str, jti: &str) {
        if let Some(of_issuer) = self.seen_logouts().0.get_mut(iss) {
            of_issuer.remove(jti);
        }
        if let Some(backend) = self.backend() {
            backend.forget_record(&store_id(iss, jti)).await;
        }
    }

    fn seen_logouts(&self) -> std::sync::MutexGuard<'_, SeenLogouts> {
        self.inner
            .seen_logouts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
