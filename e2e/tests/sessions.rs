//! Claims that change while a socket lives: `request_refresh` (a user's, a room's or every
//! socket asked for a fresh token, refused after the grace period unless one issued since
//! comes) and `max_session_age` (a login older than it ends), in both modes, with the stock
//! client and the Rust helper.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use socketioxide_jwt::revocation::RefreshTarget;
use socketioxide_jwt::{AuthMode, JwtAuth, RevocationList, StandardClaims};
use socketioxide_jwt_client::{AuthClientBuilder, Error, Mode, TokenRequest, TokenSource};
use socketioxide_jwt_e2e::*;

const GRACE: Duration = Duration::from_millis(1500);

/// A token for `sub` issued now (`iat`), granting `rooms`.
fn token(sub: &str, rooms: &[&str]) -> String {
    token_issued(sub, rooms, now())
}

/// A token for `sub` issued at `iat`, granting `rooms`.
fn token_issued(sub: &str, rooms: &[&str], iat: u64) -> String {
    sign(&json!({ "sub": sub, "iat": iat, "exp": now() + 600, "rooms": rooms }))
}

fn rooms_of(c: &StandardClaims) -> Vec<String> {
    let rooms = c.extra.get("rooms").and_then(Value::as_array);
    rooms
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(String::from))
        .collect()
}

/// Message mode on `/`, handshake mode on `/hs`, one revocation list (which carries the
/// requests), `configure` applied to both.
async fn start(
    configure: impl Fn(socketioxide_jwt::JwtAuthBuilder) -> socketioxide_jwt::JwtAuthBuilder,
) -> (Server, JwtAuth) {
    let list = RevocationList::in_memory();
    let build = |mode| {
        configure(auth())
            .mode(mode)
            .revocations(list.clone())
            .refresh_grace(GRACE)
            .rooms_from_claims(rooms_of)
            .build()
            .expect("a valid configuration")
    };
    let (message, handshake) = (build(AuthMode::Message), build(AuthMode::Handshake));
    let server = Server::start(|io| {
        install_app(io, "/", &message);
        install_app(io, "/hs", &handshake);
    })
    .await;
    (server, message)
}

/// A new socket with `token` is refused with `code`: `unauthorized` in message mode (`msg-<id>`),
/// `connect_error` in handshake mode (`hs-<id>`).
async fn refused_in_both_modes(c: &mut Client, server: &Server, id: &str, token: &str, code: &str) {
    let msg = format!("msg-{id}");
    c.connected(&msg, &server.url("/"), json!({})).await;
    c.emit(&msg, "authenticate", json!([{ "token": token }]))
        .await;
    assert_error_object(&c.expect_event(&msg, "unauthorized").await, code);
    let hs = format!("hs-{id}");
    let opts = json!({ "auth": { "token": token } });
    c.connect(&hs, &server.url("/hs"), opts).await;
    let refused = c.expect_kind(&hs, "connect_error").await;
    assert_eq!(refused["message"], code, "{refused}");
}

fn count(c: &Client, id: &str, event: &str) -> usize {
    c.events(id).iter().filter(|e| *e == event).count()
}

#[tokio::test]
async fn a_requested_refresh_needs_a_fresh_token_within_the_grace_period_in_both_modes() {
    let (server, auth) = start(|b| b).await;
    let mut c = Client::start().await;
    // Issued a minute before the request (beyond the few seconds allowed for clocks).
    let old = token_issued("alice", &["general"], now() - 60);
    for id in ["msg-fresh", "msg-stale", "hs-fresh", "hs-stale"] {
        c.connect_in_mode(&server, id, &old).await;
    }
    c.connect_in_mode(&server, "msg-bob", &token("bob", &["general"]))
        .await;

    auth.request_refresh(RefreshTarget::user("alice"))
        .await
        .unwrap();
    for id in ["msg-fresh", "msg-stale", "hs-fresh", "hs-stale"] {
        let asked = c.expect_event(id, "token_expiring").await;
        assert_eq!(asked["expires_in_ms"], 0, "{id}: refresh now");
    }
    let fresh = token("alice", &["general", "lab"]);
    for id in ["msg-fresh", "hs-fresh"] {
        c.emit_ack(id, "authenticate", json!([{ "token": fresh }]), "refresh")
            .await;
        assert_eq!(
            c.expect_ack(id, "refresh").await,
            json!({"ok": true}),
            "{id}"
        );
    }
    // Re-sending the token held (issued before the request) is a refresh that does not
    // answer it: accepted, asked again, and refused when the grace period ends.
    for id in ["msg-stale", "hs-stale"] {
        c.emit_ack(id, "authenticate", json!([{ "token": old }]), "refresh")
            .await;
        assert_eq!(
            c.expect_ack(id, "refresh").await,
            json!({"ok": true}),
            "{id}"
        );
        let asked_again = c.expect_event(id, "token_expiring").await;
        assert_eq!(asked_again["expires_in_ms"], 0, "{id}");
    }
    for id in ["msg-stale", "hs-stale"] {
        assert_error_object(&c.expect_event(id, "unauthorized").await, "token_expired");
    }
    // So is a new socket with it (a reconnect cannot keep the old claims), in both modes.
    refused_in_both_modes(&mut c, &server, "again", &old, "token_expired").await;
    // The fresh ones stay past the grace period (the stale ones' refusal marked its end).
    c.sync().await;
    for id in ["msg-fresh", "hs-fresh"] {
        assert_eq!(count(&c, id, "unauthorized"), 0, "{id}: {:?}", c.events(id));
        c.emit_ack(id, "whoami", json!([]), "who").await;
        let me = c.expect_ack(id, "who").await;
        assert_eq!(
            me["rooms"],
            json!(["general", "lab"]),
            "{id}: the new claims"
        );
    }
    assert_eq!(count(&c, "msg-bob", "token_expiring"), 0, "another user");
    assert_eq!(count(&c, "msg-bob", "unauthorized"), 0);
}

#[tokio::test]
async fn a_socket_that_does_not_answer_is_refused_when_the_grace_period_ends() {
    let (server, auth) = start(|b| b).await;
    let mut c = Client::start().await;
    let old = token("dave", &[]);
    c.connect_in_mode(&server, "msg", &old).await;
    c.connect_in_mode(&server, "hs", &old).await;
    let asked_at = tokio::time::Instant::now();
    auth.request_refresh(RefreshTarget::user("dave"))
        .await
        .unwrap();
    for id in ["msg", "hs"] {
        c.expect_event(id, "token_expiring").await;
    }
    for id in ["msg", "hs"] {
        assert_error_object(&c.expect_event(id, "unauthorized").await, "token_expired");
    }
    let waited = asked_at.elapsed();
    assert!(
        waited >= GRACE,
        "not before the grace period ends: {waited:?}"
    );
}

#[tokio::test]
async fn a_room_or_every_socket_can_be_asked() {
    let (server, auth) = start(|b| b).await;
    let mut c = Client::start().await;
    c.connect_in_mode(&server, "msg-blue", &token("alice", &["blue"]))
        .await;
    c.connect_in_mode(&server, "hs-blue", &token("bob", &["blue"]))
        .await;
    c.connect_in_mode(&server, "msg-red", &token("carol", &["red"]))
        .await;

    auth.request_refresh(RefreshTarget::room("/", "room-that-is-not-granted"))
        .await
        .unwrap();
    // Rooms are per namespace: "blue" of `/` is not "blue" of `/hs`.
    auth.request_refresh(RefreshTarget::room("/", "blue"))
        .await
        .unwrap();
    c.expect_event("msg-blue", "token_expiring").await;
    c.sync().await;
    assert_eq!(count(&c, "hs-blue", "token_expiring"), 0);
    assert_eq!(count(&c, "msg-red", "token_expiring"), 0);
    assert_eq!(
        count(&c, "msg-blue", "token_expiring"),
        1,
        "the unmatched room asked none"
    );

    auth.request_refresh(RefreshTarget::All).await.unwrap();
    for id in ["msg-blue", "hs-blue", "msg-red"] {
        c.expect_event(id, "token_expiring").await;
    }
}

/// A token source that records why it was asked, and signs a fresh token each time.
fn recording(log: Arc<Mutex<Vec<TokenRequest>>>, extra: Value) -> TokenSource {
    TokenSource::from_fn(move |request| {
        log.lock().unwrap().push(request);
        let mut claims = json!({ "sub": "alice", "iat": now(), "exp": now() + 600 });
        for (k, v) in extra.as_object().into_iter().flatten() {
            claims[k] = v.clone();
        }
        async move { Ok(sign(&claims)) }
    })
}

#[tokio::test]
async fn the_rust_helper_answers_a_requested_refresh_in_both_modes() {
    let (server, auth) = start(|b| b).await;
    for (mode, ns) in [(Mode::Message, "/"), (Mode::Handshake, "/hs")] {
        let log = Arc::new(Mutex::new(Vec::new()));
        let client = AuthClientBuilder::new(server.url(""))
            .namespace(ns)
            .mode(mode)
            .token(recording(log.clone(), json!({})))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let first = client.info().expect("authenticated");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        auth.request_refresh(RefreshTarget::user("alice"))
            .await
            .unwrap();
        wait_until(
            || log.lock().unwrap().contains(&TokenRequest::Refresh),
            "the helper to fetch a fresh token",
        )
        .await;
        // Past the grace period, still the same socket, on the fresh token.
        tokio::time::sleep(GRACE + Duration::from_millis(300)).await;
        let info = client
            .authenticated(WAIT)
            .await
            .expect("still authenticated");
        assert!(info.exp > first.exp, "{mode:?}: a new token");
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            [TokenRequest::Connect, TokenRequest::Refresh],
            "{mode:?}: never lost the socket"
        );
        client.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn a_login_older_than_max_session_age_ends_in_both_modes() {
    let (server, _) = start(|b| b.max_session_age(Duration::from_secs(2))).await;
    let mut c = Client::start().await;
    // auth_time older than the limit: refused at once.
    let old_login = sign(&json!({ "sub": "alice", "exp": now() + 600, "auth_time": now() - 5 }));
    refused_in_both_modes(&mut c, &server, "old", &old_login, "token_expired").await;

    // No auth_time: the session counts from the first authentication; refreshes within it
    // pass, the first after it is refused, and the socket with it.
    let plain = || sign(&json!({ "sub": "alice", "iat": now(), "exp": now() + 600 }));
    c.connect_in_mode(&server, "msg", &plain()).await;
    c.connect_in_mode(&server, "hs", &plain()).await;
    for id in ["msg", "hs"] {
        c.emit_ack(id, "authenticate", json!([{ "token": plain() }]), "early")
            .await;
        assert_eq!(c.expect_ack(id, "early").await, json!({"ok": true}), "{id}");
    }
    tokio::time::sleep(Duration::from_millis(3100)).await;
    for id in ["msg", "hs"] {
        c.emit_ack(id, "authenticate", json!([{ "token": plain() }]), "late")
            .await;
        assert_error_object(&c.expect_ack(id, "late").await, "token_expired");
        assert_error_object(&c.expect_event(id, "unauthorized").await, "token_expired");
    }
}

#[tokio::test]
async fn the_rust_helper_is_refused_a_login_older_than_max_session_age() {
    let (server, _) = start(|b| b.max_session_age(Duration::from_secs(60))).await;
    for (mode, ns) in [(Mode::Message, "/"), (Mode::Handshake, "/hs")] {
        let log = Arc::new(Mutex::new(Vec::new()));
        let result = AuthClientBuilder::new(server.url(""))
            .namespace(ns)
            .mode(mode)
            .reconnect(false)
            .token(recording(log, json!({ "auth_time": now() - 61 })))
            .connect()
            .await;
        match result {
            Err(Error::Refused(err)) => assert_eq!(err.code, "token_expired", "{mode:?}"),
            other => panic!(
                "{mode:?}: expected token_expired, got {:?}",
                other.map(|_| ())
            ),
        }
    }
}
