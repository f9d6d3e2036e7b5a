//! Pending sockets are inert: no handler runs for them and no broadcast reaches them.

use std::time::Duration;

use serde_json::json;
use socketioxide_jwt::{adapter::AuthenticatedOperators, AuthMode};
use socketioxide_jwt_e2e::*;

#[tokio::test]
async fn events_before_authentication_are_never_dispatched() {
    let auth = auth().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("b", &server.url("/"), &sign(&claims("bob", 600)))
        .await;

    c.connected("a", &server.url("/"), json!({})).await;
    c.emit_ack("a", "whoami", json!([]), "early").await;
    c.emit("a", "shout", json!(["early"])).await;
    c.authenticate("a", &sign(&claims("alice", 600))).await;
    c.emit_ack("a", "whoami", json!([]), "late").await;
    c.emit("a", "shout", json!(["late"])).await;

    assert_eq!(c.expect_ack("a", "late").await["sub"], "alice");
    assert_eq!(c.expect_event("b", "shout").await, "late");
    c.sync().await;
    assert!(
        !c.got_ack("a", "early"),
        "an ack asked before authentication must never be called"
    );
    let shouts: Vec<_> = c
        .history("b")
        .into_iter()
        .filter(|m| m["event"] == "shout")
        .map(|m| m["args"][0].clone())
        .collect();
    assert_eq!(
        shouts,
        vec![json!("late")],
        "the pending socket's shout was dispatched"
    );
}

#[tokio::test]
async fn no_broadcast_reaches_a_pending_socket() {
    let auth = auth().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let io = server.io.clone();
    let mut c = Client::start().await;
    let b_sid = c
        .login("b", &server.url("/"), &sign(&claims("bob", 600)))
        .await;
    c.login("c", &server.url("/"), &sign(&claims("carol", 600)))
        .await;
    let a_sid = c.connected("a", &server.url("/"), json!({})).await;

    // Put the pending socket in a room the application broadcasts to.
    for sid in [&a_sid, &b_sid] {
        let socket = io
            .get_socket(sid.parse().unwrap())
            .expect("socket on the server");
        socket.join("lobby");
    }
    io.emit("news", &1).await.unwrap();
    io.of("/").unwrap().emit("ns-news", &2).await.unwrap();
    io.to("lobby").emit("room", &3).await.unwrap();
    io.broadcast().emit("bcast", &4).await.unwrap();
    io.volatile().emit("volatile", &5).await.unwrap();
    io.local().emit("local", &6).await.unwrap();
    io.except("nobody").emit("except", &7).await.unwrap();
    let acks = io
        .timeout(Duration::from_millis(200))
        .emit_with_ack::<_, serde_json::Value>("ask", &8)
        .await
        .unwrap();
    c.emit("b", "shout", json!(["from-b"])).await;

    for id in ["b"] {
        for event in [
            "news", "ns-news", "room", "bcast", "volatile", "local", "except", "ask",
        ] {
            c.expect_event(id, event).await;
        }
    }
    for event in [
        "news", "ns-news", "bcast", "volatile", "local", "except", "ask", "shout",
    ] {
        c.expect_event("c", event).await;
    }
    drop(acks);

    // Enumerations skip the pending socket.
    assert_eq!(
        io.sockets().len(),
        3,
        "the local enumeration still sees all three"
    );
    assert_eq!(io.of("/").unwrap().authenticated().sockets().len(), 2);
    assert_eq!(
        io.fetch_sockets().await.unwrap().len(),
        2,
        "fetch_sockets goes through the adapter"
    );

    // Barrier: after authentication the socket receives broadcasts again, in order.
    c.authenticate("a", &sign(&claims("alice", 600))).await;
    io.to("lobby").emit("barrier", &9).await.unwrap();
    assert_eq!(c.expect_event("a", "barrier").await, 9);
    assert_eq!(
        c.events("a"),
        vec!["authenticated".to_owned(), "barrier".to_owned()],
        "the pending socket received a broadcast"
    );
    assert_eq!(io.fetch_sockets().await.unwrap().len(), 3);
}

#[tokio::test]
async fn silent_sockets_time_out_and_are_cleaned_up_while_others_keep_working() {
    const SILENT: usize = 300;
    let auth = auth().timeout(Duration::from_millis(1500)).build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("good", &server.url("/"), &sign(&claims("gina", 600)))
        .await;

    c.send(json!({"op": "connect_many", "prefix": "silent", "count": SILENT, "url": server.url("/"), "opts": {}}))
        .await;
    // The authenticated client keeps working during the storm.
    c.emit_ack("good", "whoami", json!([]), "during").await;
    assert_eq!(c.expect_ack("good", "during").await["sub"], "gina");

    for i in 0..SILENT {
        let id = format!("silent{i}");
        let err = c.expect_event(&id, "unauthorized").await;
        assert_error_object(&err, "timeout");
        assert_eq!(
            c.expect_kind(&id, "disconnect").await["reason"],
            "io server disconnect"
        );
    }
    wait_until(
        || server.io.sockets().len() == 1,
        "the server to drop the silent sockets",
    )
    .await;
    c.emit_ack("good", "whoami", json!([]), "after").await;
    assert_eq!(c.expect_ack("good", "after").await["sub"], "gina");
}

#[tokio::test]
async fn sockets_that_leave_while_pending_release_their_session_and_timer() {
    const LEAVERS: usize = 100;
    // A long timeout: only dropping the socket can end these timers in time.
    let auth = auth().timeout(Duration::from_secs(120)).build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut c = Client::start().await;
    c.login("good", &server.url("/"), &sign(&claims("gina", 600)))
        .await;
    let baseline = metrics.num_alive_tasks();

    c.send(json!({"op": "connect_many", "prefix": "p", "count": LEAVERS, "url": server.url("/"), "opts": {}}))
        .await;
    for i in 0..LEAVERS {
        c.expect_kind(&format!("p{i}"), "connect").await;
    }
    assert!(
        metrics.num_alive_tasks() >= baseline + LEAVERS,
        "each pending socket has a timer task"
    );
    for i in 0..LEAVERS {
        c.send(json!({"op": "close", "id": format!("p{i}")})).await;
    }
    wait_until(
        || server.io.sockets().len() == 1,
        "the server to drop the closed sockets",
    )
    .await;
    wait_until(
        || metrics.num_alive_tasks() <= baseline + 5,
        "the timer tasks of closed sockets to end",
    )
    .await;
}

#[tokio::test]
async fn either_mode_takes_a_handshake_token_or_waits_for_authenticate() {
    let auth = auth().mode(AuthMode::Either).build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.connected(
        "hs",
        &server.url("/"),
        json!({"auth": {"token": sign(&claims("hana", 600))}}),
    )
    .await;
    assert_eq!(c.expect_event("hs", "authenticated").await["sub"], "hana");

    c.login("msg", &server.url("/"), &sign(&claims("milo", 600)))
        .await;
    c.emit_ack("msg", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("msg", "who").await["sub"], "milo");

    c.connect("bad", &server.url("/"), json!({"auth": {"token": "x.y.z"}}))
        .await;
    assert_eq!(
        c.expect_kind("bad", "connect_error").await["message"],
        "invalid_token"
    );
}

/// Either mode: a socket that brings no token in the handshake waits for `authenticate`, and
/// is refused with `timeout` when none comes (its deadline is armed on that path too).
#[tokio::test]
async fn either_mode_without_a_token_times_out() {
    let auth = auth()
        .mode(AuthMode::Either)
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.connected("silent", &server.url("/"), json!({})).await;
    assert_error_object(&c.expect_event("silent", "unauthorized").await, "timeout");
    c.expect_kind("silent", "disconnect").await;
}
