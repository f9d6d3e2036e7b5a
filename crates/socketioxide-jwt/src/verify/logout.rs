//! OpenID Connect Back-Channel Logout 1.0: verifying a logout token (§2.4, §2.6).
//!
//! A logout token is signed by a trusted issuer with the keys of its ID tokens, for the
//! application's client id (`aud`), and says whose login ended: a `sid` (one login session),
//! a `sub` (every session of the user at that issuer), or both. It is not a credential: the
//! verifier refuses any token with an `events` claim as one.

use std::time::Duration;

use jsonwebtoken::Validation;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::rules::{FamilyValidations, TimeRules};
use super::{decode_rotated, decode_with, resolve_key, IssuerKeys, Keys, Verifier};
use crate::claims::numeric_date;
use crate::error::AuthError;
use crate::keys::VerificationKey;
use crate::protocol::ErrorCode;
use crate::time::wall_clock;

/// The `events` member that makes a token a back-channel logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A verified logout token: whose login ended.
///
/// # Example
/// ```
/// use socketioxide_jwt::logout::LogoutToken;
/// fn describe(logout: &LogoutToken) -> String {
///     match (&logout.sid, &logout.sub) {
///         (Some(sid), _) => format!("login session {sid} at {}", logout.iss),
///         (None, Some(sub)) => format!("every session of {sub} at {}", logout.iss),
///         (None, None) => unreachable!("a logout token names a sid or a sub"),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutToken {
    /// The issuer that signed it.
    pub iss: String,
    /// The user whose sessions ended (with no `sid`: every one of them at this issuer).
    pub sub: Option<String>,
    /// The login session that ended.
    pub sid: Option<String>,
    /// The token's id (a replay of it is refused).
    pub jti: String,
    /// When it was issued, seconds since the epoch.
    pub iat: u64,
    /// When it expires, seconds since the epoch: its `jti` is remembered until then.
    pub exp: u64,
}

/// The claims of a logout token, as signed.
#[derive(Deserialize)]
struct LogoutClaims {
    iss: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    jti: String,
    #[serde(deserialize_with = "numeric_date::required")]
    iat: u64,
    #[serde(deserialize_with = "numeric_date::required")]
    exp: u64,
    events: Map<String, Value>,
    /// Forbidden (§2.4): an ID token, which has one, is not a logout token (`null` too).
    #[serde(default, deserialize_with = "crate::claims::present")]
    nonce: bool,
}

/// The longest a logout token may live (`exp` - `iat`): they are meant to be used at once
/// (providers set a minute or two), and their ids are remembered until `exp`.
pub const MAX_LOGOUT_TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// The longest `jti`, `sid` or `sub` of a logout token, in bytes.
const MAX_ID_LEN: usize = 255;

/// How an issuer's logout tokens are validated: `aud` = the client id, `iss`, `exp` required.
pub(super) struct LogoutRules {
    families: FamilyValidations,
    /// With keys without a `kid` (one, or several in rotation): each key's algorithms only, in
    /// the order of the keys.
    per_key: Vec<Validation>,
}

impl LogoutRules {
    pub(super) fn new(issuer: &IssuerKeys, iss: &str, client_id: &str, leeway_secs: u64) -> Self {
        let mut template = Validation::new(jsonwebtoken::Algorithm::HS256);
        template.set_issuer(&[iss]);
        template.set_audience(&[client_id]);
        template.set_required_spec_claims(&["exp", "iss", "aud"]);
        template.validate_nbf = true;
        template.leeway = leeway_secs;
        let for_key = |key: &VerificationKey| {
            let mut v = template.clone();
            v.algorithms = key.allowed_algorithms().to_vec();
            v
        };
        let per_key = match &issuer.keys {
            Keys::Only(key, _) => vec![for_key(key)],
            Keys::Rotation(keys) => keys.iter().map(|(key, _)| for_key(key)).collect(),
            Keys::Resolved(_) => Vec::new(),
        };
        Self {
            families: FamilyValidations::new(&template),
            per_key,
        }
    }
}

impl<C> Verifier<C> {
    /// Verifies a back-channel logout token: signed by a trusted issuer configured with a
    /// client id, for that client, unexpired, `iat` not in the future, the logout `events`
    /// member, a `sid` or a `sub`, a `jti`, no `nonce`. Replays are the caller's to refuse.
    pub(crate) async fn verify_logout(&self, token: &str) -> Result<LogoutToken, AuthError> {
        let refuse = |why: &'static str| AuthError::new(ErrorCode::InvalidToken).with_source(why);
        let issuer = self.issuer_for(token)?;
        let rules = issuer.logout.as_ref().ok_or_else(|| {
            refuse("logout tokens of this issuer are not accepted (no client id)")
        })?;
        let decoded: super::Decoded<LogoutClaims> = match &issuer.keys {
            Keys::Only(key, _) => {
                decode_rotated(std::iter::once(&**key).zip(&rules.per_key), token)?
            }
            Keys::Rotation(keys) => decode_rotated(
                keys.iter().map(|(key, _)| &**key).zip(&rules.per_key),
                token,
            )?,
            Keys::Resolved(resolver) => {
                let key = resolve_key(resolver.as_ref(), issuer, token).await?;
                decode_with(&key, rules.families.for_family(key.family()), token)?
            }
        };
        if decoded.room_token {
            return Err(refuse("a room token is not a logout token"));
        }
        let claims = decoded.claims;
        let now = wall_clock();
        let times = TimeRules {
            leeway: self.times.leeway,
            iat_skew: self.times.iat_skew,
            max_lifetime: None,
            max_session_age: None,
        };
        let registered = crate::claims::RegisteredClaims {
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            ..Default::default()
        };
        times.check(&registered, now)?;
        let is_logout_event = claims
            .events
            .get(BACKCHANNEL_LOGOUT_EVENT)
            .is_some_and(Value::is_object);
        if !is_logout_event {
            return Err(refuse("not a back-channel logout token (events)"));
        }
        if claims.nonce {
            return Err(refuse("a logout token must not carry a nonce"));
        }
        if claims.sid.is_none() && claims.sub.is_none() {
            return Err(refuse("a logout token names a sid, a sub or both"));
        }
        let ids = [Some(&claims.jti), claims.sid.as_ref(), claims.sub.as_ref()];
        if ids
            .into_iter()
            .flatten()
            .any(|id| id.is_empty() || id.len() > MAX_ID_LEN)
        {
            return Err(refuse(
                "a logout token's jti, sid and sub have 1 to 255 bytes",
            ));
        }
        if claims.exp.saturating_sub(claims.iat) > MAX_LOGOUT_TOKEN_LIFETIME.as_secs() {
            return Err(refuse(
                "a logout token lives at most 10 minutes (exp - iat)",
            ));
        }
        Ok(LogoutToken {
            iss: claims.iss,
            sub: claims.sub,
            sid: claims.sid,
            jti: claims.jti,
            iat: claims.iat,
            exp: claims.exp,
        })
    }
}
