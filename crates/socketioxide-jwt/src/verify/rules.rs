//! What the claims must satisfy: the configured rules, turned into jsonwebtoken
//! [`Validation`]s (one per key family) and the exact time rules checked after it.

use std::time::Duration;

use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};

use crate::claims::RegisteredClaims;
use crate::error::AuthError;
use crate::keys::Audience;
use crate::protocol::ErrorCode;
use crate::time::until_unix;

/// How much an `iat` may lie in the future (the issuer's clock ahead of ours) before the token is
/// refused; the leeway, when larger, replaces it.
pub(crate) const IAT_SKEW: Duration = Duration::from_secs(60);

/// What the claims must satisfy, as configured on the builder.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuers: Vec<String>,
    pub(crate) audience: Audience,
    pub(crate) require_exp: bool,
    /// To the sub-second (jsonwebtoken, which counts whole seconds, is given it rounded up; the
    /// exact check is [`TimeRules`]'s).
    pub(crate) leeway: Duration,
    /// Refuse tokens that live longer than this (from now, and from their `iat`).
    pub(crate) max_token_lifetime: Option<Duration>,
    /// Refuse tokens whose `auth_time` is older than this.
    pub(crate) max_session_age: Option<Duration>,
}

impl ClaimRules {
    /// jsonwebtoken's validation for these rules (its algorithm list is set per family).
    pub(super) fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = crate::time::whole_secs_up(self.leeway);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        let mut required = Vec::new();
        if self.require_exp {
            required.push("exp");
        }
        if !self.issuers.is_empty() {
            validation.set_issuer(&self.issuers);
            required.push("iss");
        }
        match &self.audience {
            Audience::OneOf(audiences) => {
                validation.set_audience(audiences);
                required.push("aud");
            }
            // jsonwebtoken's own default: `aud` validated against none, so any `aud` is refused.
            Audience::NoneExpected => validation.validate_aud = true,
            Audience::Any => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// The checks on `iat` and the lifetime that jsonwebtoken does not make.
    pub(super) fn time_rules(&self) -> TimeRules {
        TimeRules {
            leeway: self.leeway,
            iat_skew: self.leeway.max(IAT_SKEW),
            max_lifetime: self.max_token_lifetime,
            max_session_age: self.max_session_age,
        }
    }
}

/// `exp` and `nbf` to the sub-second (with `leeway`), `iat` not in the future (beyond
/// `iat_skew`), and at most `max_lifetime` of life left or in all.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeRules {
    pub(super) leeway: Duration,
    pub(super) iat_skew: Duration,
    pub(super) max_lifetime: Option<Duration>,
    pub(super) max_session_age: Option<Duration>,
}

impl TimeRules {
    /// Checks the registered times against the wall clock `now` (since the epoch).
    pub(super) fn check(&self, claims: &RegisteredClaims, now: Duration) -> Result<(), AuthError> {
        let refuse = |why: &'static str| AuthError::new(ErrorCode::InvalidToken).with_source(why);
        // jsonwebtoken compared whole seconds with the leeway rounded up; this is the exact rule.
        if claims
            .exp
            .is_some_and(|exp| until_unix(exp, self.leeway, now).is_zero())
        {
            return Err(
                AuthError::new(ErrorCode::TokenExpired).with_source("the token has expired")
            );
        }
        if claims
            .nbf
            .is_some_and(|nbf| Duration::from_secs(nbf) > now.saturating_add(self.leeway))
        {
            return Err(refuse("the token is not valid yet (nbf)"));
        }
        if claims
            .iat
            .is_some_and(|iat| Duration::from_secs(iat) > now.saturating_add(self.iat_skew))
        {
            return Err(refuse("the token's iat is in the future"));
        }
        if let (Some(max), Some(auth_time)) = (self.max_session_age, claims.auth_time) {
            // A login in the future would never grow old.
            if Duration::from_secs(auth_time) > now.saturating_add(self.iat_skew) {
                return Err(refuse("the token's auth_time is in the future"));
            }
            if now.saturating_sub(Duration::from_secs(auth_time)) > max {
                return Err(AuthError::new(ErrorCode::TokenExpired).with_source(
                    "the login session (auth_time) is older than max_session_age: log in again",
                ));
            }
        }
        let Some(max) = self.max_lifetime else {
            return Ok(());
        };
        let Some(exp) = claims.exp else {
            return Err(refuse("a token without exp outlives max_token_lifetime"));
        };
        let left = until_unix(exp, Duration::ZERO, now);
        let lifetime = claims
            .iat
            .map(|iat| Duration::from_secs(exp.saturating_sub(iat)));
        if left > max.saturating_add(self.iat_skew) || lifetime.is_some_and(|l| l > max) {
            return Err(refuse("the token lives longer than max_token_lifetime"));
        }
        Ok(())
    }
}

/// One jsonwebtoken [`Validation`] per key family, built once: jsonwebtoken needs every listed
/// algorithm to match the key's family, and the key's own (narrower) allow-list is checked
/// against the token header before jsonwebtoken runs.
#[derive(Debug, Clone)]
pub(super) struct FamilyValidations {
    hmac: Validation,
    rsa: Validation,
    ec: Validation,
    ed: Validation,
}

impl FamilyValidations {
    pub(super) fn new(template: &Validation) -> Self {
        let with = |family: AlgorithmFamily| {
            let mut v = template.clone();
            v.algorithms = family.algorithms().to_vec();
            v
        };
        Self {
            hmac: with(AlgorithmFamily::Hmac),
            rsa: with(AlgorithmFamily::Rsa),
            ec: with(AlgorithmFamily::Ec),
            ed: with(AlgorithmFamily::Ed),
        }
    }

    pub(super) fn for_family(&self, family: AlgorithmFamily) -> &Validation {
        match family {
            AlgorithmFamily::Hmac => &self.hmac,
            AlgorithmFamily::Rsa => &self.rsa,
            AlgorithmFamily::Ec => &self.ec,
            AlgorithmFamily::Ed => &self.ed,
        }
    }
}
