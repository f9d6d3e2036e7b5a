//! Revocation in one process (the in-memory list): sockets holding a revoked token are
//! disconnected with `revoked`, and the token is refused afterwards, in both modes.

use serde_json::json;
use socketioxide_jwt::{AuthMode, RevocationList};
use socketioxide_jwt_e2e::*;

fn token(sub: &str, jti: &str) -> String {
    sign(&json!({ "sub": sub, "jti": jti, "iat": now() - 5, "exp": now() + 600 }))
}

#[tokio::test]
async fn revoking_a_user_or_a_token_disconnects_and_refuses() {
    let revocations = RevocationList::in_memory();
    let message = auth().revocations(revocations.clone()).build().unwrap();
    let handshake = auth()
        .revocations(revocations.clone())
        .mode(AuthMode::Handshake)
        .build()
        .unwrap();
    let server = Server::start(|io| {
        install_app(io, "/", &message);
        install_app(io, "/hs", &handshake);
    })
    .await;
    let mut c = Client::start().await;
    let (alice1, alice2, bob) = (
        token("alice", "a1"),
        token("alice", "a2"),
        token("bob", "b1"),
    );
    c.login("alice-msg", &server.url("/"), &alice1).await;
    c.connected(
        "alice-hs",
        &server.url("/hs"),
        json!({"auth": {"token": alice2}}),
    )
    .await;
    c.expect_event("alice-hs", "authenticated").await;
    c.login("bob", &server.url("/"), &bob).await;
    assert_eq!(revocations.tracked_sockets(), 3);

    revocations.revoke_user("alice").await.unwrap();
    for id in ["alice-msg", "alice-hs"] {
        assert_error_object(&c.expect_event(id, "unauthorized").await, "revoked");
        assert_eq!(
            c.expect_kind(id, "disconnect").await["reason"],
            "io server disconnect"
        );
    }
    // Bob is untouched.
    c.emit_ack("bob", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("bob", "who").await["sub"], "bob");

    // The revoked tokens are refused afterwards, in both modes.
    c.connected("again", &server.url("/"), json!({})).await;
    c.emit("again", "authenticate", json!([{ "token": alice1 }]))
        .await;
    assert_error_object(&c.expect_event("again", "unauthorized").await, "revoked");
    c.connect(
        "again-hs",
        &server.url("/hs"),
        json!({"auth": {"token": alice2}}),
    )
    .await;
    assert_eq!(
        c.expect_kind("again-hs", "connect_error").await["message"],
        "revoked"
    );

    // One token by jti.
    revocations.revoke_token("b1", now() + 600).await.unwrap();
    assert_error_object(&c.expect_event("bob", "unauthorized").await, "revoked");
    c.login("bob2", &server.url("/"), &token("bob", "b2")).await;
    wait_until(
        || revocations.tracked_sockets() == 1,
        "only bob2 to be tracked",
    )
    .await;
}

/// A disconnect handler learns who left, also when the socket leaves because its token was
/// revoked or expired (an application's presence list depends on it).
#[tokio::test]
async fn a_refused_socket_s_disconnect_handler_sees_its_claims() {
    use socketioxide::extract::SocketRef;
    use socketioxide_jwt::{Claims, StandardClaims};
    use std::sync::{Arc, Mutex};

    let revocations = RevocationList::in_memory();
    let auth = auth().revocations(revocations.clone()).build().unwrap();
    let left: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = left.clone();
    let server = Server::start(move |io| {
        io.ns(
            "/",
            auth.on_authenticated(async move |socket: SocketRef<A>| {
                let seen = seen.clone();
                socket.on_disconnect(async move |Claims(me): Claims<StandardClaims>| {
                    let sub = me.sub.clone().unwrap_or_default();
                    seen.lock().unwrap().push(sub);
                });
            }),
        );
    })
    .await;
    let mut c = Client::start().await;
    c.login("alice", &server.url("/"), &token("alice", "a1"))
        .await;
    c.login("bob", &server.url("/"), &token("bob", "b1")).await;
    revocations.revoke_user("alice").await.unwrap();
    assert_error_object(&c.expect_event("alice", "unauthorized").await, "revoked");
    wait_until(
        || left.lock().unwrap().as_slice() == ["alice"],
        "alice's disconnect handler to run with her claims",
    )
    .await;
}
