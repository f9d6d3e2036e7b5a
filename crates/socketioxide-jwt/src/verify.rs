//! The one verifier: what every token goes through, from a socket or a REST request alike.
//!
//! Order, cheapest first: length bound, shape, header, key selection, algorithm allow-list,
//! signature and claims (jsonwebtoken), revocation, the application's check.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, AlgorithmFamily, Validation};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::claims::RegisteredClaims;
use crate::error::AuthError;
use crate::keys::{BoxFuture, KeyResolver};
use crate::metrics::VerifyTimer;
use crate::protocol::ErrorCode;
use crate::revocation::RevocationList;

/// The application's check, run after the signature and claims are verified.
pub(crate) type CheckFn<C> =
    Arc<dyn Fn(Arc<C>) -> BoxFuture<'static, Result<(), AuthError>> + Send + Sync>;

/// A token whose signature, claims, revocation status and application check passed.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: Arc<C>,
    pub(crate) registered: RegisteredClaims,
}

/// What the claims must satisfy, as configured on the builder.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) require_exp: bool,
    /// Whole seconds.
    pub(crate) leeway: Duration,
}

impl ClaimRules {
    /// jsonwebtoken's validation for these rules (its algorithm list is set per family).
    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = self.leeway.as_secs();
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
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

/// One jsonwebtoken [`Validation`] per key family, built once: jsonwebtoken needs every listed
/// algorithm to match the key's family, and the key's own (narrower) allow-list is checked
/// against the token header before jsonwebtoken runs.
#[derive(Debug, Clone)]
struct FamilyValidations {
    hmac: Validation,
    rsa: Validation,
    ec: Validation,
    ed: Validation,
}

impl FamilyValidations {
    fn new(template: &Validation) -> Self {
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

    fn for_family(&self, family: AlgorithmFamily) -> &Validation {
        match family {
            AlgorithmFamily::Hmac => &self.hmac,
            AlgorithmFamily::Rsa => &self.rsa,
            AlgorithmFamily::Ec => &self.ec,
            AlgorithmFamily::Ed => &self.ed,
        }
    }
}

/// Keys, claim rules, revocations and the application's check, applied in one place.
pub(crate) struct Verifier<C> {
    keys: Arc<dyn KeyResolver>,
    validations: FamilyValidations,
    max_token_len: usize,
    revocations: Option<RevocationList>,
    check: Option<CheckFn<C>>,
}

impl<C> fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("max_token_len", &self.max_token_len)
            .field("revocations", &self.revocations.is_some())
            .field("check", &self.check.is_some())
            .finish_non_exhaustive()
    }
}

impl<C> Verifier<C> {
    pub(crate) fn new(
        keys: Arc<dyn KeyResolver>,
        rules: &ClaimRules,
        max_token_len: usize,
        revocations: Option<RevocationList>,
        check: Option<CheckFn<C>>,
    ) -> Self {
        Self {
            keys,
            validations: FamilyValidations::new(&rules.validation()),
            max_token_len,
            revocations,
            check,
        }
    }

    /// Tokens longer than this are refused before parsing.
    pub(crate) fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// The revocation list, if one is configured.
    pub(crate) fn revocations(&self) -> Option<&RevocationList> {
        self.revocations.as_ref()
    }
}

impl<C: DeserializeOwned> Verifier<C> {
    /// Verifies `token` completely, the application's check included.
    pub(crate) async fn verify(&self, token: &str) -> Result<Verified<C>, AuthError> {
        let timer = VerifyTimer::start();
        let verified = self.verify_untimed(token).await;
        timer.stop();
        verified
    }

    async fn verify_untimed(&self, token: &str) -> Result<Verified<C>, AuthError> {
        if token.len() > self.max_token_len {
            return Err(
                AuthError::new(ErrorCode::InvalidToken).with_source("token exceeds max length")
            );
        }
        if !has_jws_shape(token) {
            return Err(ErrorCode::CredentialsBadFormat.into());
        }
        let header = decode_header(token).map_err(jwt_error)?;
        let key = self.keys.resolve(&header).await?;
        if !key.allowed_algorithms().contains(&header.alg) {
            return Err(AuthError::new(ErrorCode::InvalidToken)
                .with_source("the token's algorithm is not allowed for this key"));
        }
        let validation = self.validations.for_family(key.family());
        let decoding_key = key.decoding_key().ok_or_else(|| {
            AuthError::new(ErrorCode::InvalidToken)
                .with_source("the resolved key is an empty secret")
        })?;
        // The claims stay JSON text, read twice (registered claims, the application's type): no
        // `Value` tree is built.
        let data = decode::<Box<RawValue>>(token, decoding_key, validation).map_err(jwt_error)?;
        let claims_json = data.claims.get();
        let registered: RegisteredClaims =
            serde_json::from_str(claims_json).map_err(claims_shape)?;
        if self
            .revocations
            .as_ref()
            .is_some_and(|list| list.is_revoked(&registered))
        {
            return Err(AuthError::revoked());
        }
        let claims = Arc::new(serde_json::from_str::<C>(claims_json).map_err(claims_shape)?);
        if let Some(check) = &self.check {
            check(claims.clone()).await?;
        }
        Ok(Verified { claims, registered })
    }
}

/// `header.payload.signature`, each part base64url (the signature may be empty: `alg: none`
/// tokens have that shape and are refused later as `invalid_token`).
///
/// One pass over the bytes with a table: it runs on every token, before anything else.
fn has_jws_shape(token: &str) -> bool {
    let mut dots = [0usize; 2];
    let mut found = 0;
    for (i, &b) in token.as_bytes().iter().enumerate() {
        if b == b'.' {
            if found == 2 {
                return false;
            }
            dots[found] = i;
            found += 1;
        } else if !BASE64URL[usize::from(b)] {
            return false;
        }
    }
    // Three parts; the header and payload are not empty.
    found == 2 && dots[0] > 0 && dots[1] > dots[0] + 1
}

/// The base64url alphabet (RFC 4648 §5), unpadded.
const BASE64URL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        b += 1;
    }
    table
};

fn claims_shape(e: serde_json::Error) -> AuthError {
    AuthError::new(ErrorCode::InvalidToken).with_source(e)
}

/// Maps jsonwebtoken's error kinds to the contract's codes.
fn jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    let code = match e.kind() {
        ErrorKind::ExpiredSignature => ErrorCode::TokenExpired,
        _ => ErrorCode::InvalidToken,
    };
    AuthError::new(code).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jws_shape() {
        assert!(has_jws_shape("aGVh.cGF5.c2ln"));
        assert!(
            has_jws_shape("aGVh.cGF5."),
            "alg none shape is left to the verifier"
        );
        assert!(!has_jws_shape("aGVh.cGF5"));
        assert!(!has_jws_shape("a.b.c.d"));
        assert!(!has_jws_shape(".b.c"));
        assert!(!has_jws_shape("a b.c.d"));
        assert!(!has_jws_shape("garbage"));
        assert!(!has_jws_shape("a..c"), "an empty payload");
        assert!(!has_jws_shape("a.b=.c"), "padding is not base64url");
        assert!(!has_jws_shape("a.b.c\u{e9}"), "non-ASCII");
        assert!(!has_jws_shape(""));
    }

    #[test]
    fn issuer_and_audience_become_required() {
        let rules = ClaimRules {
            issuers: vec!["iss".into()],
            audiences: vec!["aud".into()],
            require_exp: true,
            leeway: Duration::ZERO,
        };
        let required = rules.validation().required_spec_claims;
        for claim in ["exp", "iss", "aud"] {
            assert!(required.contains(claim), "{claim} must be required");
        }
    }
}
