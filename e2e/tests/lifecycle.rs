//! While connected: expiry, in-band refresh, refresh for another subject, reconnects.

use serde_json::json;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide_jwt::{Claims, StandardClaims};
use socketioxide_jwt_e2e::*;

#[tokio::test]
async fn expiry_disconnects_in_both_modes() {
    let server = Server::start_both_modes().await;
    let mut c = Client::start().await;
    let token = sign(&claims("alice", 2));
    c.login("msg", &server.url("/"), &token).await;
    c.connected("hs", &server.url("/hs"), json!({"auth": {"token": token}}))
        .await;
    for id in ["msg", "hs"] {
        let err = c.expect_event(id, "unauthorized").await;
        assert_error_object(&err, "token_expired");
        assert_eq!(
            c.expect_kind(id, "disconnect").await["reason"],
            "io server disconnect"
        );
    }
}

#[tokio::test]
async fn refresh_keeps_the_socket_past_the_old_expiry() {
    let server = Server::start_both_modes().await;
    let mut c = Client::start().await;
    let short = sign(&claims("alice", 2));
    // `witness` holds a token with the same expiry and does not refresh: its expiry is the
    // event that proves the old deadline has passed.
    c.login("witness", &server.url("/"), &short).await;
    c.login("msg", &server.url("/"), &short).await;
    c.connected("hs", &server.url("/hs"), json!({"auth": {"token": short}}))
        .await;
    c.expect_event("hs", "authenticated").await;

    let fresh = sign(&json!({"sub": "alice", "exp": now() + 600, "role": "admin"}));
    for id in ["msg", "hs"] {
        c.emit_ack(id, "authenticate", json!([{ "token": fresh }]), "refresh")
            .await;
        assert_eq!(c.expect_ack(id, "refresh").await, json!({"ok": true}));
        let again = c.expect_event(id, "authenticated").await;
        assert!(
            again["exp"].as_u64().unwrap() >= now() + 500,
            "authenticated carries the new exp"
        );
    }
    assert_error_object(
        &c.expect_event("witness", "unauthorized").await,
        "token_expired",
    );

    for id in ["msg", "hs"] {
        // Still connected, with the new claims.
        c.emit_ack(id, "whoami", json!([]), "who").await;
        assert_eq!(c.expect_ack(id, "who").await["role"], "admin");
    }
    c.sync().await;
    for id in ["msg", "hs"] {
        assert!(
            !c.history(id).iter().any(|m| m["kind"] == "disconnect"),
            "{id} was disconnected"
        );
    }
}

#[tokio::test]
async fn refresh_for_another_subject_is_refused() {
    let auth = auth().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("a", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
    c.emit_ack(
        "a",
        "authenticate",
        json!([{ "token": sign(&claims("mallory", 600)) }]),
        "r",
    )
    .await;
    assert_error_object(&c.expect_ack("a", "r").await, "invalid_token");
    assert_error_object(&c.expect_event("a", "unauthorized").await, "invalid_token");
    assert_eq!(
        c.expect_kind("a", "disconnect").await["reason"],
        "io server disconnect"
    );
}

#[tokio::test]
async fn a_reconnect_starts_unauthenticated() {
    let auth = auth().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    let token = sign(&claims("alice", 600));
    c.connected(
        "a",
        &server.url("/"),
        json!({"reconnection": true, "reconnectionDelay": 50, "reconnectionDelayMax": 100}),
    )
    .await;
    c.authenticate("a", &token).await;

    c.send(json!({"op": "drop_transport", "id": "a"})).await;
    // The client sees a transport-level loss ("forced close") and reconnects by itself.
    assert_ne!(
        c.expect_kind("a", "disconnect").await["reason"],
        "io server disconnect"
    );
    c.expect_kind("a", "connect").await;
    // Pending again: this ack is never called, the one after authenticating is.
    c.emit_ack("a", "whoami", json!([]), "before").await;
    c.authenticate("a", &token).await;
    c.emit_ack("a", "whoami", json!([]), "after").await;
    assert_eq!(c.expect_ack("a", "after").await["sub"], "alice");
    c.sync().await;
    assert!(
        !c.got_ack("a", "before"),
        "the reconnected socket was authenticated without a token"
    );
}

#[tokio::test]
async fn a_reconnect_that_never_authenticates_times_out() {
    let auth = auth()
        .timeout(std::time::Duration::from_millis(800))
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.connected(
        "a",
        &server.url("/"),
        json!({"reconnection": true, "reconnectionDelay": 50, "reconnectionDelayMax": 100}),
    )
    .await;
    c.authenticate("a", &sign(&claims("alice", 600))).await;
    c.send(json!({"op": "drop_transport", "id": "a"})).await;
    c.expect_kind("a", "disconnect").await;
    c.expect_kind("a", "connect").await;
    assert_error_object(&c.expect_event("a", "unauthorized").await, "timeout");
    c.send(json!({"op": "close", "id": "a"})).await;
}

#[tokio::test]
async fn an_application_that_replaces_authenticate_has_the_socket_disconnected() {
    // The session (its expiry, its refresh) lives with the library's `authenticate` handler:
    // an application registering its own on an authenticated socket would leave a socket whose
    // expiry nobody enforces, so the socket goes instead, and its disconnect handler still
    // learns who left (and may clear the socket's extensions, where the session then sits).
    let auth = auth().build().unwrap();
    let (left_tx, mut left) = tokio::sync::mpsc::unbounded_channel::<String>();
    let server = Server::start(move |io| {
        io.ns(
            "/",
            auth.on_authenticated(async move |socket: SocketRef<A>| {
                let left_tx = left_tx.clone();
                socket.on_disconnect(
                    async move |s: SocketRef<A>, Claims(c): Claims<StandardClaims>| {
                        left_tx.send(c.sub.clone().unwrap_or_default()).ok();
                        // The session's parked guard sits there: dropped from inside the
                        // extensions' lock, it must not lock them again.
                        s.extensions.clear();
                    },
                );
                socket.on("authenticate", async |ack: AckSender<A>| {
                    ack.send("mine").ok();
                });
            }),
        )
    })
    .await;
    let mut c = Client::start().await;
    c.connected("a", &server.url("/"), json!({})).await;
    let token = sign(&claims("alice", 600));
    c.emit("a", "authenticate", json!([{ "token": token }]))
        .await;
    assert_eq!(
        c.expect_kind("a", "disconnect").await["reason"],
        "io server disconnect"
    );
    let who = tokio::time::timeout(std::time::Duration::from_secs(5), left.recv()).await;
    assert_eq!(who.ok().flatten().as_deref(), Some("alice"));
    wait_until(|| server.io.sockets().is_empty(), "the socket to be gone").await;
}
