//! The one verifier: what every token goes through, from a socket or a REST request alike.
//!
//! Order, cheapest first: length bound, shape, header, key selection, algorithm allow-list,
//! signature and claims (jsonwebtoken), revocation, the application's check. With one key
//! without a `kid`, jsonwebtoken reads the header and checks the allow-list itself.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, AlgorithmFamily, Validation};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::claims::RegisteredClaims;
use crate::error::AuthError;
use crate::keys::{BoxFuture, KeyResolver, StaticKeys, VerificationKey};
use crate::metrics::VerifyTimer;
use crate::protocol::ErrorCode;
use crate::revocation::RevocationList;
use crate::time::{until_unix, wall_clock};

/// The application's check, run after the signature and claims are verified.
pub(crate) type CheckFn<C> =
    Arc<dyn Fn(Arc<C>) -> BoxFuture<'static, Result<(), AuthError>> + Send + Sync>;

/// A token whose signature, claims, revocation status and application check passed.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: Arc<C>,
    pub(crate) registered: RegisteredClaims,
}

/// How much an `iat` may lie in the future (the issuer's clock ahead of ours) before the token is
/// refused; the leeway, when larger, replaces it.
pub(crate) const IAT_SKEW: Duration = Duration::from_secs(60);

/// Which `aud` a token may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AudiencePolicy {
    /// `aud` must be present and name one of these.
    OneOf(Vec<String>),
    /// No audience is configured: a token that names one is for someone else (RFC 8725 §3.9,
    /// jsonwebtoken's default).
    NoneExpected,
    /// `insecure_any_audience`: `aud` is not looked at.
    Any,
}

/// What the claims must satisfy, as configured on the builder.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuers: Vec<String>,
    pub(crate) audience: AudiencePolicy,
    pub(crate) require_exp: bool,
    /// To the sub-second (jsonwebtoken, which counts whole seconds, is given it rounded up; the
    /// exact check is [`TimeRules`]'s).
    pub(crate) leeway: Duration,
    /// Refuse tokens that live longer than this (from now, and from their `iat`).
    pub(crate) max_token_lifetime: Option<Duration>,
}

impl ClaimRules {
    /// jsonwebtoken's validation for these rules (its algorithm list is set per family).
    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = self
            .leeway
            .as_secs()
            .saturating_add(u64::from(self.leeway.subsec_nanos() > 0));
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
            AudiencePolicy::OneOf(audiences) => {
                validation.set_audience(audiences);
                required.push("aud");
            }
            // jsonwebtoken's own default: `aud` validated against none, so any `aud` is refused.
            AudiencePolicy::NoneExpected => validation.validate_aud = true,
            AudiencePolicy::Any => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// The checks on `iat` and the lifetime that jsonwebtoken does not make.
    fn time_rules(&self) -> TimeRules {
        TimeRules {
            leeway: self.leeway,
            iat_skew: self.leeway.max(IAT_SKEW),
            max_lifetime: self.max_token_lifetime,
        }
    }
}

/// `exp` and `nbf` to the sub-second (with `leeway`), `iat` not in the future (beyond
/// `iat_skew`), and at most `max_lifetime` of life left or in all.
#[derive(Debug, Clone, Copy)]
struct TimeRules {
    leeway: Duration,
    iat_skew: Duration,
    max_lifetime: Option<Duration>,
}

impl TimeRules {
    /// Checks the registered times against the wall clock `now` (since the epoch).
    fn check(&self, claims: &RegisteredClaims, now: Duration) -> Result<(), AuthError> {
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

/// The keys a configuration was built with.
pub(crate) enum KeySource {
    /// `JwtAuthBuilder::key` (one or more).
    Static(StaticKeys),
    /// `JwtAuthBuilder::key_resolver` (JWKS, custom).
    Resolver(Arc<dyn KeyResolver>),
}

/// How the verifier finds a token's key.
enum Keys {
    /// One key without a `kid` (the common configuration): every token goes to it, and
    /// jsonwebtoken checks the header's algorithm against a validation listing only that key's
    /// algorithms, so the header is read once, by jsonwebtoken (reading it here as well cost ~4 %
    /// of the instructions of a message-mode connection: 6.2k of 162k, callgrind).
    Only(Arc<VerificationKey>, Box<Validation>),
    /// Chosen per token from its header (`kid`, `alg`): several keys, JWKS, a custom resolver.
    Resolved(Arc<dyn KeyResolver>),
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
        }
    }
}

/// Keys, claim rules, revocations and the application's check, applied in one place.
pub(crate) struct Verifier<C> {
    keys: Keys,
    validations: FamilyValidations,
    times: TimeRules,
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
        keys: KeySource,
        rules: &ClaimRules,
        max_token_len: usize,
        revocations: Option<RevocationList>,
        check: Option<CheckFn<C>>,
    ) -> Self {
        let template = rules.validation();
        Self {
            keys: Keys::new(keys, &template),
            validations: FamilyValidations::new(&template),
            times: rules.time_rules(),
            max_token_len,
            revocations,
            check,
        }
    }

    /// Tokens longer than this are refused before parsing.
    pub(crate) fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// Whether an application check is configured.
    #[cfg(test)]
    pub(crate) fn has_check(&self) -> bool {
        self.check.is_some()
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
        let (key, validation) = match &self.keys {
            Keys::Only(key, validation) => (key.clone(), &**validation),
            Keys::Resolved(resolver) => {
                let header = decode_header(token).map_err(jwt_error)?;
                let key = resolver.resolve(&header).await?;
                if !key.allowed_algorithms().contains(&header.alg) {
                    return Err(AuthError::new(ErrorCode::InvalidToken)
                        .with_source("the token's algorithm is not allowed for this key"));
                }
                let validation = self.validations.for_family(key.family());
                (key, validation)
            }
        };
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
        self.times.check(&registered, wall_clock())?;
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

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn token(alg: Algorithm, kid: Option<&str>, secret: &[u8]) -> String {
        crate::builder::ensure_crypto_backend().expect("a crypto backend");
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let exp = crate::time::wall_clock().as_secs() + 600;
        let claims = serde_json::json!({ "sub": "alice", "exp": exp });
        let key = jsonwebtoken::EncodingKey::from_secret(secret).expect("hmac key");
        jsonwebtoken::encode(&header, &claims, &key).expect("signing")
    }

    /// `token` with its header replaced by `header` (signature left as it was).
    fn with_header(token: &str, header: &str) -> String {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header);
        let rest = token
            .split_once('.')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        format!("{encoded}.{rest}")
    }

    fn verifier(keys: Vec<VerificationKey>) -> Verifier<crate::StandardClaims> {
        crate::builder::ensure_crypto_backend().expect("a crypto backend");
        let mut set = StaticKeys::default();
        for key in keys {
            set.insert(key).expect("distinct kids");
        }
        let rules = ClaimRules {
            issuers: vec![],
            audience: AudiencePolicy::NoneExpected,
            require_exp: true,
            leeway: Duration::ZERO,
            max_token_lifetime: None,
        };
        Verifier::new(KeySource::Static(set), &rules, 8192, None, None)
    }

    async fn code(verifier: &Verifier<crate::StandardClaims>, token: &str) -> Option<ErrorCode> {
        verifier.verify(token).await.err().map(|e| e.code())
    }

    #[tokio::test]
    async fn one_key_refuses_what_the_resolved_path_refuses() {
        let only = verifier(vec![VerificationKey::hmac(SECRET)]);
        assert!(matches!(only.keys, Keys::Only(..)), "one kid-less key");
        let other = b"another-32-byte-secret-for-hs256";
        let several = verifier(vec![
            VerificationKey::hmac(SECRET),
            VerificationKey::hmac(other).kid("other"),
        ]);
        assert!(matches!(several.keys, Keys::Resolved(_)), "several keys");
        let good = token(Algorithm::HS256, None, SECRET);
        for v in [&only, &several] {
            assert_eq!(code(v, &good).await, None);
            // HS384 is not in the key's list (HS256 only by default).
            let hs384 = token(Algorithm::HS384, None, SECRET);
            assert_eq!(code(v, &hs384).await, Some(ErrorCode::InvalidToken));
            let wrong_secret = token(Algorithm::HS256, None, other);
            assert_eq!(code(v, &wrong_secret).await, Some(ErrorCode::InvalidToken));
            for header in [
                r#"{"alg":"none","typ":"JWT"}"#,
                r#"{"alg":"RS256","typ":"JWT"}"#,
                r#"{"typ":"JWT"}"#,
                "not json",
            ] {
                let forged = with_header(&good, header);
                assert_eq!(
                    code(v, &forged).await,
                    Some(ErrorCode::InvalidToken),
                    "{header}"
                );
            }
        }
        // One kid-less key takes every token, whatever its kid says.
        let with_kid = token(Algorithm::HS256, Some("any"), SECRET);
        assert_eq!(code(&only, &with_kid).await, None);
        // A key that lists HS384 accepts it.
        let wide = verifier(vec![
            VerificationKey::hmac(SECRET).algorithms([Algorithm::HS256, Algorithm::HS384])
        ]);
        assert!(matches!(wide.keys, Keys::Only(..)));
        assert_eq!(
            code(&wide, &token(Algorithm::HS384, None, SECRET)).await,
            None
        );
        // One key with a kid is chosen by the header.
        let named = verifier(vec![VerificationKey::hmac(SECRET).kid("main")]);
        assert!(matches!(named.keys, Keys::Resolved(_)));
        assert_eq!(
            code(&named, &token(Algorithm::HS256, Some("main"), SECRET)).await,
            None
        );
        assert_eq!(
            code(&named, &token(Algorithm::HS256, None, SECRET)).await,
            Some(ErrorCode::InvalidToken)
        );
    }

    #[test]
    fn issuer_and_audience_become_required() {
        let rules = ClaimRules {
            issuers: vec!["iss".into()],
            audience: AudiencePolicy::OneOf(vec!["aud".into()]),
            require_exp: true,
            leeway: Duration::ZERO,
            max_token_lifetime: None,
        };
        let required = rules.validation().required_spec_claims;
        for claim in ["exp", "iss", "aud"] {
            assert!(required.contains(claim), "{claim} must be required");
        }
    }

    fn signed(claims: &serde_json::Value) -> String {
        crate::builder::ensure_crypto_backend().expect("a crypto backend");
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET).expect("hmac key");
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).expect("signing")
    }

    fn verifier_with(rules: ClaimRules) -> Verifier<crate::StandardClaims> {
        crate::builder::ensure_crypto_backend().expect("a crypto backend");
        let mut set = StaticKeys::default();
        set.insert(VerificationKey::hmac(SECRET)).expect("one key");
        Verifier::new(KeySource::Static(set), &rules, 8192, None, None)
    }

    fn default_rules() -> ClaimRules {
        ClaimRules {
            issuers: vec![],
            audience: AudiencePolicy::NoneExpected,
            require_exp: true,
            leeway: Duration::ZERO,
            max_token_lifetime: None,
        }
    }

    /// The classes of hostile times and audiences, each with the outcome the contract gives.
    #[tokio::test]
    async fn hostile_claims_get_a_code_or_work() {
        use serde_json::json;
        let now = crate::time::unix_now();
        let v = verifier_with(default_rules());
        let cases: Vec<(serde_json::Value, Option<ErrorCode>)> = vec![
            (json!({"sub": "a", "exp": u64::MAX}), None),
            (json!({"sub": "a", "exp": now + 900 * 86_400}), None),
            (json!({"sub": "a", "exp": (now + 600) as f64 + 0.5}), None),
            (
                json!({"sub": "a", "exp": 1e300}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": -1}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": i64::MIN}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": "2000000000"}),
                Some(ErrorCode::InvalidToken),
            ),
            (json!({"sub": "a", "exp": 0}), Some(ErrorCode::TokenExpired)),
            (
                json!({"sub": "a", "exp": now - 1}),
                Some(ErrorCode::TokenExpired),
            ),
            (json!({"sub": "a"}), Some(ErrorCode::InvalidToken)),
            (
                json!({"sub": "a", "exp": now + 600, "nbf": u64::MAX}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": now + 600, "nbf": -5}),
                Some(ErrorCode::InvalidToken),
            ),
            (json!({"sub": "a", "exp": now + 600, "nbf": 0}), None),
            // iat: a few seconds ahead works; beyond the skew, or unreadable, does not.
            (json!({"sub": "a", "exp": now + 600, "iat": now + 2}), None),
            (
                json!({"sub": "a", "exp": now + 600, "iat": now + 3600}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": now + 600, "iat": u64::MAX}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": now + 600, "iat": -1}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": now + 600, "iat": (now - 5) as f64 + 0.25}),
                None,
            ),
            // No audience configured: a token minted for another API is refused.
            (
                json!({"sub": "a", "exp": now + 600, "aud": "billing-api"}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": now + 600, "aud": ["billing-api"]}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": now + 600, "aud": []}),
                Some(ErrorCode::InvalidToken),
            ),
            (
                json!({"sub": "a", "exp": now + 600, "aud": ""}),
                Some(ErrorCode::InvalidToken),
            ),
        ];
        for (claims, expected) in cases {
            assert_eq!(code(&v, &signed(&claims)).await, expected, "{claims}");
        }
    }

    #[tokio::test]
    async fn audience_policies() {
        use serde_json::json;
        let now = crate::time::unix_now();
        let with = |aud: serde_json::Value| {
            let mut claims = json!({"sub": "a", "exp": now + 600});
            if !aud.is_null() {
                claims["aud"] = aud;
            }
            signed(&claims)
        };
        let one_of = verifier_with(ClaimRules {
            audience: AudiencePolicy::OneOf(vec!["chat".into()]),
            ..default_rules()
        });
        assert_eq!(code(&one_of, &with(json!("chat"))).await, None);
        assert_eq!(code(&one_of, &with(json!(["x", "chat"]))).await, None);
        assert_eq!(
            code(&one_of, &with(json!("billing-api"))).await,
            Some(ErrorCode::InvalidToken)
        );
        assert_eq!(
            code(&one_of, &with(json!(null))).await,
            Some(ErrorCode::InvalidToken)
        );
        let any = verifier_with(ClaimRules {
            audience: AudiencePolicy::Any,
            ..default_rules()
        });
        assert_eq!(code(&any, &with(json!("billing-api"))).await, None);
        assert_eq!(code(&any, &with(json!(null))).await, None);
        let none = verifier_with(default_rules());
        assert_eq!(code(&none, &with(json!(null))).await, None);
    }

    #[tokio::test]
    async fn max_token_lifetime_bounds_exp_and_exp_minus_iat() {
        use serde_json::json;
        let now = crate::time::unix_now();
        let v = verifier_with(ClaimRules {
            max_token_lifetime: Some(Duration::from_secs(3600)),
            ..default_rules()
        });
        assert_eq!(
            code(&v, &signed(&json!({"exp": now + 3000, "iat": now}))).await,
            None
        );
        assert_eq!(code(&v, &signed(&json!({"exp": now + 3000}))).await, None);
        assert_eq!(
            code(&v, &signed(&json!({"exp": now + 7200}))).await,
            Some(ErrorCode::InvalidToken),
            "too far ahead"
        );
        assert_eq!(
            code(&v, &signed(&json!({"exp": now + 600, "iat": now - 7200}))).await,
            Some(ErrorCode::InvalidToken),
            "issued for longer than allowed"
        );
        assert_eq!(
            code(&v, &signed(&json!({"exp": u64::MAX, "iat": now}))).await,
            Some(ErrorCode::InvalidToken)
        );
        let no_exp = verifier_with(ClaimRules {
            require_exp: false,
            max_token_lifetime: Some(Duration::from_secs(3600)),
            ..default_rules()
        });
        assert_eq!(
            code(&no_exp, &signed(&json!({"sub": "a"}))).await,
            Some(ErrorCode::InvalidToken),
            "a token without exp lives forever"
        );
    }

    /// Any JSON number (or other value) in `exp`, `nbf` and `iat`: an answer, never a panic.
    mod numeric_range {
        use super::*;
        use proptest::prelude::*;

        fn any_number() -> impl Strategy<Value = serde_json::Value> {
            use serde_json::json;
            prop_oneof![
                any::<u64>().prop_map(|n| json!(n)),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)),
                (0u64..4_000_000_000).prop_map(|n| json!(n)),
                Just(json!(u64::MAX)),
                Just(json!(i64::MIN)),
                Just(json!("1700000000")),
                Just(json!(null)),
                Just(json!(true)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]
            #[test]
            fn never_panics(exp in any_number(), nbf in any_number(), iat in any_number(), leeway in 0u64..=600) {
                let v = verifier_with(ClaimRules {
                    leeway: Duration::from_secs(leeway),
                    max_token_lifetime: if leeway % 2 == 0 { Some(Duration::from_secs(3600)) } else { None },
                    ..default_rules()
                });
                let token = signed(&serde_json::json!({"sub": "a", "exp": exp, "nbf": nbf, "iat": iat}));
                let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
                match rt.block_on(v.verify(&token)) {
                    Ok(verified) => prop_assert!(verified.registered.exp.is_some()),
                    Err(e) => prop_assert!(matches!(e.code(), ErrorCode::InvalidToken | ErrorCode::TokenExpired)),
                }
            }
        }
    }

    /// The leeway applies to the sub-second, at authentication (not rounded to whole seconds).
    #[tokio::test]
    async fn sub_second_leeway_is_exact() {
        use serde_json::json;
        let now = crate::time::wall_clock();
        let v = verifier_with(ClaimRules {
            leeway: Duration::from_millis(1500),
            ..default_rules()
        });
        // `exp` this second: within 1.5 s of leeway.
        let just = signed(&json!({"exp": now.as_secs()}));
        assert_eq!(code(&v, &just).await, None);
        // 2 s ago: beyond it (`exp` + 1.5 s has passed), though jsonwebtoken, given the leeway
        // rounded up to 2 whole seconds, passes it.
        let beyond = signed(&json!({"exp": now.as_secs() - 2}));
        assert_eq!(code(&v, &beyond).await, Some(ErrorCode::TokenExpired));
        let early = signed(&json!({"exp": now.as_secs() + 60, "nbf": now.as_secs() + 3}));
        assert_eq!(code(&v, &early).await, Some(ErrorCode::InvalidToken));
    }
}
