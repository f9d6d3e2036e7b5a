use super::*;
use crate::error::ConfigError;
use crate::keys::{KeyResolver, VerificationKey};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn refuses_bad_configuration() {
    assert!(matches!(
        JwtAuth::builder().build(),
        Err(ConfigError::NoKey)
    ));
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .timeout(Duration::ZERO)
            .build(),
        Err(ConfigError::Zero("timeout"))
    ));
    assert!(matches!(
        JwtAuth::builder().hmac_secret(SECRET).issuer("").build(),
        Err(ConfigError::EmptyIssuerOrAudience)
    ));
    let names = EventNames::default().authenticate("disconnect");
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .event_names(names)
            .build(),
        Err(ConfigError::InvalidEventName(_))
    ));
    let names = EventNames::default().authenticated("authenticate");
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .event_names(names)
            .build(),
        Err(ConfigError::InvalidEventName(_))
    ));
}

/// A key resolver (JWKS, OIDC, custom) without an audience is refused at build(), with a
/// message that says what to add; an explicit choice either way builds.
#[test]
fn a_resolver_needs_an_audience() {
    struct Nothing;
    impl KeyResolver for Nothing {
        fn resolve<'a>(
            &'a self,
            _: &'a jsonwebtoken::Header,
        ) -> crate::keys::BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>> {
            Box::pin(async { Err(AuthError::new(crate::ErrorCode::InvalidToken)) })
        }
    }
    let err = JwtAuth::builder()
        .key_resolver(Nothing)
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::ResolverWithoutAudience));
    let msg = err.to_string();
    assert!(
        msg.contains(".audience(") && msg.contains("insecure_any_audience"),
        "{msg}"
    );
    assert!(JwtAuth::builder()
        .key_resolver(Nothing)
        .audience("chat")
        .build()
        .is_ok());
    assert!(JwtAuth::builder()
        .key_resolver(Nothing)
        .insecure_any_audience()
        .build()
        .is_ok());
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .audience("chat")
            .insecure_any_audience()
            .build(),
        Err(ConfigError::AudienceAndAnyAudience)
    ));
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .max_token_lifetime(Duration::ZERO)
            .build(),
        Err(ConfigError::Zero("max_token_lifetime"))
    ));
    // Static keys without an audience build: tokens naming one are refused at verification.
    assert!(JwtAuth::builder().hmac_secret(SECRET).build().is_ok());
}

/// `claims::<T>()` after a typed setting is refused at build(), not silently dropped.
#[test]
fn claims_after_a_typed_setting_is_refused() {
    #[derive(serde::Deserialize)]
    struct Mine {}
    let err = JwtAuth::builder()
        .hmac_secret(SECRET)
        .check(|_| async { Ok(()) })
        .claims::<Mine>()
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::ClaimsAfterTypedSetting("check")));
    assert!(err.to_string().contains("call claims::<T>() first"));
    let err = JwtAuth::builder()
        .hmac_secret(SECRET)
        .rooms_from_claims(|_| Vec::<String>::new())
        .claims::<Mine>()
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::ClaimsAfterTypedSetting("rooms_from_claims")
    ));
    // In order, every setting is kept.
    let auth = JwtAuth::builder()
        .hmac_secret(SECRET)
        .timeout(Duration::from_millis(1234))
        .claims::<Mine>()
        .check(|_| async { Ok(()) })
        .build()
        .unwrap();
    assert_eq!(auth.inner.gate.timeout, Duration::from_millis(1234));
    assert!(auth.inner.verifier.has_check());
}

#[test]
fn trusted_issuers_are_checked_each() {
    use crate::{ConfigError, JwtAuth, TrustedIssuer, VerificationKey};
    const A: &[u8] = b"a-32-byte-long-secret-for-hs256!";
    const B: &[u8] = b"another-32-byte-secret-for-hs256";
    let partner = || TrustedIssuer::new("https://b.example").key(VerificationKey::hmac(B));
    // Own keys beside a trusted issuer need their own iss.
    let err = JwtAuth::builder()
        .hmac_secret(A)
        .trusted_issuer(partner())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::KeysWithoutIssuer), "{err}");
    // Named twice.
    let err = JwtAuth::builder()
        .hmac_secret(A)
        .issuer("https://b.example")
        .trusted_issuer(partner())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::DuplicateIssuer(_)), "{err}");
    // An issuer without keys, and one whose secret is too short: named in the error.
    let err = JwtAuth::builder()
        .trusted_issuer(TrustedIssuer::new("https://c.example"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, ConfigError::TrustedIssuer { iss, error } if iss == "https://c.example" && matches!(**error, ConfigError::NoKey)),
        "{err}"
    );
    let err = JwtAuth::builder()
        .trusted_issuer(
            TrustedIssuer::new("https://d.example").key(VerificationKey::hmac(b"short")),
        )
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("https://d.example"), "{err}");
    // With several issuers, one containing the user-key separator.
    let err = JwtAuth::builder()
        .hmac_secret(A)
        .issuer("chat#1")
        .trusted_issuer(partner())
        .build()
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::IssuerWithSeparator(ref i) if i == "chat#1"),
        "{err}"
    );
    // ... which one issuer alone may contain (its users are keyed by `sub`).
    assert!(JwtAuth::builder()
        .hmac_secret(A)
        .issuer("chat#1")
        .build()
        .is_ok());
    // Trusted issuers alone, or beside named own keys.
    assert!(JwtAuth::builder().trusted_issuer(partner()).build().is_ok());
    assert!(JwtAuth::builder()
        .hmac_secret(A)
        .issuer("chat")
        .trusted_issuer(partner())
        .build()
        .is_ok());
}

#[test]
fn an_identity_claim_beside_back_channel_logout_is_refused() {
    let with_logout = || {
        JwtAuth::builder()
            .revocations(crate::RevocationList::in_memory())
            .trusted_issuer(
                crate::TrustedIssuer::new("https://idp.example")
                    .key(VerificationKey::hmac(SECRET))
                    .client_id("chat"),
            )
    };
    assert!(matches!(
        with_logout().identity_claim("oid").build(),
        Err(ConfigError::IdentityClaimWithLogout)
    ));
    assert!(with_logout().identity_claim("sub").build().is_ok());
    assert!(with_logout().build().is_ok());
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .identity_claim("")
            .build(),
        Err(ConfigError::EmptyIdentityClaim)
    ));
    // Cookies need the origins that may send them.
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .token_cookie("t")
            .build(),
        Err(ConfigError::CookieWithoutOrigins)
    ));
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .token_cookie("t")
            .cookie_origins([" "])
            .build(),
        Err(ConfigError::EmptyCookieOrigin)
    ));
    assert!(matches!(
        JwtAuth::builder()
            .hmac_secret(SECRET)
            .credential_sources([])
            .build(),
        Err(ConfigError::NoCredentialSource)
    ));
    assert!(matches!(
        JwtAuth::builder().hmac_secret(SECRET).max_guests(0).build(),
        Err(ConfigError::Zero("max_guests"))
    ));
}
