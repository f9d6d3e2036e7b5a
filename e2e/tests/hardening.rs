//! Abuse limits and cross-site WebSocket hijacking, with real sockets.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide_jwt::layer::{CompactHeadLayer, OriginLayer};
use socketioxide_jwt::limits::FailedAuthLimit;
use socketioxide_jwt::AuthMode;
use socketioxide_jwt_e2e::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one raw HTTP/1.1 request and returns the status line.
async fn raw_status(server: &Server, path: &str, headers: &[(&str, &str)]) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", server.addr());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn foreign_origins_are_refused_before_socketio() {
    let auth = auth().build().unwrap();
    let server = Server::start_with(
        |io| install_app(io, "/", &auth),
        |app| app.layer(OriginLayer::new(["http://chat.test"])),
    )
    .await;
    let upgrade = |origin: &'static str| {
        vec![
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Origin", origin),
        ]
    };
    let ws = "/socket.io/?EIO=4&transport=websocket";
    assert!(raw_status(&server, ws, &upgrade("https://evil.test"))
        .await
        .contains(" 403 "));
    assert!(raw_status(&server, ws, &upgrade("null"))
        .await
        .contains(" 403 "));
    assert!(raw_status(&server, ws, &upgrade("http://chat.test"))
        .await
        .contains(" 101 "));
    let polling = "/socket.io/?EIO=4&transport=polling";
    assert!(
        raw_status(&server, polling, &[("Origin", "https://evil.test")])
            .await
            .contains(" 403 ")
    );
    assert!(
        raw_status(&server, polling, &[("Origin", "http://chat.test")])
            .await
            .contains(" 200 ")
    );
    assert!(
        raw_status(&server, polling, &[]).await.contains(" 200 "),
        "non-browser clients send no Origin"
    );

    // The stock client, as a foreign page would use it: refused.
    let mut c = Client::start().await;
    c.connect(
        "evil",
        &server.url("/"),
        json!({"extraHeaders": {"Origin": "https://evil.test"}}),
    )
    .await;
    c.expect_kind("evil", "connect_error").await;
    c.login("ok", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
}

#[tokio::test]
async fn pending_cap_refuses_new_connections_but_not_authenticated_users() {
    let auth = auth()
        .max_pending(5)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let gate = auth.clone();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("alice", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
    for i in 0..5 {
        c.connected(&format!("p{i}"), &server.url("/"), json!({}))
            .await;
    }
    assert_eq!(gate.pending_sockets(), 5);
    c.connect("sixth", &server.url("/"), json!({})).await;
    assert_eq!(
        c.expect_kind("sixth", "connect_error").await["message"],
        "server_busy"
    );
    c.emit_ack("alice", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("alice", "who").await["sub"], "alice");

    // A pending socket that authenticates gives its place back.
    c.authenticate("p0", &sign(&claims("bob", 600))).await;
    assert_eq!(gate.pending_sockets(), 4);
    c.connected("seventh", &server.url("/"), json!({})).await;
    // So does one that leaves.
    c.send(json!({"op": "close", "id": "p1"})).await;
    wait_until(
        || gate.pending_sockets() == 4,
        "the closed socket's place to be released",
    )
    .await;
}

#[tokio::test]
async fn too_many_authenticate_events_refuse_the_socket() {
    let auth = auth().max_auth_attempts_per_minute(3).build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("a", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
    for i in 0..2 {
        c.emit_ack(
            "a",
            "authenticate",
            json!([{ "token": sign(&claims("alice", 600)) }]),
            &format!("r{i}"),
        )
        .await;
        assert_eq!(
            c.expect_ack("a", &format!("r{i}")).await,
            json!({"ok": true})
        );
    }
    c.emit_ack(
        "a",
        "authenticate",
        json!([{ "token": sign(&claims("alice", 600)) }]),
        "r3",
    )
    .await;
    let err = c.expect_ack("a", "r3").await;
    assert_error_object(&err, "forbidden");
    assert_eq!(
        c.expect_kind("a", "disconnect").await["reason"],
        "io server disconnect"
    );
}

#[tokio::test]
async fn a_one_megabyte_authenticate_is_refused_and_the_server_keeps_serving() {
    let auth = auth().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.connected("big", &server.url("/"), json!({})).await;
    c.emit_ack(
        "big",
        "authenticate",
        json!([{ "token": "a".repeat(1 << 20) }]),
        "auth",
    )
    .await;
    assert_error_object(&c.expect_ack("big", "auth").await, "invalid_token");
    c.expect_kind("big", "disconnect").await;
    c.login("ok", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
}

#[tokio::test]
async fn an_ip_that_keeps_failing_cools_down() {
    let limit = FailedAuthLimit::new(2, Duration::from_secs(60), Duration::from_secs(60));
    let auth = auth()
        .mode(AuthMode::Handshake)
        .failed_auth_limit(limit, |parts| {
            parts
                .headers
                .get("x-test-ip")?
                .to_str()
                .ok()?
                .parse::<IpAddr>()
                .ok()
        })
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    let from = |ip: &str, token: &str| json!({"extraHeaders": {"x-test-ip": ip}, "auth": {"token": token}});
    for i in 0..3 {
        let id = format!("bad{i}");
        c.connect(&id, &server.url("/"), from("10.0.0.1", "x.y.z"))
            .await;
        assert_eq!(
            c.expect_kind(&id, "connect_error").await["message"],
            "invalid_token"
        );
    }
    let good = sign(&claims("alice", 600));
    c.connect("cooling", &server.url("/"), from("10.0.0.1", &good))
        .await;
    assert_eq!(
        c.expect_kind("cooling", "connect_error").await["message"],
        "forbidden"
    );
    c.connected("elsewhere", &server.url("/"), from("10.0.0.2", &good))
        .await;
    c.expect_event("elsewhere", "authenticated").await;
}

#[tokio::test]
async fn a_recovery_attempt_does_not_skip_authentication() {
    // socketioxide 0.18 has no connection-state recovery; a client offering a session id and
    // offset (what socket.io-client sends to recover) still starts pending.
    let auth = auth().timeout(Duration::from_millis(500)).build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.connected(
        "r",
        &server.url("/"),
        json!({"auth": {"pid": "previous-session", "offset": "42"}}),
    )
    .await;
    c.emit_ack("r", "whoami", json!([]), "who").await;
    assert_error_object(&c.expect_event("r", "unauthorized").await, "timeout");
    c.sync().await;
    assert!(!c.got_ack("r", "who"));
}

#[tokio::test]
async fn behind_compact_head_layer_handlers_still_read_the_handshake_request() {
    let auth = auth().build().unwrap();
    let gate = auth.clone();
    let server = Server::start_with(
        move |io| {
            io.ns(
                "/",
                gate.on_authenticated(async |socket: SocketRef<A>| {
                    socket.on("head", async |socket: SocketRef<A>, ack: AckSender<A>| {
                        let parts = socket.req_parts();
                        let host = parts.headers.get("host").and_then(|v| v.to_str().ok());
                        ack.send(&json!({ "host": host, "query": parts.uri.query() }))
                            .ok();
                    });
                }),
            );
        },
        |app| app.layer(CompactHeadLayer::new()),
    )
    .await;
    let mut c = Client::start().await;
    c.connected("a", &server.url("/"), json!({ "query": { "app": "chat" } }))
        .await;
    c.authenticate("a", &sign(&claims("ada", 600))).await;
    c.emit_ack("a", "head", json!([]), "h").await;
    let head = c.expect_ack("a", "h").await;
    assert_eq!(head["host"], server.addr().to_string());
    let query = head["query"].as_str().unwrap_or_default();
    assert!(query.contains("app=chat"), "{query}");
    assert!(query.contains("EIO=4"), "{query}");
}

/// Handshake mode arms the authentication timeout only when the verification waits (a key to
/// fetch, the application's check): a check slower than the timeout is still cut off by it,
/// and a quick one still lets the socket in.
#[tokio::test]
async fn a_handshake_verification_that_waits_is_bounded_by_the_timeout() {
    let slow = auth()
        .mode(socketioxide_jwt::AuthMode::Handshake)
        .timeout(Duration::from_millis(500))
        .check(
            async |claims: std::sync::Arc<socketioxide_jwt::StandardClaims>| {
                let wait = if claims.sub.as_deref() == Some("slow") {
                    5_000
                } else {
                    50
                };
                tokio::time::sleep(Duration::from_millis(wait)).await;
                Ok(())
            },
        )
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &slow)).await;
    let mut c = Client::start().await;
    let started = std::time::Instant::now();
    c.connect(
        "slow",
        &server.url("/"),
        json!({"auth": {"token": sign(&claims("slow", 600))}}),
    )
    .await;
    let refused = c
        .expect(
            |v| {
                v["id"] == "slow"
                    && ["connect", "connect_error", "disconnect"]
                        .contains(&v["kind"].as_str().unwrap_or_default())
            },
            "the slow socket's outcome",
        )
        .await;
    // Cut off at the timeout (the engine.io session closed: socket.io-client reports it as a
    // disconnect), long before the 5 s check would have let it in.
    assert_ne!(refused["kind"], "connect", "{refused}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused after {:?}",
        started.elapsed()
    );
    c.connected(
        "quick",
        &server.url("/"),
        json!({"auth": {"token": sign(&claims("quick", 600))}}),
    )
    .await;
    c.expect_event("quick", "authenticated").await;
}
