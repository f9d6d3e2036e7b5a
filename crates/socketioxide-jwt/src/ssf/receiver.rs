//! [`SsfReceiver`]: verifies SETs and carries out their events through the revocation list, on
//! every instance sharing it.

use std::collections::HashMap;
use std::sync::Arc;

use super::error::{SetError, SetErrorCode};
use super::events::{Effect, EventKind};
use super::set::{verify_set, SetEvent, VerifiedSet};
use super::transmitter::SsfTransmitter;
use crate::error::ConfigError;
use crate::revocation::{RefreshTarget, RevocationError, RevocationList, SignedEvent};
use crate::time::unix_now;
use crate::JwtAuth;

/// How far ahead of this clock a transmitter's `iat` may be, seconds.
const IAT_SKEW_SECS: u64 = 60;
/// How long a SET's id is remembered after it was received (or issued, if later), seconds: a
/// replay within it is refused. Past it, a replay applies its events again; a revocation of
/// the tokens issued before an event covers the same tokens again.
pub(crate) const REMEMBER_SET_SECS: u64 = 24 * 60 * 60;

/// A Shared Signals receiver: SETs from its transmitters, for its audience, applied to the
/// sockets of a [`JwtAuth`] configuration on every instance.
///
/// # Example
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use socketioxide_jwt::{jwks::{JwksOptions, OidcProvider}, ssf::{SsfReceiver, SsfTransmitter}};
/// use socketioxide_jwt::{JwtAuth, RevocationList, TrustedIssuer};
/// let idp = "https://example.okta.com";
/// let provider = OidcProvider::discover(idp, JwksOptions::default()).await?;
/// let auth = JwtAuth::builder(TrustedIssuer::oidc(provider, "chat"))
///     .revocations(RevocationList::in_memory())
///     .build()?;
/// let transmitter = SsfTransmitter::discover(idp, JwksOptions::default()).await?;
/// let receiver = SsfReceiver::new(&auth, "chat", [transmitter])?;
/// // In the push endpoint: `receiver.receive(&body).await`.
/// # let _ = receiver; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SsfReceiver {
    inner: Arc<Inner>,
}

struct Inner {
    list: RevocationList,
    audience: String,
    identity_claim: Option<String>,
    leeway_secs: u64,
    transmitters: HashMap<String, SsfTransmitter>,
}

impl std::fmt::Debug for SsfReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsfReceiver")
            .field("audience", &self.inner.audience)
            .field(
                "transmitters",
                &self.inner.transmitters.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A SET that was received: what each of its events did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The transmitter.
    pub iss: String,
    /// The SET's id (acknowledged by it when polling).
    pub jti: String,
    /// Each event's kind and outcome, in the SET's order.
    pub events: Vec<(EventKind, Outcome)>,
}

/// What one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Carried out: sockets closed or asked to refresh, on every instance.
    Applied,
    /// An event this receiver does not act on: acknowledged and counted.
    NotActedOn,
    /// Its subject names no user this configuration keys by (another issuer, a format that
    /// is not the identity claim's): acknowledged and counted.
    NoSubjectMatched,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::NotActedOn => "not_acted_on",
            Self::NoSubjectMatched => "no_subject_matched",
        }
    }
}

impl SsfReceiver {
    /// A receiver for SETs whose `aud` is `audience`, from `transmitters`, acting on the sockets
    /// of `auth` (through its revocation list, so on every instance sharing it).
    ///
    /// # Errors
    /// [`ConfigError::NoRevocationList`] when `auth` has none; [`ConfigError::EmptySsfAudience`].
    pub fn new<C>(
        auth: &JwtAuth<C>,
        audience: impl Into<String>,
        transmitters: impl IntoIterator<Item = SsfTransmitter>,
    ) -> Result<Self, ConfigError> {
        let verifier = &auth.inner.verifier;
        let list = verifier
            .revocations()
            .ok_or(ConfigError::NoRevocationList)?
            .clone();
        let audience = audience.into();
        if audience.is_empty() {
            return Err(ConfigError::EmptySsfAudience);
        }
        let trusted = verifier.trusted_issuers();
        let transmitters = transmitters
            .into_iter()
            .map(|t| (t.issuer.clone(), t.bound_to(&trusted)))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                list,
                audience,
                identity_claim: verifier.identity_claim().map(String::from),
                leeway_secs: verifier.leeway_secs(),
                transmitters,
            }),
        })
    }

    /// The `aud` its SETs must carry.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The transmitter whose SETs have `iss`.
    pub fn transmitter(&self, iss: &str) -> Option<&SsfTransmitter> {
        self.inner.transmitters.get(iss)
    }

    /// Verifies a SET (signature by its transmitter's keys, `typ`, `iss`, `aud`, `iat`, `jti`,
    /// `events`), refuses a replay (its `iss` and `jti`, on every instance, for 24 hours), and
    /// carries out its events on every instance: a CAEP `session-revoked` closes that login
    /// session's sockets (its `sid`, else the user's tokens issued before the event); CAEP
    /// `token-claims-change` and `assurance-level-change` ask the user's sockets for a fresh
    /// token; CAEP `credential-change` and RISC `credential-compromise`, `account-disabled`,
    /// `account-purged`, `sessions-revoked` revoke the user's tokens issued before the event.
    /// Other events are acknowledged and counted.
    ///
    /// # Errors
    /// [`SetError::Refused`] with the RFC 8935 code; [`SetError::Unavailable`] when it could not
    /// be recorded (the transmitter should send it again).
    pub async fn receive(&self, set: &str) -> Result<Received, SetError> {
        let inner = &self.inner;
        let verified = verify_set(
            set,
            |iss| inner.transmitters.get(iss),
            &inner.audience,
            unix_now(),
            IAT_SKEW_SECS.max(inner.leeway_secs),
        )
        .await;
        let verified = match verified {
            Ok(verified) => verified,
            Err(e) => {
                crate::metrics::ssf_event(
                    "unknown",
                    e.code().map_or("unavailable", SetErrorCode::as_str),
                );
                return Err(e);
            }
        };
        // Carried out in a task of its own: a transmitter that hangs up (dropping this future)
        // must not leave the SET recorded and not carried out.
        let (iss, jti) = (verified.iss.clone(), verified.jti.clone());
        match crate::future::to_completion(carry_out(self.inner.clone(), verified)).await {
            Ok(received) => received,
            // The task panicked or the runtime is shutting down: it may have recorded the SET
            // without carrying it out, and the transmitter's retry must not be a replay.
            Err(e) => {
                self.inner.list.forget(SignedEvent::Set, &iss, &jti).await;
                Err(SetError::Unavailable(RevocationError::Unavailable(
                    Box::new(e),
                )))
            }
        }
    }
}

/// Records the SET's id (a replay is refused), then carries out each event; forgets the id
/// again when an event could not be carried out, so that the transmitter's retry is no replay.
async fn carry_out(inner: Arc<Inner>, set: VerifiedSet) -> Result<Received, SetError> {
    let until = set
        .iat
        .max(unix_now())
        .saturating_add(REMEMBER_SET_SECS)
        .saturating_add(inner.leeway_secs);
    let first = inner
        .list
        .record_once(SignedEvent::Set, &set.iss, &set.jti, until)
        .await
        .map_err(SetError::Unavailable)?;
    if !first {
        crate::metrics::ssf_event("unknown", "replayed");
        return Err(SetError::Replayed);
    }
    let mut events = Vec::with_capacity(set.events.len());
    for event in &set.events {
        let kind = EventKind::from_uri(&event.uri);
        match apply(&inner, &set.iss, kind, event).await {
            Ok(outcome) => {
                crate::metrics::ssf_event(kind.label(), outcome.label());
                tracing::info!(iss = %set.iss, jti = %set.jti, event = kind.label(), outcome = outcome.label(), "security event");
                events.push((kind, outcome));
            }
            Err(e) => {
                crate::metrics::ssf_event(kind.label(), "unavailable");
                inner
                    .list
                    .forget(SignedEvent::Set, &set.iss, &set.jti)
                    .await;
                return Err(SetError::Unavailable(e));
            }
        }
    }
    Ok(Received {
        iss: set.iss,
        jti: set.jti,
        events,
    })
}

/// Carries out one event of transmitter `iss`.
async fn apply(
    inner: &Inner,
    iss: &str,
    kind: EventKind,
    event: &SetEvent,
) -> Result<Outcome, RevocationError> {
    let effect = kind.effect();
    // A credential added (a passkey enrolled) says nothing against the sessions there are.
    let created =
        kind == EventKind::CredentialChange && event.change_type.as_deref() == Some("create");
    if effect == Effect::None || created {
        return Ok(Outcome::NotActedOn);
    }
    let Some(transmitter) = inner.transmitters.get(iss) else {
        return Ok(Outcome::NoSubjectMatched);
    };
    let speaks_for = &transmitter.speaks_for;
    let users: Vec<(&str, &str)> = event
        .subjects
        .users_at(inner.identity_claim.as_deref(), speaks_for)
        .collect();
    if users.is_empty() && !event.subjects.user.is_empty() {
        // A user this receiver does not key (another issuer's): neither they nor their
        // sessions are anyone here.
        return Ok(Outcome::NoSubjectMatched);
    }
    let list = &inner.list;
    let mut results = Vec::new();
    match (effect, event.subjects.session_id()) {
        (Effect::CloseSession, Some(sid)) => {
            // The session at the user's issuer, or at every issuer this transmitter speaks for.
            let issuers: Vec<&str> = if users.is_empty() {
                speaks_for.iter().map(String::as_str).collect()
            } else {
                users.iter().map(|(iss, _)| *iss).collect()
            };
            for at in issuers {
                results.push(list.revoke_session_at(Some(at), sid).await);
            }
        }
        (Effect::CloseSession | Effect::RevokeUser, _) => {
            for (at, id) in &users {
                results.push(list.revoke_user_issued_before(Some(at), id, event.at).await);
            }
        }
        (Effect::RequestRefresh, _) => {
            for (at, id) in &users {
                let target = RefreshTarget::user_of(*at, *id);
                results.push(list.request_refresh(target).await);
            }
        }
        (Effect::None, _) => {}
    }
    if results.is_empty() {
        return Ok(Outcome::NoSubjectMatched);
    }
    for result in results {
        match result {
            // Applied here; sent to the other processes when the store is back.
            Ok(()) | Err(RevocationError::Queued(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Outcome::Applied)
}
