//! `token_expiring`: sent once per token before `exp`, again for a refreshed token, never when
//! turned off; a client that refreshes on it keeps its socket across several expiries.

use std::time::Duration;

use serde_json::json;
use socketioxide_jwt::protocol::EventNames;
use socketioxide_jwt::AuthMode;
use socketioxide_jwt_e2e::*;

#[tokio::test]
async fn the_warning_comes_once_before_the_expiry_in_both_modes() {
    let server = Server::start_both_modes().await;
    let mut c = Client::start().await;
    let exp = now() + 4;
    let token = sign(&json!({ "sub": "alice", "exp": exp }));
    c.login("msg", &server.url("/"), &token).await;
    c.connected("hs", &server.url("/hs"), json!({"auth": {"token": token}}))
        .await;
    for id in ["msg", "hs"] {
        let warning = c.expect_event(id, "token_expiring").await;
        assert_eq!(warning["exp"], exp, "{id}: the token's exp");
        let left = warning["expires_in_ms"].as_u64().expect("expires_in_ms");
        // A 4 s token is warned at half its remaining lifetime (the default lead is 60 s).
        assert!(left > 0 && left <= 2_500, "{id}: {left} ms left");
        assert_error_object(&c.expect_event(id, "unauthorized").await, "token_expired");
    }
    c.sync().await;
    for id in ["msg", "hs"] {
        let events = c.events(id);
        let warnings = events.iter().filter(|e| *e == "token_expiring").count();
        assert_eq!(warnings, 1, "{id}: once per token: {events:?}");
        let warned = events.iter().position(|e| e == "token_expiring");
        let refused = events.iter().position(|e| e == "unauthorized");
        assert!(
            warned < refused,
            "{id}: the warning comes first: {events:?}"
        );
    }
}

#[tokio::test]
async fn refreshing_on_the_warning_keeps_the_socket_across_several_expiries() {
    let server = Server::start_both_modes().await;
    let mut c = Client::start().await;
    let first = sign(&claims("alice", 3));
    let sid = c.login("msg", &server.url("/"), &first).await;
    let hs_sid = c
        .connected("hs", &server.url("/hs"), json!({"auth": {"token": first}}))
        .await;
    let mut last_exp = 0;
    // Three tokens of 3 s, each refreshed only when the server warns: 9 s and more connected.
    for round in 0..3 {
        for id in ["msg", "hs"] {
            let warning = c.expect_event(id, "token_expiring").await;
            let exp = warning["exp"].as_u64().unwrap();
            assert!(
                exp >= last_exp,
                "round {round}: warned for the current token"
            );
            let fresh = sign(&claims("alice", 3));
            c.emit_ack(id, "authenticate", json!([{ "token": fresh }]), "refresh")
                .await;
            assert_eq!(c.expect_ack(id, "refresh").await, json!({"ok": true}));
        }
        last_exp = now();
    }
    c.sync().await;
    for (id, first_sid) in [("msg", &sid), ("hs", &hs_sid)] {
        assert!(
            !c.events(id).iter().any(|e| e == "unauthorized"),
            "{id}: never refused"
        );
        c.emit_ack(id, "whoami", json!([]), "who").await;
        assert_eq!(c.expect_ack(id, "who").await["sub"], "alice");
        let connects = c
            .history(id)
            .iter()
            .filter(|m| m["kind"] == "connect")
            .count();
        assert_eq!(connects, 1, "{id}: the same socket {first_sid} all along");
    }
}

#[tokio::test]
async fn no_warning_when_turned_off_and_the_name_is_configurable() {
    let off = auth().expiry_warning(None).build().unwrap();
    let renamed = auth()
        .mode(AuthMode::Handshake)
        .expiry_warning(Some(Duration::from_secs(1)))
        .event_names(EventNames::default().token_expiring("session:ending"))
        .build()
        .unwrap();
    let server = Server::start(|io| {
        install_app(io, "/", &off);
        install_app(io, "/hs", &renamed);
    })
    .await;
    let mut c = Client::start().await;
    let token = sign(&claims("alice", 3));
    c.login("off", &server.url("/"), &token).await;
    c.connected(
        "renamed",
        &server.url("/hs"),
        json!({"auth": {"token": token}}),
    )
    .await;
    let warning = c.expect_event("renamed", "session:ending").await;
    let left = warning["expires_in_ms"].as_u64().unwrap();
    assert!(left <= 1_000, "a 1 s lead: {left} ms left");
    assert_error_object(
        &c.expect_event("off", "unauthorized").await,
        "token_expired",
    );
    c.sync().await;
    assert!(!c.events("off").iter().any(|e| e == "token_expiring"));
    assert!(!c.events("renamed").iter().any(|e| e == "token_expiring"));
}
