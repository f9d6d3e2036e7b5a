//! The one verifier: what every token goes through, from a socket or a REST request alike.
//!
//! Order, cheapest first: length bound, shape, header, key selection, algorithm allow-list,
//! signature and claims (jsonwebtoken), revocation, the application's check. With one key
//! without a `kid`, jsonwebtoken reads the header and checks the allow-list itself.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Validation;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::claims::RegisteredClaims;
use crate::error::AuthError;
use crate::future::BoxFuture;
use crate::identity::UserId;
use crate::keys::{KeyResolver, StaticKeys, VerificationKey};
use crate::metrics::VerifyTimer;
use crate::protocol::ErrorCode;
use crate::revocation::{LiveFn, LiveTicket, RevocationList};
use crate::time::wall_clock;

/// The application's check, run after the signature and claims are verified.
pub(crate) type CheckFn<C> =
    Arc<dyn Fn(Arc<C>) -> BoxFuture<'static, Result<(), AuthError>> + Send + Sync>;

/// A token whose signature, claims, revocation status and application check passed.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: Arc<C>,
    pub(crate) registered: RegisteredClaims,
    /// Who the token is about (`sub`, and `iss` when it has one), keyed by the pair when
    /// several issuers are trusted.
    pub(crate) user: Option<UserId>,
    /// The wall clock (since the Unix epoch) the token's times were checked against, read again
    /// after the application's check: what the session measures `exp` from.
    pub(crate) checked_at: Duration,
}

/// The keys a configuration was built with.
pub(crate) enum KeySource {
    /// `Keys::new` (one or more).
    Static(StaticKeys),
    /// `Keys::resolver` (JWKS, custom).
    Resolver(Arc<dyn KeyResolver>),
    /// Several keys without a `kid` and none with one (a secret and the ones it replaced): a
    /// token is tried against each, in order.
    Rotation(Vec<VerificationKey>),
}

/// How the verifier finds a token's key.
enum Keys {
    /// One key without a `kid` (the common configuration): every token goes to it, and
    /// jsonwebtoken checks the header's algorithm against a validation listing only that key's
    /// algorithms, so the header is read once, by jsonwebtoken (reading it here as well was a
    /// measurable share of a connection's cost: see `bench/README.md`).
    Only(Arc<VerificationKey>, Box<Validation>),
    /// Chosen per token from its header (`kid`, `alg`): several keys, JWKS, a custom resolver.
    Resolved(Arc<dyn KeyResolver>),
    /// Several keys without a `kid` (secret rotation): each tried in order until one's
    /// signature matches; each with a validation listing only its own algorithms.
    Rotation(Box<[(Arc<VerificationKey>, Validation)]>),
}

impl Keys {
    fn new(source: KeySource, template: &Validation) -> Self {
        match source {
            KeySource::Static(keys) => match keys.only_key() {
                Some(key) if key.decoding_key().is_some() => {
                    let mut validation = template.clone();
                    validation.algorithms = key.allowed_algorithms().to_vec();
                    Self::Only(key.clone(), Box::new(validation))
                }
                _ => Self::Resolved(Arc::new(keys)),
            },
            KeySource::Resolver(resolver) => Self::Resolved(resolver),
            KeySource::Rotation(keys) => Self::Rotation(
                keys.into_iter()
                    .map(|key| {
                        let mut validation = template.clone();
                        validation.algorithms = key.allowed_algorithms().to_vec();
                        (Arc::new(key), validation)
                    })
                    .collect(),
            ),
        }
    }
}

/// Keys, claim rules, revocations and the application's check, applied in one place.
pub(crate) struct Verifier<C> {
    issuers: Issuers,
    times: TimeRules,
    max_token_len: usize,
    revocations: Option<RevocationList>,
    check: Option<CheckFn<C>>,
    /// The claim that names the user, when not `sub` (see [`Self::identify_by`]).
    identity_claim: Option<Box<str>>,
}

/// Whose keys verify a token: the one configuration, or the issuer its `iss` names.
enum Issuers {
    One(Box<IssuerKeys>),
    Several(HashMap<Box<str>, IssuerKeys>),
}

/// One issuer's keys, and the validations (its `iss`, its audience) they verify with.
struct IssuerKeys {
    /// The `iss` required, if any (what a key resolver is told).
    iss: Option<Box<str>>,
    keys: Keys,
    validations: FamilyValidations,
    /// How its back-channel logout tokens are verified, when it has a client id.
    logout: Option<LogoutRules>,
}

impl IssuerKeys {
    fn new(source: KeySource, rules: &ClaimRules) -> Self {
        let template = rules.validation();
        Self {
            iss: rules.issuers.first().map(|iss| Box::from(iss.as_str())),
            keys: Keys::new(source, &template),
            validations: FamilyValidations::new(&template),
            logout: None,
        }
    }
}

impl<C> fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let issuers = match &self.issuers {
            Issuers::One(_) => 1,
            Issuers::Several(by_iss) => by_iss.len(),
        };
        f.debug_struct("Verifier")
            .field("issuers", &issuers)
            .field("max_token_len", &self.max_token_len)
            .field("revocations", &self.revocations.is_some())
            .field("check", &self.check.is_some())
            .finish_non_exhaustive()
    }
}

impl<C> Verifier<C> {
    /// `sources`: each issuer's keys and rules (at least one; with several, each requires its
    /// own `iss`, and the rules differ only in `iss` and audience).
    pub(crate) fn new(
        sources: Vec<(KeySource, ClaimRules)>,
        max_token_len: usize,
        revocations: Option<RevocationList>,
        check: Option<CheckFn<C>>,
    ) -> Self {
        let times = sources
            .first()
            .map(|(_, rules)| rules.time_rules())
            .unwrap_or(TimeRules {
                leeway: Duration::ZERO,
                iat_skew: IAT_SKEW,
                max_lifetime: None,
                max_session_age: None,
            });
        let mut sources = sources.into_iter();
        let issuers = match (sources.next(), sources.len()) {
            (Some((source, rules)), 0) => Issuers::One(Box::new(IssuerKeys::new(source, &rules))),
            // Several (none: every token is refused; the builder never makes that).
            (first, _) => Issuers::Several(
                first
                    .into_iter()
                    .chain(sources)
                    .map(|(source, rules)| {
                        let keys = IssuerKeys::new(source, &rules);
                        (keys.iss.clone().unwrap_or_default(), keys)
                    })
                    .collect(),
            ),
        };
        Self {
            issuers,
            times,
            max_token_len,
            revocations,
            check,
            identity_claim: None,
        }
    }

    /// Names the user by this claim instead of `sub` (Azure AD's `oid`, an `email`): its value
    /// becomes the token's subject for everything the library keys by user (the per-user cap
    /// and room, revocations by user, logs).
    pub(crate) fn identify_by(&mut self, claim: &str) {
        self.identity_claim = (claim != "sub").then(|| claim.into());
    }

    /// The issuer whose keys verify `token`, once its length and shape are checked (cheapest
    /// first): the one configured, or the trusted issuer its `iss` names.
    fn issuer_for(&self, token: &str) -> Result<&IssuerKeys, AuthError> {
        if token.len() > self.max_token_len {
            return Err(
                AuthError::new(ErrorCode::InvalidToken).with_source("token exceeds max length")
            );
        }
        if !has_jws_shape(token) {
            return Err(ErrorCode::CredentialsBadFormat.into());
        }
        match &self.issuers {
            Issuers::One(issuer) => Ok(issuer),
            Issuers::Several(by_iss) => issuer_of(by_iss, token),
        }
    }

    /// The `iss` of every trusted issuer (none for keys without an issuer).
    #[cfg(feature = "ssf")]
    pub(crate) fn trusted_issuers(&self) -> Vec<&str> {
        match &self.issuers {
            Issuers::One(issuer) => issuer.iss.as_deref().into_iter().collect(),
            Issuers::Several(by_iss) => by_iss.keys().map(|iss| &**iss).collect(),
        }
    }

    /// The one source of tokens (`Some(None)`: keys without an issuer, `Some(Some(iss))`: one
    /// trusted issuer), `None` with several trusted issuers.
    pub(crate) fn sole_issuer(&self) -> Option<Option<&str>> {
        match &self.issuers {
            Issuers::One(issuer) => Some(issuer.iss.as_deref()),
            Issuers::Several(_) => None,
        }
    }

    /// Accepts logout tokens of issuer `iss` for `client_id` (see [`Self::verify_logout`]).
    /// `false` if no such issuer is configured.
    pub(crate) fn accept_logouts(&mut self, iss: &str, client_id: &str) -> bool {
        let leeway_secs = self.leeway_secs();
        let issuer = match &mut self.issuers {
            Issuers::One(issuer) if issuer.iss.as_deref() == Some(iss) => &mut **issuer,
            Issuers::One(_) => return false,
            Issuers::Several(by_iss) => match by_iss.get_mut(iss) {
                Some(issuer) => issuer,
                None => return false,
            },
        };
        issuer.logout = Some(LogoutRules::new(issuer, iss, client_id, leeway_secs));
        true
    }

    /// The leeway on `exp`, in whole seconds (rounded up).
    pub(crate) fn leeway_secs(&self) -> u64 {
        crate::time::whole_secs_up(self.times.leeway)
    }

    /// The claim users are keyed by, when it is not `sub`.
    #[cfg(feature = "ssf")]
    pub(crate) fn identity_claim(&self) -> Option<&str> {
        self.identity_claim.as_deref()
    }

    /// The revocation list, if one is configured.
    pub(crate) fn revocations(&self) -> Option<&RevocationList> {
        self.revocations.as_ref()
    }

    pub(crate) fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// Whether an application check is configured.
    #[cfg(test)]
    pub(crate) fn has_check(&self) -> bool {
        self.check.is_some()
    }
}

impl<C: DeserializeOwned + 'static> Verifier<C> {
    /// Verifies `token` completely, the application's check included.
    pub(crate) async fn verify(&self, token: &str) -> Result<Verified<C>, AuthError> {
        let timer = VerifyTimer::start();
        let verified = self.verify_untimed(token, None, false).await;
        timer.stop();
        verified.map(|(verified, _)| verified)
    }

    /// Verifies a socket's token, and puts it in the revocation list (when one is configured)
    /// before checking it there: a revocation published at any moment after this check
    /// reaches the socket through `kick`, so the token is checked once. `kick` is made only
    /// when a list is configured. A `first` token (a new socket) issued before a refresh
    /// request for its user is refused; a refresh is not (the session decides whether it
    /// answers the request, and asks again if not).
    pub(crate) async fn verify_tracked(
        &self,
        token: &str,
        first: bool,
        kick: impl FnOnce() -> LiveFn,
    ) -> Result<(Verified<C>, Option<LiveTicket>), AuthError> {
        let timer = VerifyTimer::start();
        let kick = self.revocations.is_some().then(kick);
        let verified = self.verify_untimed(token, kick, first).await;
        timer.stop();
        verified
    }

    async fn verify_untimed(
        &self,
        token: &str,
        kick: Option<LiveFn>,
        first: bool,
    ) -> Result<(Verified<C>, Option<LiveTicket>), AuthError> {
        let issuer = self.issuer_for(token)?;
        // The claims stay JSON text, read twice (registered claims, the application's type): no
        // `Value` tree is built.
        // Only the claims are kept: the decoded header (several hundred bytes) would otherwise
        // live in this future across the application's check.
        let decoded: Decoded<Box<RawValue>> = match &issuer.keys {
            Keys::Only(key, validation) => decode_with(key, validation, token)?,
            Keys::Rotation(keys) => decode_rotated(keys.iter().map(|(k, v)| (&**k, v)), token)?,
            Keys::Resolved(resolver) => {
                let resolving = resolve_key(resolver.as_ref(), issuer, token);
                let key = resolving.await?;
                decode_with(&key, issuer.validations.for_family(key.family()), token)?
            }
        };
        if decoded.room_token {
            // Signed by the same keys, for one room: never a credential (RFC 8725 §3.11).
            return Err(AuthError::new(ErrorCode::InvalidToken)
                .with_source("a room token (typ room+jwt) is not a credential"));
        }
        let claims_raw = decoded.claims;
        let claims_json = claims_raw.get();
        let (mut registered, read_once) = read_registered::<C>(claims_json)?;
        if let Some(claim) = &self.identity_claim {
            registered.sub = identity::read_claim(claims_json, claim)?;
        }
        if registered.has_events {
            // An OpenID Connect logout token, or another Security Event Token (RFC 8417 §2.2):
            // signed by the same keys, often for the same audience, and never a credential.
            return Err(AuthError::new(ErrorCode::InvalidToken)
                .with_source("a security event token (with an events claim) is not a credential"));
        }
        let mut checked_at = wall_clock();
        self.times.check(&registered, checked_at)?;
        let mut ticket = None;
        if let Some(list) = &self.revocations {
            ticket = kick.map(|kick| list.track(&registered, kick));
            if list.is_revoked(&registered) {
                return Err(AuthError::revoked());
            }
            // A new socket's token issued before a refresh request for its user: the claims
            // changed. (Not REST: the client refreshes its token there.)
            if first && list.is_stale(&registered) {
                return Err(AuthError::new(ErrorCode::TokenExpired).with_message(
                    "the claims changed since this token was issued: get a fresh one",
                ));
            }
        }
        let claims = Arc::new(match read_once {
            Some(claims) => claims,
            None => serde_json::from_str::<C>(claims_json).map_err(claims_shape)?,
        });
        if let Some(check) = &self.check {
            check(claims.clone()).await?;
            checked_at = wall_clock();
        }
        // Keyed by the trusted issuer that checked the token, never by an `iss` nobody checked.
        let user = UserId::from_claims(issuer.iss.as_deref(), registered.sub.take());
        let verified = Verified {
            claims,
            registered,
            user,
            checked_at,
        };
        Ok((verified, ticket))
    }
}

impl<C> Verifier<C> {
    /// Verifies a room token: signed by a trusted issuer's keys, typed
    /// [`ROOM_TOKEN_TYPE`](crate::protocol::ROOM_TOKEN_TYPE), with that issuer's `iss` and
    /// audience rules, an `exp` (always required), the times checked, not revoked. Returns its
    /// registered claims (its user named as a socket's is) and its `room`. The application's
    /// check does not run: the room token grants a room, not a login.
    pub(crate) async fn verify_room_token(
        &self,
        token: &str,
    ) -> Result<(RegisteredClaims, Option<UserId>, String), AuthError> {
        let refuse = |why: &'static str| AuthError::new(ErrorCode::InvalidToken).with_source(why);
        let issuer = self.issuer_for(token)?;
        let decoded: Decoded<Box<RawValue>> = match &issuer.keys {
            Keys::Only(key, validation) => decode_with(key, validation, token)?,
            Keys::Rotation(keys) => decode_rotated(keys.iter().map(|(k, v)| (&**k, v)), token)?,
            Keys::Resolved(resolver) => {
                let key = resolve_key(resolver.as_ref(), issuer, token).await?;
                decode_with(&key, issuer.validations.for_family(key.family()), token)?
            }
        };
        if !decoded.room_token {
            return Err(refuse("not a room token (typ room+jwt)"));
        }
        let json = decoded.claims.get();
        let mut registered: RegisteredClaims = serde_json::from_str(json).map_err(claims_shape)?;
        if registered.exp.is_none() {
            return Err(refuse("a room token must expire (exp)"));
        }
        if let Some(claim) = &self.identity_claim {
            registered.sub = identity::read_claim(json, claim)?;
        }
        #[derive(serde::Deserialize)]
        struct RoomClaim {
            room: String,
        }
        let room = serde_json::from_str::<RoomClaim>(json)
            .map_err(claims_shape)?
            .room;
        self.times.check(&registered, wall_clock())?;
        if self
            .revocations
            .as_ref()
            .is_some_and(|list| list.is_revoked(&registered))
        {
            return Err(AuthError::revoked());
        }
        let user = UserId::from_claims(issuer.iss.as_deref(), registered.sub.clone());
        Ok((registered, user, room))
    }
}

mod decode;
mod identity;
#[cfg(feature = "ssf")]
pub(crate) use self::identity::MAX_IDENTITY_LEN;

pub(crate) use self::decode::has_jws_shape;
use self::decode::{
    claims_shape, decode_rotated, decode_with, issuer_of, read_registered, resolve_key, Decoded,
};
mod logout;
mod rules;
use self::logout::LogoutRules;
pub use self::logout::{LogoutToken, BACKCHANNEL_LOGOUT_EVENT, MAX_LOGOUT_TOKEN_LIFETIME};
pub(crate) use self::rules::{ClaimRules, IAT_SKEW};
use self::rules::{FamilyValidations, TimeRules};

#[cfg(test)]
mod tests;
