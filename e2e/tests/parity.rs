//! What socketio-jwt and socketio-auth let an app do, beyond the door (issue 36): refreshes
//! that cannot undo each other, and HMAC secrets rotated without a `kid`. In both modes, with
//! the stock `socket.io-client`.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use socketioxide_jwt::{AuthMode, StandardClaims};
use socketioxide_jwt_e2e::*;

/// How long the application's check takes for a token with `"slow": true`.
const SLOW_CHECK: Duration = Duration::from_millis(700);

fn rooms_of(c: &StandardClaims) -> Vec<String> {
    let rooms = c.extra.get("rooms").and_then(Value::as_array);
    rooms
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(|r| format!("room:{r}")))
        .collect()
}

/// Connects `id` with `token`: message mode on `/`, handshake mode (`hs` ids) on `/hs`.
async fn connect(c: &mut Client, server: &Server, id: &str, token: &str) {
    if id.starts_with("hs") {
        let opts = json!({ "auth": { "token": token } });
        c.connected(id, &server.url("/hs"), opts).await;
    } else {
        c.login(id, &server.url("/"), token).await;
    }
}

/// Two refreshes sent back to back, the first slow (a deliberately slow check) and older: the
/// second's verification finishes first and is applied; the first, finishing after it, is
/// acknowledged and changes nothing. The socket keeps the newer token's `exp`, claims and
/// rooms. Before, the second was dropped unanswered while the first was verified.
#[tokio::test]
async fn a_slow_older_refresh_never_replaces_a_newer_one_in_both_modes() {
    let configure = |mode| {
        auth()
            .mode(mode)
            .rooms_from_claims(rooms_of)
            .check(|c: Arc<StandardClaims>| async move {
                if c.extra.get("slow") == Some(&json!(true)) {
                    tokio::time::sleep(SLOW_CHECK).await;
                }
                Ok(())
            })
            .build()
            .expect("a valid configuration")
    };
    let (message, handshake) = (configure(AuthMode::Message), configure(AuthMode::Handshake));
    let server = Server::start(|io| {
        install_app(io, "/", &message);
        install_app(io, "/hs", &handshake);
    })
    .await;
    let mut c = Client::start().await;
    for id in ["msg", "hs"] {
        let t = now();
        let first = sign(&json!({ "sub": "alice", "iat": t - 20, "exp": t + 600 }));
        connect(&mut c, &server, id, &first).await;
        let older = json!({ "sub": "alice", "iat": t - 10, "exp": t + 1000, "slow": true, "rooms": ["old"] });
        let newer = json!({ "sub": "alice", "iat": t, "exp": t + 2000, "rooms": ["new"] });
        c.emit_ack(
            id,
            "authenticate",
            json!([{ "token": sign(&older) }]),
            "older",
        )
        .await;
        c.emit_ack(
            id,
            "authenticate",
            json!([{ "token": sign(&newer) }]),
            "newer",
        )
        .await;
        assert_eq!(c.expect_ack(id, "newer").await, json!({ "ok": true }));
        assert!(
            !c.got_ack(id, "older"),
            "{id}: the slow one finishes second"
        );
        assert_eq!(c.expect_ack(id, "older").await, json!({ "ok": true }));
        c.emit_ack(id, "whoami", json!([]), "who").await;
        let claims = c.expect_ack(id, "who").await;
        assert_eq!(
            claims["exp"],
            json!(t + 2000),
            "{id}: the newer token's exp"
        );
        assert_eq!(
            claims["rooms"],
            json!(["new"]),
            "{id}: the newer token's claims"
        );
        // The last `authenticated` told the client what the socket holds.
        let told: Vec<&Value> = c
            .history(id)
            .into_iter()
            .filter(|e| e["event"] == "authenticated")
            .collect();
        assert_eq!(
            told.last().map(|e| &e["args"][0]["exp"]),
            Some(&json!(t + 2000))
        );
    }
    // The message-mode socket on `/`: in the newer token's room only.
    let sockets = server.io.fetch_sockets().await.expect("sockets");
    assert_eq!(sockets.len(), 1);
    let rooms: Vec<String> = sockets[0]
        .rooms()
        .await
        .expect("rooms")
        .into_iter()
        .map(|r| r.to_string())
        .collect();
    assert!(rooms.contains(&"room:new".to_owned()), "{rooms:?}");
    assert!(!rooms.contains(&"room:old".to_owned()), "{rooms:?}");
    server.stop().await;
}

/// Several HMAC secrets without a `kid`: tokens signed by the current one and by the previous
/// one both authenticate, in both modes; one signed by neither is refused `invalid_token`.
#[tokio::test]
async fn rotated_hmac_secrets_all_verify_in_both_modes() {
    const CURRENT: &[u8] = b"e2e-the-current-secret-0123456789";
    const PREVIOUS: &[u8] = b"e2e-the-previous-secret-012345678";
    let configure = |mode| {
        socketioxide_jwt::JwtAuth::builder()
            .hmac_secret(CURRENT)
            .hmac_secret(PREVIOUS)
            .mode(mode)
            .build()
            .expect("a rotation")
    };
    let (message, handshake) = (configure(AuthMode::Message), configure(AuthMode::Handshake));
    let server = Server::start(|io| {
        install_app(io, "/", &message);
        install_app(io, "/hs", &handshake);
    })
    .await;
    let mut c = Client::start().await;
    let signed = |secret: &[u8], sub: &str| {
        let key = EncodingKey::from_secret(secret).expect("hmac key");
        sign_with(Header::default(), &key, &claims(sub, 600))
    };
    for mode in ["msg", "hs"] {
        for (secret, sub) in [(CURRENT, "current"), (PREVIOUS, "previous")] {
            let id = format!("{mode}-{sub}");
            connect(&mut c, &server, &id, &signed(secret, sub)).await;
            c.emit_ack(&id, "whoami", json!([]), "who").await;
            assert_eq!(c.expect_ack(&id, "who").await["sub"], sub);
        }
    }
    // Signed by neither (the suite's usual secret).
    c.connected("msg-other", &server.url("/"), json!({})).await;
    c.emit(
        "msg-other",
        "authenticate",
        json!([{ "token": signed(SECRET, "x") }]),
    )
    .await;
    assert_error_object(
        &c.expect_event("msg-other", "unauthorized").await,
        "invalid_token",
    );
    let opts = json!({ "auth": { "token": signed(SECRET, "x") } });
    c.connect("hs-other", &server.url("/hs"), opts).await;
    let refused = c.expect_kind("hs-other", "connect_error").await;
    assert_eq!(refused["message"], "invalid_token", "{refused}");
    server.stop().await;
}
