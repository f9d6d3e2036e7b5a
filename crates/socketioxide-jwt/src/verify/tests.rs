use super::*;
use crate::claims::StandardClaims;
use jsonwebtoken::Algorithm;

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
fn jws_shape_matches_its_definition_on_many_strings() {
    // Every string of up to four characters over an alphabet with each kind of byte.
    let alphabet = ["a", "Z", "9", "-", "_", ".", "=", " ", "\u{e9}", "+"];
    let definition = |s: &str| {
        let parts: Vec<&str> = s.split('.').collect();
        parts.len() == 3
            && !parts[0].is_empty()
            && !parts[1].is_empty()
            && parts.iter().all(|p| {
                p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    let mut strings = vec![String::new()];
    for _ in 0..4 {
        let longer: Vec<String> = strings
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        for s in &longer {
            assert_eq!(has_jws_shape(s), definition(s), "{s:?}");
        }
        strings = longer;
    }
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
        audience: crate::keys::Audience::NoneExpected,
        require_exp: true,
        leeway: Duration::ZERO,
        max_token_lifetime: None,
        max_session_age: None,
    };
    Verifier::new(vec![(KeySource::Static(set), rules)], 8192, None, None)
}

/// The keys of a one-issuer verifier.
fn keys_of(verifier: &Verifier<crate::StandardClaims>) -> &Keys {
    match &verifier.issuers {
        Issuers::One(issuer) => &issuer.keys,
        Issuers::Several(_) => panic!("one issuer expected"),
    }
}

async fn code(verifier: &Verifier<crate::StandardClaims>, token: &str) -> Option<ErrorCode> {
    verifier.verify(token).await.err().map(|e| e.code())
}

#[tokio::test]
async fn one_key_refuses_what_the_resolved_path_refuses() {
    let only = verifier(vec![VerificationKey::hmac(SECRET)]);
    assert!(matches!(keys_of(&only), Keys::Only(..)), "one kid-less key");
    let other = b"another-32-byte-secret-for-hs256";
    let several = verifier(vec![
        VerificationKey::hmac(SECRET),
        VerificationKey::hmac(other).kid("other"),
    ]);
    assert!(
        matches!(keys_of(&several), Keys::Resolved(_)),
        "several keys"
    );
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
    assert!(matches!(keys_of(&wide), Keys::Only(..)));
    assert_eq!(
        code(&wide, &token(Algorithm::HS384, None, SECRET)).await,
        None
    );
    // One key with a kid is chosen by the header.
    let named = verifier(vec![VerificationKey::hmac(SECRET).kid("main")]);
    assert!(matches!(keys_of(&named), Keys::Resolved(_)));
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
        audience: crate::keys::Audience::OneOf(vec!["aud".into()]),
        require_exp: true,
        leeway: Duration::ZERO,
        max_token_lifetime: None,
        max_session_age: None,
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
    Verifier::new(vec![(KeySource::Static(set), rules)], 8192, None, None)
}

fn default_rules() -> ClaimRules {
    ClaimRules {
        issuers: vec![],
        audience: crate::keys::Audience::NoneExpected,
        require_exp: true,
        leeway: Duration::ZERO,
        max_token_lifetime: None,
        max_session_age: None,
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
        audience: crate::keys::Audience::OneOf(vec!["chat".into()]),
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
        audience: crate::keys::Audience::Any,
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
        max_session_age: None,
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
        max_session_age: None,
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
                max_session_age: None,
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

#[test]
fn standard_claims_are_read_once_and_give_the_same_registered_claims() {
    let json = r#"{"sub":"alice","exp":2000000000,"iat":1999999000,"nbf":1999999000,"jti":"j-1","scope":"a b"}"#;
    let (registered, standard) = read_registered::<StandardClaims>(json).expect("read");
    let standard = standard.expect("StandardClaims read with the registered claims");
    assert_eq!(standard.extra.get("scope"), Some(&serde_json::json!("a b")));
    let (generic, none) = read_registered::<serde_json::Value>(json).expect("read");
    assert!(
        none.is_none(),
        "another claims type is read on its own, later"
    );
    assert_eq!(registered, generic);
    assert_eq!(registered.jti.as_deref(), Some("j-1"));
    // A shape StandardClaims refuses is refused (as the second reading refused it before).
    assert!(read_registered::<StandardClaims>(r#"{"sub":5}"#).is_err());
}

/// Two issuers that both publish a key `"1"`, with different secrets.
fn two_issuers() -> Verifier<crate::StandardClaims> {
    trusted_issuers(&[
        ("https://a.example", SECRET, "chat"),
        ("https://b.example", B_SECRET, "chat-b"),
    ])
}

/// A verifier of these trusted issuers: `(iss, HMAC secret, audience)`.
fn trusted_issuers(issuers: &[(&str, &[u8], &str)]) -> Verifier<crate::StandardClaims> {
    crate::builder::ensure_crypto_backend().expect("a crypto backend");
    let issuer = |&(iss, secret, audience): &(&str, &[u8], &str)| {
        let mut set = StaticKeys::default();
        set.insert(VerificationKey::hmac(secret).kid("1"))
            .expect("one key");
        let rules = ClaimRules {
            issuers: vec![iss.to_owned()],
            audience: crate::keys::Audience::OneOf(vec![audience.to_owned()]),
            require_exp: true,
            leeway: Duration::ZERO,
            max_token_lifetime: None,
            max_session_age: None,
        };
        (KeySource::Static(set), rules)
    };
    Verifier::new(issuers.iter().map(issuer).collect(), 8192, None, None)
}

const B_SECRET: &[u8] = b"b-issuer's-own-32-byte-hs256-key";

fn claims_token(secret: &[u8], claims: serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("1".into());
    let key = jsonwebtoken::EncodingKey::from_secret(secret).expect("hmac key");
    jsonwebtoken::encode(&header, &claims, &key).expect("signing")
}

#[tokio::test]
async fn a_key_of_one_issuer_never_verifies_a_token_claiming_another() {
    let v = two_issuers();
    let exp = crate::time::wall_clock().as_secs() + 600;
    let a = |iss: Option<&str>, aud: &str| {
        let mut claims = serde_json::json!({ "sub": "42", "exp": exp, "aud": aud });
        if let Some(iss) = iss {
            claims["iss"] = iss.into();
        }
        claims
    };
    // Each issuer's own tokens.
    let from_a = claims_token(SECRET, a(Some("https://a.example"), "chat"));
    assert_eq!(code(&v, &from_a).await, None);
    let from_b = claims_token(B_SECRET, a(Some("https://b.example"), "chat-b"));
    assert_eq!(code(&v, &from_b).await, None);
    // Signed by A (same kid "1"), claiming B: B's key is tried, and fails.
    let forged = claims_token(SECRET, a(Some("https://b.example"), "chat-b"));
    assert_eq!(code(&v, &forged).await, Some(ErrorCode::InvalidToken));
    // Each issuer's own audience.
    let wrong_aud = claims_token(SECRET, a(Some("https://a.example"), "chat-b"));
    assert_eq!(code(&v, &wrong_aud).await, Some(ErrorCode::InvalidToken));
    // No iss, an unknown one, one named twice.
    for claims in [
        a(None, "chat"),
        a(Some("https://c.example"), "chat"),
        a(Some(""), "chat"),
    ] {
        let token = claims_token(SECRET, claims);
        assert_eq!(code(&v, &token).await, Some(ErrorCode::InvalidToken));
    }
}

#[tokio::test]
async fn users_are_keyed_by_their_trusted_issuer_and_sub() {
    let exp = crate::time::wall_clock().as_secs() + 600;
    let several = two_issuers();
    let token = claims_token(
        SECRET,
        serde_json::json!({ "sub": "42", "exp": exp, "aud": "chat", "iss": "https://a.example" }),
    );
    let user = several.verify(&token).await.unwrap().user.unwrap();
    assert_eq!(
        (user.issuer(), user.sub()),
        (Some("https://a.example"), "42")
    );
    assert_eq!(user.key(), "https://a.example#42");
    // One trusted issuer: the same pair (adding a second issuer changes no key).
    let one = trusted_issuers(&[("https://a.example", SECRET, "chat")]);
    let user = one.verify(&token).await.unwrap().user.unwrap();
    assert_eq!(user.key(), "https://a.example#42");
    // ... which names only what it checked: a token of another `iss` is refused, not keyed.
    let other = claims_token(
        SECRET,
        serde_json::json!({ "sub": "42", "exp": exp, "aud": "chat", "iss": "https://b.example" }),
    );
    assert!(one.verify(&other).await.is_err());
    // Keys without an issuer vouch for no `iss`: whatever the token says there names nobody.
    let bare = verifier_with(default_rules());
    let token = signed(&serde_json::json!({ "sub": "42", "exp": exp, "iss": "x" }));
    let user = bare.verify(&token).await.unwrap().user.unwrap();
    assert_eq!((user.issuer(), user.key()), (None, "42"));
}

#[tokio::test]
async fn a_security_event_token_is_never_a_credential() {
    // An OpenID Connect logout token: signed by the same keys, often for the same audience.
    let exp = crate::time::wall_clock().as_secs() + 600;
    let v = verifier_with(default_rules());
    for events in [
        serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
        serde_json::json!(null),
        serde_json::json!("x"),
    ] {
        let token = signed(&serde_json::json!({ "sub": "42", "exp": exp, "events": events }));
        assert_eq!(
            code(&v, &token).await,
            Some(ErrorCode::InvalidToken),
            "{events}"
        );
    }
    let mut set = StaticKeys::default();
    set.insert(VerificationKey::hmac(SECRET)).expect("one key");
    let typed: Verifier<serde_json::Value> = Verifier::new(
        vec![(KeySource::Static(set), default_rules())],
        8192,
        None,
        None,
    );
    let token = signed(&serde_json::json!({ "sub": "42", "exp": exp, "events": {} }));
    assert!(typed.verify(&token).await.is_err(), "any claims type");
}

#[tokio::test]
async fn an_auth_time_older_than_max_session_age_is_refused() {
    let now = crate::time::wall_clock().as_secs();
    let v = verifier_with(ClaimRules {
        max_session_age: Some(Duration::from_secs(3600)),
        ..default_rules()
    });
    let with = |auth_time: serde_json::Value| {
        signed(&serde_json::json!({ "sub": "a", "exp": now + 600, "auth_time": auth_time }))
    };
    assert_eq!(code(&v, &with(serde_json::json!(now - 3000))).await, None);
    assert_eq!(
        code(&v, &with(serde_json::json!(now - 3700))).await,
        Some(ErrorCode::TokenExpired)
    );
    assert_eq!(
        code(&v, &with(serde_json::json!(0))).await,
        Some(ErrorCode::TokenExpired)
    );
    assert_eq!(
        code(&v, &with(serde_json::json!(-5))).await,
        Some(ErrorCode::InvalidToken)
    );
    assert_eq!(
        code(&v, &with(serde_json::json!("yesterday"))).await,
        Some(ErrorCode::InvalidToken)
    );
    let future = code(&v, &with(serde_json::json!(u64::MAX))).await;
    assert_eq!(
        future,
        Some(ErrorCode::InvalidToken),
        "a login in the future never grows old"
    );
    assert_eq!(
        code(&v, &with(serde_json::json!(now + 30))).await,
        None,
        "within the iat skew"
    );
    let no_auth_time = signed(&serde_json::json!({ "sub": "a", "exp": now + 600 }));
    assert_eq!(code(&v, &no_auth_time).await, None);
}

/// Several secrets without a `kid` (rotation): every one verifies, in any order given; a token
/// signed by none is refused as a bad signature; a claims error (here `exp` passed) is the
/// token's and is not hidden by trying the other secrets; a token naming an algorithm no
/// secret allows is refused.
#[tokio::test]
async fn rotated_secrets_each_verify_and_nothing_else_does() {
    crate::builder::ensure_crypto_backend().expect("a crypto backend");
    let current = b"the-current-secret-32-bytes-long";
    let previous = b"the-previous-secret-still-valid!";
    let auth = crate::JwtAuth::builder(crate::keys::Keys::new([
        VerificationKey::hmac(current),
        VerificationKey::hmac(previous),
    ]))
    .build()
    .expect("a rotation");
    assert!(matches!(
        keys_of(&auth.inner.verifier),
        Keys::Rotation(keys) if keys.len() == 2
    ));
    for secret in [&current[..], &previous[..]] {
        let claims = auth.verify(&token(Algorithm::HS256, None, secret)).await;
        assert_eq!(claims.expect("verified").sub.as_deref(), Some("alice"));
        // A `kid` in the token changes nothing: no key has one.
        let named = auth
            .verify(&token(Algorithm::HS256, Some("x"), secret))
            .await;
        assert!(named.is_ok());
    }
    let forged = auth.verify(&token(Algorithm::HS256, None, SECRET)).await;
    assert_eq!(
        forged.err().map(|e| e.code()),
        Some(ErrorCode::InvalidToken)
    );
    let other_alg = auth.verify(&token(Algorithm::HS512, None, previous)).await;
    assert_eq!(
        other_alg.err().map(|e| e.code()),
        Some(ErrorCode::InvalidToken)
    );

    let expired = {
        let claims = serde_json::json!({ "sub": "alice", "exp": 1_000 });
        let key = jsonwebtoken::EncodingKey::from_secret(previous).expect("hmac key");
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("signing")
    };
    let err = auth.verify(&expired).await.expect_err("expired");
    assert_eq!(
        err.code(),
        ErrorCode::TokenExpired,
        "signed by the second secret"
    );

    // Keys without a kid beside keys with one: which would a kid-less token use?
    let mixed = crate::JwtAuth::builder(crate::keys::Keys::new([
        VerificationKey::hmac(current),
        VerificationKey::hmac(previous),
        VerificationKey::hmac(SECRET).kid("k1"),
    ]))
    .build();
    assert!(matches!(mixed, Err(crate::ConfigError::DuplicateKid(None))));
}
