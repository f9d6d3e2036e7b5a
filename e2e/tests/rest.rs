//! REST and Socket.IO from one `JwtAuth`: the axum `Claims` extractor over real HTTP, answering
//! per RFC 6750, with the same keys, claim rules, revocation list and check as the sockets.

use socketioxide_jwt::{keys::Keys, TrustedIssuer};
use std::time::Duration;

use axum::routing::get;
use axum::Json;
use reqwest::StatusCode;
use serde_json::{json, Value};
use socketioxide_jwt::{AuthError, Claims, JwtAuth, RevocationList, StandardClaims};
use socketioxide_jwt_e2e::*;

async fn me(Claims(me): Claims<StandardClaims>) -> Json<StandardClaims> {
    Json((*me).clone())
}

async fn maybe_me(me: Option<Claims<StandardClaims>>) -> Json<Value> {
    Json(json!({ "sub": me.and_then(|Claims(c)| c.sub.clone()) }))
}

/// One configuration for the socket namespace `/` and the routes `/api/me`, `/api/maybe`.
async fn start(auth: JwtAuth) -> Server {
    let routes = axum::Router::new()
        .route("/api/me", get(me))
        .route("/api/maybe", get(maybe_me))
        .with_state(auth.clone());
    Server::start_with_routes(|io| install_app(io, "/", &auth), routes).await
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

async fn get_me(server: &Server, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new()
        .get(server.url(path))
        .timeout(Duration::from_secs(5));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let res = request.send().await.expect("the server answers");
    let status = res.status();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = res.json().await.expect("a JSON body");
    Answer {
        status,
        challenge,
        body,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn rest_answers_per_rfc_6750_with_the_contract_error_object() {
    let issuer = TrustedIssuer::new("https://auth.test", Keys::hmac(SECRET));
    let auth = JwtAuth::builder(issuer)
        .check(|c: std::sync::Arc<StandardClaims>| async move {
            if c.has_role("banned") {
                Err(AuthError::forbidden("this account is suspended"))
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap();
    let server = start(auth).await;
    let claims_of = |sub: &str, ttl: i64, role: &str| {
        let mut c = claims(sub, ttl);
        c["iss"] = json!("https://auth.test");
        c["role"] = json!(role);
        c
    };

    // A valid token: the handler runs with the verified claims.
    let good = sign(&claims_of("alice", 600, "user"));
    let ok = get_me(&server, "/api/me", &[("authorization", &bearer(&good))]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["sub"], "alice");
    assert_eq!(ok.body["role"], "user");

    // No credentials: 401, a bare Bearer challenge.
    let none = get_me(&server, "/api/me", &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.challenge.as_deref(), Some("Bearer"));
    assert_error_object(&none.body, "credentials_required");

    // Bad tokens: 401 with error="invalid_token", the contract's code in the body.
    let forged = sign_with(
        jsonwebtoken::Header::default(),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-server-secret-0123456789").unwrap(),
        &claims_of("mallory", 600, "user"),
    );
    let expired = sign(&claims_of("old", -100, "user"));
    let other_issuer = sign(&claims("alice", 600));
    for (token, code) in [
        (forged.as_str(), "invalid_token"),
        (expired.as_str(), "token_expired"),
        (other_issuer.as_str(), "invalid_token"),
        ("not-a-jwt", "credentials_bad_format"),
    ] {
        let answer = get_me(&server, "/api/me", &[("authorization", &bearer(token))]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{code}");
        let challenge = answer.challenge.expect("a challenge");
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_token", error_description=""#),
            "{challenge}"
        );
        assert_error_object(&answer.body, code);
    }
    // Another scheme is not a bearer token.
    let basic = get_me(
        &server,
        "/api/me",
        &[("authorization", "Basic YWxpY2U6cHc=")],
    )
    .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_error_object(&basic.body, "credentials_bad_format");

    // The application check refuses: 403, its public message, no challenge.
    let banned = sign(&claims_of("eve", 600, "banned"));
    let refused = get_me(&server, "/api/me", &[("authorization", &bearer(&banned))]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.challenge, None);
    assert_error_object(&refused.body, "forbidden");
    assert_eq!(refused.body["message"], "this account is suspended");

    // The same check refuses the same token on a socket.
    let mut c = Client::start().await;
    c.connected("banned", &server.url("/"), json!({})).await;
    c.emit("banned", "authenticate", json!([{ "token": banned }]))
        .await;
    assert_error_object(&c.expect_event("banned", "unauthorized").await, "forbidden");

    // Optional: anonymous passes, a bad token is still refused.
    let anonymous = get_me(&server, "/api/maybe", &[]).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(anonymous.body, json!({ "sub": null }));
    let maybe_alice = get_me(&server, "/api/maybe", &[("authorization", &bearer(&good))]).await;
    assert_eq!(maybe_alice.body, json!({ "sub": "alice" }));
    let maybe_forged = get_me(
        &server,
        "/api/maybe",
        &[("authorization", &bearer(&forged))],
    )
    .await;
    assert_eq!(maybe_forged.status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_by_rest_and_sockets_alike() {
    let revocations = RevocationList::in_memory();
    let auth = auth().revocations(revocations.clone()).build().unwrap();
    let server = start(auth).await;
    let mut c_claims = claims("bob", 600);
    c_claims["iat"] = json!(now() - 5);
    c_claims["jti"] = json!("bob-token-1");
    let token = sign(&c_claims);

    let mut c = Client::start().await;
    c.login("bob", &server.url("/"), &token).await;
    let before = get_me(&server, "/api/me", &[("authorization", &bearer(&token))]).await;
    assert_eq!(before.status, StatusCode::OK);

    revocations
        .revoke_token("bob-token-1", now() + 600)
        .await
        .unwrap();
    // The connected socket is disconnected with `revoked`...
    assert_error_object(&c.expect_event("bob", "unauthorized").await, "revoked");
    // ...and REST refuses the token from now on.
    let after = get_me(&server, "/api/me", &[("authorization", &bearer(&token))]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(after
        .challenge
        .is_some_and(|c| c.contains(r#"error="invalid_token""#)));
    assert_error_object(&after.body, "revoked");
    // A new socket with it too.
    c.connected("again", &server.url("/"), json!({})).await;
    c.emit("again", "authenticate", json!([{ "token": token }]))
        .await;
    assert_error_object(&c.expect_event("again", "unauthorized").await, "revoked");
    server.stop().await;
}

#[tokio::test]
async fn the_token_cookie_is_read_when_configured() {
    let auth = auth()
        .token_cookie("session")
        .cookie_origins(["https://app.example"])
        .build()
        .unwrap();
    let server = start(auth).await;
    let token = sign(&claims("carol", 600));
    let cookie = format!("theme=dark; session={token}");
    let ok = get_me(&server, "/api/me", &[("cookie", &cookie)]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["sub"], "carol");
    // The header wins over the cookie.
    let expired = sign(&claims("carol", -100));
    let both = get_me(
        &server,
        "/api/me",
        &[("cookie", &cookie), ("authorization", &bearer(&expired))],
    )
    .await;
    assert_error_object(&both.body, "token_expired");
    // The cookie twice (one tossed in by a sibling subdomain): neither is trusted.
    let mallory = sign(&claims("mallory", 600));
    let tossed = format!("session={mallory}; theme=dark; session={token}");
    let twice = get_me(&server, "/api/me", &[("cookie", &tossed)]).await;
    assert_eq!(twice.status, StatusCode::UNAUTHORIZED);
    assert_error_object(&twice.body, "credentials_bad_format");
    // Without the setting, the cookie is not read.
    let strict = start(auth_without_cookie()).await;
    let ignored = get_me(&strict, "/api/me", &[("cookie", &cookie)]).await;
    assert_error_object(&ignored.body, "credentials_required");
    server.stop().await;
    strict.stop().await;
}

fn auth_without_cookie() -> JwtAuth {
    auth().build().unwrap()
}
