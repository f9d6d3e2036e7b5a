//! Every bad token, in both modes: the right code, the error object, the connection refused,
//! and the server keeps serving everyone else.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use socketioxide_jwt::{keys::Keys, TrustedIssuer};
use socketioxide_jwt::{AuthMode, VerificationKey};
use socketioxide_jwt_e2e::*;

const ISS: &str = "https://issuer.e2e";
const AUD: &str = "e2e-app";

fn hs_header() -> Header {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("hs".into());
    h
}

fn good_claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": now() + 600, "iss": ISS, "aud": AUD })
}

fn hs(claims: &Value) -> String {
    sign_with(
        hs_header(),
        &EncodingKey::from_secret(SECRET).unwrap(),
        claims,
    )
}

fn rs(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("rs".into());
    let key = EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap();
    sign_with(h, &key, claims)
}

async fn server(mode: AuthMode) -> Server {
    let auth = auth_builder(mode);
    Server::start(|io| install_app(io, "/", &auth)).await
}

fn auth_builder(mode: AuthMode) -> socketioxide_jwt::JwtAuth {
    socketioxide_jwt::JwtAuth::builder(TrustedIssuer::new(
        ISS,
        Keys::new([
            VerificationKey::hmac(SECRET).kid("hs"),
            VerificationKey::rsa_pem(fixture("rsa_public.pem"))
                .unwrap()
                .kid("rs"),
        ])
        .audience(AUD),
    ))
    .mode(mode)
    .build()
    .unwrap()
}

/// (name, the value sent as `token`, or None for "no token field at all", expected code)
fn bad_cases() -> Vec<(&'static str, Option<Value>, &'static str)> {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let valid = hs(&good_claims("alice"));
    let other_secret = sign_with(
        hs_header(),
        &EncodingKey::from_secret(b"another-secret-another-secret-00").unwrap(),
        &good_claims("alice"),
    );
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "hs"})),
        b64(&good_claims("alice"))
    );
    // HS256 signed with the RSA *public* key as the HMAC secret, naming the RSA key.
    let mut confused_header = Header::new(Algorithm::HS256);
    confused_header.kid = Some("rs".into());
    let confusion = sign_with(
        confused_header,
        &EncodingKey::from_secret(&fixture("rsa_public.pem")).unwrap(),
        &good_claims("alice"),
    );
    let mut no_aud = good_claims("alice");
    no_aud.as_object_mut().unwrap().remove("aud");
    let mut no_iss = good_claims("alice");
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut no_exp = good_claims("alice");
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut unknown_kid = hs_header();
    unknown_kid.kid = Some("nope".into());
    let unknown_kid = sign_with(
        unknown_kid,
        &EncodingKey::from_secret(SECRET).unwrap(),
        &good_claims("alice"),
    );
    let no_kid = sign(&good_claims("alice"));
    let long = hs(
        &json!({ "sub": "alice", "exp": now() + 600, "iss": ISS, "aud": AUD, "pad": "x".repeat(9000) }),
    );

    vec![
        (
            "wrong signature",
            Some(json!(other_secret)),
            "invalid_token",
        ),
        (
            "expired",
            Some(json!(hs(
                &json!({"sub": "a", "exp": now() - 100, "iss": ISS, "aud": AUD})
            ))),
            "token_expired",
        ),
        (
            "nbf in the future",
            Some(json!(hs(
                &json!({"sub": "a", "exp": now() + 600, "nbf": now() + 3600, "iss": ISS, "aud": AUD})
            ))),
            "invalid_token",
        ),
        ("alg none", Some(json!(alg_none)), "invalid_token"),
        ("HS/RS confusion", Some(json!(confusion)), "invalid_token"),
        (
            "truncated signature",
            Some(json!(valid[..valid.len() - 6].to_owned())),
            "invalid_token",
        ),
        (
            "two parts",
            Some(json!(valid[..valid.rfind('.').unwrap()].to_owned())),
            "credentials_bad_format",
        ),
        (
            "garbage",
            Some(json!("this is not a jwt")),
            "credentials_bad_format",
        ),
        ("number", Some(json!(42)), "credentials_bad_format"),
        (
            "array",
            Some(json!([valid.clone()])),
            "credentials_bad_format",
        ),
        (
            "object",
            Some(json!({"jwt": valid.clone()})),
            "credentials_bad_format",
        ),
        ("null", Some(Value::Null), "credentials_required"),
        ("empty string", Some(json!("")), "credentials_required"),
        ("missing field", None, "credentials_required"),
        ("over-long", Some(json!(long)), "invalid_token"),
        (
            "wrong issuer",
            Some(json!(hs(
                &json!({"sub": "a", "exp": now() + 600, "iss": "https://evil", "aud": AUD})
            ))),
            "invalid_token",
        ),
        (
            "wrong audience",
            Some(json!(hs(
                &json!({"sub": "a", "exp": now() + 600, "iss": ISS, "aud": "other"})
            ))),
            "invalid_token",
        ),
        ("no audience", Some(json!(hs(&no_aud))), "invalid_token"),
        ("no issuer", Some(json!(hs(&no_iss))), "invalid_token"),
        ("no exp", Some(json!(hs(&no_exp))), "invalid_token"),
        ("unknown kid", Some(json!(unknown_kid)), "invalid_token"),
        (
            "no kid with only kid keys",
            Some(json!(no_kid)),
            "invalid_token",
        ),
    ]
}

#[tokio::test]
async fn message_mode_valid_tokens_authenticate() {
    let server = server(AuthMode::Message).await;
    let mut c = Client::start().await;
    for (id, token) in [
        ("hs", hs(&good_claims("alice"))),
        ("rs", rs(&good_claims("bob"))),
    ] {
        c.connected(id, &server.url("/"), json!({})).await;
        c.emit_ack(id, "authenticate", json!([{ "token": token }]), "auth")
            .await;
        assert_eq!(c.expect_ack(id, "auth").await, json!({"ok": true}));
        let authenticated = c.expect_event(id, "authenticated").await;
        c.emit_ack(id, "whoami", json!([]), "who").await;
        let who = c.expect_ack(id, "who").await;
        assert_eq!(who["sub"], authenticated["sub"]);
    }
}

#[tokio::test]
async fn message_mode_rejects_every_bad_token() {
    let server = server(AuthMode::Message).await;
    let mut c = Client::start().await;
    let cases = bad_cases();
    for (i, (_, token, _)) in cases.iter().enumerate() {
        let id = format!("bad{i}");
        c.connected(&id, &server.url("/"), json!({})).await;
        let payload = match token {
            Some(t) => json!([{ "token": t }]),
            None => json!([{}]),
        };
        c.emit_ack(&id, "authenticate", payload, "auth").await;
    }
    // An empty payload (no argument at all), too.
    c.connected("empty", &server.url("/"), json!({})).await;
    c.emit_ack("empty", "authenticate", json!([]), "auth").await;

    for (i, (name, _, code)) in cases.iter().enumerate() {
        let id = format!("bad{i}");
        let ack = c.expect_ack(&id, "auth").await;
        assert_eq!(ack["code"], *code, "case {name}: ack {ack}");
        assert_error_object(&ack, code);
        let event = c.expect_event(&id, "unauthorized").await;
        assert_eq!(
            event, ack,
            "case {name}: event and ack carry the same object"
        );
        let bye = c.expect_kind(&id, "disconnect").await;
        assert_eq!(bye["reason"], "io server disconnect", "case {name}");
    }
    assert_error_object(&c.expect_ack("empty", "auth").await, "credentials_required");
    c.expect_kind("empty", "disconnect").await;

    // The server keeps serving everyone else.
    c.login("good", &server.url("/"), &hs(&good_claims("carol")))
        .await;
    c.emit_ack("good", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("good", "who").await["sub"], "carol");
}

/// The `authenticate` payload itself in other shapes than `{ token }` (what the server reads
/// straight into the token, without a JSON tree).
#[tokio::test]
async fn message_mode_reads_the_payload_shape() {
    let server = server(AuthMode::Message).await;
    let mut c = Client::start().await;
    let valid = hs(&good_claims("erin"));
    let cases = [
        (
            "bare string",
            json!([valid.clone()]),
            "credentials_bad_format",
        ),
        ("number", json!([42]), "credentials_bad_format"),
        ("boolean", json!([true]), "credentials_bad_format"),
        ("array", json!([[valid.clone()]]), "credentials_bad_format"),
        ("null", json!([null]), "credentials_required"),
        (
            "token nested deeper",
            json!([{ "auth": { "token": valid.clone() } }]),
            "credentials_required",
        ),
    ];
    for (i, (_, args, _)) in cases.iter().enumerate() {
        let id = format!("shape{i}");
        c.connected(&id, &server.url("/"), json!({})).await;
        c.emit_ack(&id, "authenticate", args.clone(), "auth").await;
    }
    for (i, (name, _, code)) in cases.iter().enumerate() {
        let id = format!("shape{i}");
        let ack = c.expect_ack(&id, "auth").await;
        assert_eq!(ack["code"], *code, "case {name}: ack {ack}");
        assert_error_object(&ack, code);
        c.expect_kind(&id, "disconnect").await;
    }
    // Other fields beside `token` are skipped; more arguments after the payload are ignored.
    c.connected("extra", &server.url("/"), json!({})).await;
    let args = json!([{ "client": { "v": [1, 2] }, "token": valid, "n": null }, "more"]);
    c.emit_ack("extra", "authenticate", args, "auth").await;
    assert_eq!(c.expect_ack("extra", "auth").await, json!({"ok": true}));
    assert_eq!(
        c.expect_event("extra", "authenticated").await["sub"],
        "erin"
    );
}

#[tokio::test]
async fn handshake_mode_rejects_every_bad_token() {
    let server = server(AuthMode::Handshake).await;
    let mut c = Client::start().await;
    let cases = bad_cases();
    for (i, (_, token, _)) in cases.iter().enumerate() {
        let auth = match token {
            Some(t) => json!({ "token": t }),
            None => json!({}),
        };
        c.connect(
            &format!("bad{i}"),
            &server.url("/"),
            json!({ "auth": auth }),
        )
        .await;
    }
    c.connect("noauth", &server.url("/"), json!({})).await;
    for (i, (name, _, code)) in cases.iter().enumerate() {
        let id = format!("bad{i}");
        let err = c.expect_kind(&id, "connect_error").await;
        assert_eq!(err["message"], *code, "case {name}");
    }
    assert_eq!(
        c.expect_kind("noauth", "connect_error").await["message"],
        "credentials_required"
    );
    c.sync().await;
    for (i, (name, _, _)) in cases.iter().enumerate() {
        assert!(
            !c.history(&format!("bad{i}"))
                .iter()
                .any(|m| m["kind"] == "connect"),
            "case {name} connected"
        );
    }

    // Valid tokens: auth payload (with and without Bearer) and the Authorization header.
    let token = hs(&good_claims("dave"));
    c.connected(
        "auth",
        &server.url("/"),
        json!({ "auth": { "token": token } }),
    )
    .await;
    c.connected(
        "bearer",
        &server.url("/"),
        json!({ "auth": { "token": format!("Bearer {token}") } }),
    )
    .await;
    c.connected(
        "header",
        &server.url("/"),
        json!({ "extraHeaders": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    for id in ["auth", "bearer", "header"] {
        assert_eq!(c.expect_event(id, "authenticated").await["sub"], "dave");
        c.emit_ack(id, "whoami", json!([]), "who").await;
        assert_eq!(c.expect_ack(id, "who").await["sub"], "dave");
    }
}

#[tokio::test]
async fn handshake_query_token_only_when_enabled() {
    let strict = server(AuthMode::Handshake).await;
    let auth = socketioxide_jwt::JwtAuth::builder(TrustedIssuer::new(
        ISS,
        Keys::from(VerificationKey::hmac(SECRET).kid("hs")).audience(AUD),
    ))
    .mode(AuthMode::Handshake)
    .insecure_allow_query_token()
    .build()
    .unwrap();
    let lenient = Server::start(|io| install_app(io, "/", &auth)).await;
    let token = hs(&good_claims("erin"));
    let mut c = Client::start().await;
    c.connect(
        "strict",
        &strict.url("/"),
        json!({ "query": { "token": token } }),
    )
    .await;
    assert_eq!(
        c.expect_kind("strict", "connect_error").await["message"],
        "credentials_required"
    );
    c.connected(
        "lenient",
        &lenient.url("/"),
        json!({ "query": { "token": token } }),
    )
    .await;
    assert_eq!(
        c.expect_event("lenient", "authenticated").await["sub"],
        "erin"
    );
}
