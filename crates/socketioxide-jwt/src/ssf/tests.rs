//! The receiver end to end in one process: SETs signed with a transmitter's key (a JWKS file),
//! verified, refused with the RFC's codes, and applied to an in-memory revocation list.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::claims::RegisteredClaims;
use crate::jwks::{Jwks, JwksOptions};
use crate::keys::Keys;
use crate::{JwtAuth, RevocationList, TrustedIssuer};

const IDP: &str = "https://idp.example";
const AUD: &str = "https://chat.example";
const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";

/// The transmitter's P-256 key (the public half is [`TRANSMITTER_JWK`]).
const TRANSMITTER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXYXNK7/hCXhQyG1/
4yEOlLnLJ/fNQFbcL5DFPJ38ETKhRANCAARLxwF3WVmXedw9zMbJqRINxwChPiVO
Q+t9P76MRlpL0w6PYfEQcrFF57Qod37YRWW+qZKwdKUWznLg5fc/zRDF
-----END PRIVATE KEY-----";
const TRANSMITTER_JWK: &str = r#"{"kty":"EC","crv":"P-256","kid":"t1","alg":"ES256","use":"sig",
"x":"S8cBd1lZl3ncPczGyakSDccAoT4lTkPrfT--jEZaS9M","y":"Do9h8RBysUXntCh3fthFZb6pkrB0pRbOcuDl9z_NEMU"}"#;
/// Another key, under the same kid: a forger's.
const OTHER_KEY: &str = include_str!("../../../../e2e/fixtures/ec_private.pem");

struct Fixture {
    receiver: SsfReceiver,
    list: RevocationList,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub(super) struct Dir(pub(super) std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn fixture(identity_claim: Option<&str>) -> Fixture {
    crate::builder::ensure_crypto_backend().expect("a crypto backend");
    let dir = std::env::temp_dir().join(format!("ssf-test-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jwks.json");
    std::fs::write(&path, format!(r#"{{ "keys": [{TRANSMITTER_JWK}] }}"#)).unwrap();
    let jwks = Jwks::from_file(&path, JwksOptions::default())
        .await
        .unwrap();
    let transmitter = SsfTransmitter {
        issuer: IDP.into(),
        jwks,
        delivery_methods: vec![DeliveryMethod::Push],
        configuration_endpoint: None,
        speaks_for: vec![IDP.into()],
    };
    let list = RevocationList::in_memory();
    let idp = TrustedIssuer::new(IDP, Keys::hmac(b"a-32-byte-long-secret-for-hs256!"));
    let mut builder = JwtAuth::builder(idp).revocations(list.clone());
    if let Some(claim) = identity_claim {
        builder = builder.identity_claim(claim);
    }
    let auth = builder.build().unwrap();
    let receiver = SsfReceiver::new(&auth, AUD, [transmitter]).unwrap();
    Fixture {
        receiver,
        list,
        _dir: tempdir::Dir(dir),
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn now() -> u64 {
    crate::time::unix_now()
}

/// A SET of `claims` over the defaults, signed with `key` under kid "t1".
fn sign_with(key: &str, claims: Value) -> String {
    let mut full = json!({ "iss": IDP, "aud": AUD, "iat": now(), "jti": uuid_like() });
    for (k, v) in claims.as_object().unwrap() {
        full[k] = v.clone();
    }
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("secevent+jwt".into());
    header.kid = Some("t1".into());
    let key = EncodingKey::from_ec_pem(key.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &full, &key).unwrap()
}

fn set(claims: Value) -> String {
    sign_with(TRANSMITTER_KEY, claims)
}

fn user(sub: &str) -> Value {
    json!({ "format": "iss_sub", "iss": IDP, "sub": sub })
}

fn event(kind: &str, subject: Value) -> Value {
    let at = now() - 1;
    json!({ "sub_id": subject, "events": { kind: { "event_timestamp": at } } })
}

/// Claims of a token of `sub` at the IdP issued `age` seconds ago (with `sid`).
fn token(sub: &str, sid: Option<&str>, age: u64) -> RegisteredClaims {
    let mut claims = RegisteredClaims::for_sub(sub);
    claims.iss = Some(IDP.into());
    claims.iat = Some(now() - age);
    claims.sid = sid.map(String::from);
    claims
}

#[tokio::test]
async fn session_revoked_closes_that_session_or_the_users_earlier_tokens() {
    let f = fixture(None).await;
    let subject = json!({ "user": user("alice"), "session": { "format": "opaque", "id": "s1" } });
    let got = f
        .receiver
        .receive(&set(event(&format!("{CAEP}session-revoked"), subject)))
        .await
        .unwrap();
    assert_eq!(got.events, [(EventKind::SessionRevoked, Outcome::Applied)]);
    assert!(f.list.is_revoked(&token("alice", Some("s1"), 5)));
    assert!(
        !f.list.is_revoked(&token("alice", Some("s2"), 5)),
        "another session stays"
    );
    // Only a user: the user's tokens issued before the event.
    let got = f
        .receiver
        .receive(&set(event(&format!("{CAEP}session-revoked"), user("bob"))))
        .await
        .unwrap();
    assert_eq!(got.events, [(EventKind::SessionRevoked, Outcome::Applied)]);
    assert!(f.list.is_revoked(&token("bob", None, 5)));
    let mut later = token("bob", None, 0);
    later.iat = Some(now() + 2);
    assert!(
        !f.list.is_revoked(&later),
        "a token issued after the event stays"
    );
    assert!(!f.list.is_revoked(&token("carol", None, 5)));
}

#[tokio::test]
async fn user_events_revoke_claims_events_ask_for_a_refresh_others_are_acknowledged() {
    let f = fixture(None).await;
    for (i, kind) in [
        format!("{CAEP}credential-change"),
        format!("{RISC}credential-compromise"),
        format!("{RISC}account-disabled"),
        format!("{RISC}account-purged"),
        format!("{RISC}sessions-revoked"),
    ]
    .iter()
    .enumerate()
    {
        let sub = format!("u{i}");
        let got = f
            .receiver
            .receive(&set(event(kind, user(&sub))))
            .await
            .unwrap();
        assert_eq!(got.events[0].1, Outcome::Applied, "{kind}");
        assert!(f.list.is_revoked(&token(&sub, None, 5)), "{kind}");
        assert!(!f.list.is_revoked(&token("someone-else", None, 5)));
    }
    for kind in ["token-claims-change", "assurance-level-change"] {
        let sub = format!("r-{kind}");
        let got = f
            .receiver
            .receive(&set(event(&format!("{CAEP}{kind}"), user(&sub))))
            .await
            .unwrap();
        assert_eq!(got.events[0].1, Outcome::Applied);
        assert!(
            !f.list.is_revoked(&token(&sub, None, 5)),
            "asked to refresh, not revoked"
        );
        assert!(
            f.list.is_stale(&token(&sub, None, 120)),
            "a new socket with an old token must refresh"
        );
    }
    for kind in [
        format!("{CAEP}device-compliance-change"),
        format!("{RISC}account-enabled"),
        "https://schemas.openid.net/secevent/ssf/event-type/verification".to_owned(),
    ] {
        let got = f
            .receiver
            .receive(&set(event(&kind, user("v"))))
            .await
            .unwrap();
        assert_eq!(got.events[0].1, Outcome::NotActedOn, "{kind}");
    }
    assert!(!f.list.is_revoked(&token("v", None, 5)));
    // Another issuer's user, an unknown format, no subject: nobody.
    let other = json!({ "format": "iss_sub", "iss": "https://other.example", "sub": "x" });
    for subject in [
        other,
        json!({ "format": "did", "url": "did:x" }),
        json!({ "format": "email", "email": "x@y" }),
    ] {
        let got = f
            .receiver
            .receive(&set(event(&format!("{RISC}account-disabled"), subject)))
            .await
            .unwrap();
        assert_eq!(got.events[0].1, Outcome::NoSubjectMatched);
    }
    // The CAEP draft's subject inside the event is read too.
    let inside =
        json!({ "events": { format!("{RISC}account-disabled"): { "subject": user("w") } } });
    f.receiver.receive(&set(inside)).await.unwrap();
    assert!(f.list.is_revoked(&token("w", None, 5)));
}

#[tokio::test]
async fn with_an_identity_claim_the_email_subject_names_the_user() {
    let f = fixture(Some("email")).await;
    let email = json!({ "format": "email", "email": "carol@example.com" });
    let got = f
        .receiver
        .receive(&set(event(&format!("{RISC}account-disabled"), email)))
        .await
        .unwrap();
    assert_eq!(got.events[0].1, Outcome::Applied);
    assert!(f.list.is_revoked(&token("carol@example.com", None, 5)));
    let got = f
        .receiver
        .receive(&set(event(
            &format!("{RISC}account-disabled"),
            user("carol"),
        )))
        .await
        .unwrap();
    assert_eq!(
        got.events[0].1,
        Outcome::NoSubjectMatched,
        "a sub names no one when users are keyed by email"
    );
}

#[tokio::test]
async fn every_bad_set_is_refused_with_its_code_and_changes_nothing() {
    let f = fixture(None).await;
    let disable = |sub: &str| event(&format!("{RISC}account-disabled"), user(sub));
    let with = |sub: &str, extra: Value| {
        let mut claims = disable(sub);
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let code = |r: Result<Received, SetError>| r.unwrap_err().code();
    use SetErrorCode::*;
    let cases: Vec<(&str, String, SetErrorCode)> = vec![
        (
            "another audience",
            set(with("a1", json!({ "aud": "https://other" }))),
            InvalidAudience,
        ),
        (
            "no audience",
            set(with("a2", json!({ "aud": null }))),
            InvalidAudience,
        ),
        (
            "another transmitter's key",
            sign_with(OTHER_KEY, disable("a3")),
            InvalidKey,
        ),
        (
            "an unknown issuer",
            set(with("a4", json!({ "iss": "https://evil.example" }))),
            InvalidIssuer,
        ),
        (
            "iat in the future",
            set(with("a5", json!({ "iat": now() + 3600 }))),
            InvalidRequest,
        ),
        (
            "iat a float",
            set(with("a7", json!({ "iat": 1.5e300 }))),
            InvalidRequest,
        ),
        (
            "no jti",
            set(with("a8", json!({ "jti": null }))),
            InvalidRequest,
        ),
        (
            "an empty jti",
            set(with("a9", json!({ "jti": "" }))),
            InvalidRequest,
        ),
        (
            "no events",
            set(json!({ "sub_id": user("a10") })),
            InvalidRequest,
        ),
        (
            "empty events",
            set(json!({ "sub_id": user("a11"), "events": {} })),
            InvalidRequest,
        ),
        (
            "a string event",
            set(json!({ "sub_id": user("a12"), "events": { "x": "y" } })),
            InvalidRequest,
        ),
        (
            "a bad subject",
            set(json!({ "sub_id": "a13", "events": { "x": {} } })),
            InvalidRequest,
        ),
        ("not a JWT", "not a jwt".into(), InvalidRequest),
        ("empty", String::new(), InvalidRequest),
        ("too long", "a".repeat(70_000), InvalidRequest),
        ("unsigned", unsigned(disable("a14")), InvalidRequest),
    ];
    for (why, bad, expected) in cases {
        assert_eq!(
            code(f.receiver.receive(&bad).await),
            Some(expected),
            "{why}"
        );
    }
    for i in 1..=14 {
        assert!(
            !f.list.is_revoked(&token(&format!("a{i}"), None, 5)),
            "a{i}"
        );
    }
    // Typed as an access token: not a SET.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("t1".into());
    let key = EncodingKey::from_ec_pem(TRANSMITTER_KEY.as_bytes()).unwrap();
    let mut claims = disable("a15");
    claims["iss"] = IDP.into();
    claims["aud"] = AUD.into();
    claims["iat"] = now().into();
    claims["jti"] = "j".into();
    let untyped = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert_eq!(
        code(f.receiver.receive(&untyped).await),
        Some(InvalidRequest)
    );
    // A replay, even of an applied SET.
    let once = set(disable("a16"));
    f.receiver.receive(&once).await.unwrap();
    assert!(matches!(
        f.receiver.receive(&once).await,
        Err(SetError::Replayed)
    ));
    assert_eq!(SetError::Replayed.to_json()["err"], "invalid_request");
}

/// An `alg: none` SET.
fn unsigned(claims: Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let mut full = claims;
    full["iss"] = IDP.into();
    full["aud"] = AUD.into();
    full["iat"] = now().into();
    full["jti"] = "unsigned".into();
    format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "secevent+jwt", "kid": "t1" })),
        b64(&full)
    )
}

#[tokio::test]
async fn an_event_time_in_the_future_reaches_no_later_than_the_set() {
    let f = fixture(None).await;
    let claims = json!({
        "sub_id": user("eve"),
        "events": { format!("{RISC}account-disabled"): { "event_timestamp": now() + 86_400 } },
    });
    f.receiver.receive(&set(claims)).await.unwrap();
    let mut fresh = token("eve", None, 0);
    fresh.iat = Some(now() + 5);
    assert!(
        !f.list.is_revoked(&fresh),
        "a token issued after the SET is not revoked"
    );
    assert!(f.list.is_revoked(&token("eve", None, 10)));
}

#[test]
fn a_receiver_needs_a_revocation_list_and_an_audience() {
    crate::builder::ensure_crypto_backend().expect("a crypto backend");
    let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
        .build()
        .unwrap();
    assert!(matches!(
        SsfReceiver::new(&auth, AUD, []),
        Err(crate::ConfigError::NoRevocationList)
    ));
    let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
        .revocations(RevocationList::in_memory())
        .build()
        .unwrap();
    assert!(matches!(
        SsfReceiver::new(&auth, "", []),
        Err(crate::ConfigError::EmptySsfAudience)
    ));
}

#[tokio::test]
async fn a_set_older_than_a_day_still_revokes_and_a_created_credential_revokes_nothing() {
    let f = fixture(None).await;
    // Queued at the transmitter while this receiver was down for two days.
    let old = now() - 2 * 86_400;
    let claims = json!({
        "iat": old,
        "sub_id": user("olga"),
        "events": { format!("{RISC}account-disabled"): {} },
    });
    let got = f.receiver.receive(&set(claims)).await.unwrap();
    assert_eq!(got.events[0].1, Outcome::Applied);
    let mut before = token("olga", None, 0);
    before.iat = Some(old - 10);
    assert!(f.list.is_revoked(&before));
    assert!(
        !f.list.is_revoked(&token("olga", None, 5)),
        "tokens since the event stay"
    );
    let enrolled = json!({
        "sub_id": user("pat"),
        "events": { format!("{CAEP}credential-change"): { "credential_type": "fido2-roaming", "change_type": "create" } },
    });
    let got = f.receiver.receive(&set(enrolled)).await.unwrap();
    assert_eq!(got.events[0].1, Outcome::NotActedOn);
    assert!(!f.list.is_revoked(&token("pat", None, 5)));
}

#[tokio::test]
async fn a_session_of_a_user_this_receiver_does_not_key_closes_nothing() {
    let f = fixture(None).await;
    let stranger = json!({ "format": "iss_sub", "iss": "https://other.example", "sub": "x" });
    let subject = json!({ "format": "complex", "user": stranger, "session": { "format": "opaque", "id": "s9" } });
    let got = f
        .receiver
        .receive(&set(event(&format!("{CAEP}session-revoked"), subject)))
        .await
        .unwrap();
    assert_eq!(got.events[0].1, Outcome::NoSubjectMatched);
    assert!(!f.list.is_revoked(&token("x", Some("s9"), 5)));
}

#[tokio::test]
async fn set_ids_and_logout_ids_are_apart() {
    let f = fixture(None).await;
    assert!(f.list.record_logout(IDP, "same", now() + 60).await.unwrap());
    let claims = json!({ "jti": "same", "sub_id": user("quinn"), "events": { format!("{RISC}account-disabled"): {} } });
    let got = f.receiver.receive(&set(claims)).await.unwrap();
    assert_eq!(
        got.events[0].1,
        Outcome::Applied,
        "not a replay of the logout token"
    );
}

#[tokio::test]
async fn a_trusted_issuer_spelled_with_a_trailing_slash_is_still_the_users_issuer() {
    crate::builder::ensure_crypto_backend().expect("a crypto backend");
    let f = fixture(None).await;
    let transmitter = f.receiver.transmitter(IDP).unwrap().clone();
    let list = RevocationList::in_memory();
    let slash = format!("{IDP}/");
    let idp = TrustedIssuer::new(
        slash.clone(),
        Keys::hmac(b"a-32-byte-long-secret-for-hs256!"),
    );
    let auth = JwtAuth::builder(idp)
        .revocations(list.clone())
        .build()
        .unwrap();
    let receiver = SsfReceiver::new(&auth, AUD, [transmitter]).unwrap();
    receiver
        .receive(&set(event(
            &format!("{RISC}account-disabled"),
            user("rita"),
        )))
        .await
        .unwrap();
    let mut claims = token("rita", None, 5);
    claims.iss = Some(slash);
    assert!(
        list.is_revoked(&claims),
        "revoked under the issuer the tokens carry"
    );
}
