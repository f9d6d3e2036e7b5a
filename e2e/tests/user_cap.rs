//! `max_sockets_per_user`: one socket more than the cap is refused with `forbidden`, the user's
//! other sockets and every other user are unaffected, and a place frees when a socket closes.

use serde_json::json;
use socketioxide_jwt::limits::UserSockets;
use socketioxide_jwt::AuthMode;
use socketioxide_jwt_e2e::*;

#[tokio::test]
async fn one_socket_over_the_cap_is_refused_and_a_closed_one_frees_its_place() {
    let sockets = UserSockets::in_memory();
    let auth = auth()
        .max_sockets_per_user(2, sockets.clone())
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    let url = server.url("/");
    let alice = sign(&claims("alice", 600));
    c.login("a1", &url, &alice).await;
    c.login("a2", &url, &alice).await;

    c.connected("a3", &url, json!({})).await;
    c.emit_ack("a3", "authenticate", json!([{ "token": alice }]), "auth")
        .await;
    let err = c.expect_event("a3", "unauthorized").await;
    assert_error_object(&err, "forbidden");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("at most 2"), "says why: {message}");
    assert_error_object(&c.expect_ack("a3", "auth").await, "forbidden");
    c.expect_kind("a3", "disconnect").await;

    // Everyone else is unaffected, and so are alice's two sockets.
    c.login("b1", &url, &sign(&claims("bob", 600))).await;
    for id in ["a1", "a2"] {
        c.emit_ack(id, "whoami", json!([]), "who").await;
        assert_eq!(c.expect_ack(id, "who").await["sub"], "alice");
    }
    // A refresh keeps its place: it does not take a second one.
    c.emit_ack(
        "a1",
        "authenticate",
        json!([{ "token": sign(&claims("alice", 900)) }]),
        "r",
    )
    .await;
    assert_eq!(c.expect_ack("a1", "r").await, json!({"ok": true}));
    assert_eq!(sockets.local_count("alice"), 2);

    c.send(json!({"op": "close", "id": "a2"})).await;
    wait_until(
        || sockets.local_count("alice") == 1,
        "a2's place given back",
    )
    .await;
    c.login("a4", &url, &alice).await;
    assert_eq!(sockets.local_count("alice"), 2);
}

#[tokio::test]
async fn handshake_mode_refuses_the_connection_with_forbidden() {
    let auth = auth()
        .mode(AuthMode::Handshake)
        .max_sockets_per_user(1, UserSockets::in_memory())
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    let url = server.url("/");
    let opts = json!({"auth": {"token": sign(&claims("alice", 600))}});
    c.connected("a1", &url, opts.clone()).await;
    c.connect("a2", &url, opts).await;
    assert_eq!(
        c.expect_kind("a2", "connect_error").await["message"],
        "forbidden"
    );
    c.emit_ack("a1", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("a1", "who").await["sub"], "alice");
}
