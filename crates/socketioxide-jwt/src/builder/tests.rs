use super::*;
use crate::error::ConfigError;
use crate::keys::{KeyResolver, VerificationKey};
use crate::{keys::Keys, JwtAuthBuilder, KeySource, TrustedIssuer};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn refuses_bad_configuration() {
    assert!(matches!(
        JwtAuth::builder(Keys::new([])).build(),
        Err(ConfigError::NoKey)
    ));
    assert!(matches!(
        JwtAuth::builder(Vec::<TrustedIssuer>::new()).build(),
        Err(ConfigError::NoKey)
    ));
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET).audience("")).build(),
        Err(ConfigError::EmptyIssuerOrAudience)
    ));
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .timeout(Duration::ZERO)
            .build(),
        Err(ConfigError::Zero("timeout"))
    ));
    assert!(matches!(
        JwtAuth::builder(TrustedIssuer::new("", Keys::hmac(SECRET))).build(),
        Err(ConfigError::TrustedIssuer { error, .. }) if matches!(*error, ConfigError::EmptyIssuerOrAudience)
    ));
    let names = EventNames::default().authenticate("disconnect");
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .event_names(names)
            .build(),
        Err(ConfigError::InvalidEventName(_))
    ));
    let names = EventNames::default().authenticated("authenticate");
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .event_names(names)
            .build(),
        Err(ConfigError::InvalidEventName(_))
    ));
}

/// A resolver comes with its audience (or an explicitly insecure choice): both build, and
/// the later of `audience` and `insecure_any_audience` is the rule.
#[test]
fn a_resolver_comes_with_its_audience() {
    struct Nothing;
    impl KeyResolver for Nothing {
        fn resolve<'a>(
            &'a self,
            _: &'a jsonwebtoken::Header,
        ) -> crate::BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>> {
            Box::pin(async { Err(AuthError::new(crate::ErrorCode::InvalidToken)) })
        }
    }
    assert!(JwtAuth::builder(Keys::resolver(Nothing, "chat"))
        .build()
        .is_ok());
    assert!(
        JwtAuth::builder(Keys::insecure_resolver_any_audience(Nothing))
            .build()
            .is_ok()
    );
    use crate::keys::Audience;
    let any = Keys::hmac(SECRET).audience("chat").insecure_any_audience();
    assert_eq!(any.audience, Audience::Any);
    let again = any.audience("chat").audience("web");
    assert_eq!(
        again.audience,
        Audience::OneOf(vec!["chat".into(), "web".into()])
    );
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .max_token_lifetime(Duration::ZERO)
            .build(),
        Err(ConfigError::Zero("max_token_lifetime"))
    ));
    // Static keys without an audience build: tokens naming one are refused at verification.
    assert!(JwtAuth::builder(Keys::hmac(SECRET)).build().is_ok());
}

/// A claims type of its own, chosen first: every setting after it is kept.
#[test]
fn a_claims_type_of_its_own_keeps_every_setting() {
    #[derive(serde::Deserialize)]
    struct Mine {}
    let auth = JwtAuthBuilder::<Mine>::new(Keys::hmac(SECRET))
        .timeout(Duration::from_millis(1234))
        .check(|_| async { Ok(()) })
        .build()
        .unwrap();
    assert_eq!(auth.inner.gate.timeout, Duration::from_millis(1234));
    assert!(auth.inner.verifier.has_check());
}

#[test]
fn trusted_issuers_are_checked_each() {
    use crate::{ConfigError, JwtAuth};
    const A: &[u8] = b"a-32-byte-long-secret-for-hs256!";
    const B: &[u8] = b"another-32-byte-secret-for-hs256";
    let partner = || TrustedIssuer::new("https://b.example", Keys::hmac(B));
    // Named twice.
    let err = JwtAuth::builder([
        TrustedIssuer::new("https://b.example", Keys::hmac(A)),
        partner(),
    ])
    .build()
    .unwrap_err();
    assert!(matches!(err, ConfigError::DuplicateIssuer(_)), "{err}");
    // An issuer without keys, and one whose secret is too short: named in the error.
    let err = JwtAuth::builder(TrustedIssuer::new("https://c.example", Keys::new([])))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, ConfigError::TrustedIssuer { iss, error } if iss == "https://c.example" && matches!(**error, ConfigError::NoKey)),
        "{err}"
    );
    let err = JwtAuth::builder(TrustedIssuer::new(
        "https://d.example",
        Keys::hmac(b"short"),
    ))
    .build()
    .unwrap_err();
    assert!(err.to_string().contains("https://d.example"), "{err}");
    // An issuer containing the user-key separator, alone or beside another.
    for source in [
        KeySource::from([TrustedIssuer::new("chat#1", Keys::hmac(A)), partner()]),
        KeySource::from(TrustedIssuer::new("chat#1", Keys::hmac(A))),
    ] {
        let err = JwtAuth::builder(source).build().unwrap_err();
        assert!(
            matches!(err, ConfigError::IssuerWithSeparator(ref i) if i == "chat#1"),
            "{err}"
        );
    }
    // Trusted issuers alone, or beside named own keys.
    assert!(JwtAuth::builder(partner()).build().is_ok());
    assert!(
        JwtAuth::builder([TrustedIssuer::new("chat", Keys::hmac(A)), partner()])
            .build()
            .is_ok()
    );
}

#[test]
fn an_identity_claim_beside_back_channel_logout_is_refused() {
    let with_logout = || {
        JwtAuth::builder(
            crate::TrustedIssuer::new("https://idp.example", Keys::hmac(SECRET)).client_id("chat"),
        )
        .revocations(crate::RevocationList::in_memory())
    };
    assert!(matches!(
        with_logout().identity_claim("oid").build(),
        Err(ConfigError::IdentityClaimWithLogout)
    ));
    assert!(with_logout().identity_claim("sub").build().is_ok());
    assert!(with_logout().build().is_ok());
    // Without a list of its own, logouts are recorded in this process's.
    let alone = JwtAuth::builder(
        crate::TrustedIssuer::new("https://idp.example", Keys::hmac(SECRET)).client_id("chat"),
    )
    .build()
    .unwrap();
    assert!(alone.inner.verifier.revocations().is_some());
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .identity_claim("")
            .build(),
        Err(ConfigError::EmptyIdentityClaim)
    ));
    // Cookies need the origins that may send them.
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .token_cookie("t")
            .build(),
        Err(ConfigError::CookieWithoutOrigins)
    ));
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .token_cookie("t")
            .cookie_origins([" "])
            .build(),
        Err(ConfigError::EmptyCookieOrigin)
    ));
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET))
            .credential_sources([])
            .build(),
        Err(ConfigError::NoCredentialSource)
    ));
    assert!(matches!(
        JwtAuth::builder(Keys::hmac(SECRET)).max_guests(0).build(),
        Err(ConfigError::Zero("max_guests"))
    ));
}
