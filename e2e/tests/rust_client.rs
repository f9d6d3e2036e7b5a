//! The Rust client helper (on rust_socketio) against the real server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use socketioxide_jwt::AuthMode;
use socketioxide_jwt_client::{AuthClientBuilder, Error, Mode, TokenRequest, TokenSource};
use socketioxide_jwt_e2e::*;

async fn whoami(client: &socketioxide_jwt_client::AuthClient) -> Value {
    client
        .emit_with_ack::<_, Value>("whoami", json!({}), Duration::from_secs(5))
        .await
        .expect("a typed whoami ack")
}

#[tokio::test]
async fn connects_authenticated_in_both_modes_and_reads_typed_acks() {
    let server = Server::start_both_modes().await;
    for (mode, ns) in [(Mode::Message, "/"), (Mode::Handshake, "/hs")] {
        let client = AuthClientBuilder::new(server.url(""))
            .namespace(ns)
            .mode(mode)
            .token(TokenSource::Static(sign(&claims("alice", 600))))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(client.info().unwrap().sub.as_deref(), Some("alice"));
        assert_eq!(whoami(&client).await["sub"], "alice");
        client.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn a_bad_token_is_an_error_with_the_code() {
    let server = Server::start_both_modes().await;
    for (mode, ns) in [(Mode::Message, "/"), (Mode::Handshake, "/hs")] {
        for (token, code) in [
            ("x.y.z".to_owned(), "invalid_token"),
            (sign(&claims("alice", -100)), "token_expired"),
            ("garbage".to_owned(), "credentials_bad_format"),
        ] {
            let result = AuthClientBuilder::new(server.url(""))
                .namespace(ns)
                .mode(mode)
                .reconnect(false)
                .token(TokenSource::Static(token))
                .connect()
                .await;
            match result {
                Err(Error::Refused(err)) => assert_eq!(err.code, code, "{mode:?}"),
                other => panic!("{mode:?}: expected a refusal with {code}, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn refresh_before_expiry_keeps_the_socket() {
    let server = Server::start_both_modes().await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let client = AuthClientBuilder::new(server.url(""))
        .token(TokenSource::from_fn(move |reason| {
            log.lock().unwrap().push(reason);
            let ttl = if reason == TokenRequest::Refresh {
                600
            } else {
                2
            };
            async move { Ok(sign(&claims("alice", ttl))) }
        }))
        .connect()
        .await
        .unwrap();
    // Made after the client's first token, so it expires no earlier: its expiry is the event
    // that proves the client's first deadline has passed.
    let witness = AuthClientBuilder::new(server.url(""))
        .reconnect(false)
        .token(TokenSource::Static(sign(&claims("wendy", 2))))
        .connect()
        .await
        .unwrap();
    wait_until(|| witness.refusal().is_some(), "the witness to expire").await;
    assert_eq!(witness.refusal().unwrap().code(), "token_expired");
    assert!(asked.lock().unwrap().contains(&TokenRequest::Refresh));
    assert!(client.info().unwrap().exp.unwrap() > now() + 500);
    assert_eq!(whoami(&client).await["sub"], "alice");
}

#[tokio::test]
async fn a_server_restart_reconnects_and_authenticates_with_a_fresh_token() {
    for mode in [Mode::Message, Mode::Handshake] {
        let auth_mode = if mode == Mode::Message {
            AuthMode::Message
        } else {
            AuthMode::Handshake
        };
        let build = move || auth().mode(auth_mode).build().unwrap();
        let first = build();
        let server = Server::start(|io| install_app(io, "/", &first)).await;
        let addr = server.addr();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let client = AuthClientBuilder::new(server.url(""))
            .mode(mode)
            .token(TokenSource::from_fn(move |reason| {
                log.lock().unwrap().push(reason);
                async move { Ok(sign(&claims("alice", 600))) }
            }))
            .connect()
            .await
            .unwrap();

        server.stop().await;
        let second = build();
        let server = Server::start_at(addr, |io| install_app(io, "/", &second), |app| app).await;
        wait_until(
            || asked.lock().unwrap().contains(&TokenRequest::Reconnect),
            "a reconnect",
        )
        .await;
        client.authenticated(WAIT).await.unwrap();
        assert_eq!(whoami(&client).await["sub"], "alice", "{mode:?}");
        assert_eq!(server.io.sockets().len(), 1);
        client.disconnect().await.unwrap();
    }
}

/// A token source that records why it was asked, and signs a fresh `ttl_secs` token each time.
fn recording_source(ttl_secs: i64, log: Arc<Mutex<Vec<TokenRequest>>>) -> TokenSource {
    TokenSource::from_fn(move |request| {
        log.lock().unwrap().push(request);
        async move { Ok(sign(&claims("alice", ttl_secs))) }
    })
}

#[tokio::test]
async fn the_servers_warning_refreshes_when_the_clients_own_timer_would_be_too_late() {
    let server = Server::start_both_modes().await;
    for (mode, ns) in [(Mode::Message, "/"), (Mode::Handshake, "/hs")] {
        let log = Arc::new(Mutex::new(Vec::new()));
        // No margin: the client's own timer fires at `exp`, when the server refuses the token.
        // Only `token_expiring` (at half the 3 s lifetime) refreshes in time.
        let client = AuthClientBuilder::new(server.url(""))
            .namespace(ns)
            .mode(mode)
            .refresh_margin(Duration::ZERO)
            .token(recording_source(3, log.clone()))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        // Three lifetimes of the token.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        let mut exps = std::collections::BTreeSet::new();
        while tokio::time::Instant::now() < deadline {
            let info = client
                .authenticated(WAIT)
                .await
                .expect("still authenticated");
            exps.insert(info.exp);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(exps.len() >= 3, "{mode:?}: refreshed into {exps:?}");
        let log = log.lock().unwrap().clone();
        assert!(
            !log.contains(&TokenRequest::Reconnect) && !log.contains(&TokenRequest::Expired),
            "{mode:?}: never lost the socket: {log:?}"
        );
        client.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn after_expiry_a_new_token_reconnects_and_a_stale_one_is_never_retried() {
    let verified = Arc::new(Mutex::new(0));
    let count = verified.clone();
    let message = auth()
        .expiry_warning(None)
        .check(move |_| {
            *count.lock().unwrap() += 1;
            async { Ok(()) }
        })
        .build()
        .unwrap();
    let handshake = auth()
        .mode(AuthMode::Handshake)
        .expiry_warning(None)
        .build()
        .unwrap();
    let server = Server::start(|io| {
        install_app(io, "/", &message);
        install_app(io, "/hs", &handshake);
    })
    .await;

    // A source with new tokens: refused for expiry, asked for a new one, authenticated again.
    let log = Arc::new(Mutex::new(Vec::new()));
    for (mode, ns) in [(Mode::Message, "/"), (Mode::Handshake, "/hs")] {
        log.lock().unwrap().clear();
        // Minted for each mode: `exp` is exact to the sub-second, so a 2 s token made before the
        // first mode's run would already have expired when the second one connects.
        let first = sign(&claims("alice", 2));
        let source_log = log.clone();
        let source = TokenSource::from_fn(move |request| {
            source_log.lock().unwrap().push(request);
            // A refresh gets the same short token (no new life from it): the socket expires,
            // and only then is a new token asked for. (Before the server's `expires_in_ms`,
            // the client's own timer fired up to a second late and could not win the race
            // with the expiry; now it fires on time.)
            let token = match request {
                TokenRequest::Connect | TokenRequest::Refresh => first.clone(),
                _ => sign(&claims("alice", 600)),
            };
            async move { Ok(token) }
        });
        let client = AuthClientBuilder::new(server.url(""))
            .namespace(ns)
            .mode(mode)
            .refresh_margin(Duration::ZERO)
            .token(source.clone())
            .connect()
            .await
            .unwrap();
        let first_exp = client.info().unwrap().exp.unwrap();
        wait_until(
            || log.lock().unwrap().contains(&TokenRequest::Expired),
            "a new token asked for after the expiry",
        )
        .await;
        let info = client.authenticated(WAIT).await.unwrap_or_else(|e| {
            panic!(
                "{mode:?}: authenticated again: {e}; asked {:?}",
                log.lock().unwrap()
            )
        });
        assert!(
            info.exp.unwrap() > first_exp + 100,
            "{mode:?}: with the new token"
        );
        assert_eq!(
            whoami(&client).await["sub"],
            "alice",
            "{mode:?}: served on the new connection"
        );
        client.disconnect().await.unwrap();
    }
    *verified.lock().unwrap() = 0;

    // A static token: refused for expiry, nothing new to try, so it stops there.
    let client = AuthClientBuilder::new(server.url(""))
        .refresh_margin(Duration::ZERO)
        .token(TokenSource::Static(sign(&claims("bob", 2))))
        .connect()
        .await
        .unwrap();
    match client.authenticated(Duration::from_secs(1)).await {
        Ok(_) => {}
        Err(e) => panic!("authenticated at first: {e}"),
    }
    wait_until(|| client.refusal().is_some(), "refused for expiry").await;
    assert_eq!(client.refusal().unwrap().code(), "token_expired");
    // Long enough for rust_socketio's reconnect (100 ms backoff) to have happened several times.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        *verified.lock().unwrap(),
        1,
        "the stale token was sent once, never again"
    );
    assert_eq!(
        client.refusal().unwrap().code(),
        "token_expired",
        "a clear, final state"
    );
}

/// `server_busy` is not final: the client waits (backoff with jitter) and gets in once a place
/// frees. Here the one pending place is held by a silent socket until the server times it out.
#[tokio::test]
async fn server_busy_is_waited_out() {
    let auth = auth()
        .max_pending(1)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut holder = Client::start().await;
    holder
        .connected("holder", &server.url("/"), json!({}))
        .await;
    let started = std::time::Instant::now();
    let client = AuthClientBuilder::new(server.url(""))
        .timeout(Duration::from_secs(20))
        .token(TokenSource::Static(sign(&claims("wendy", 600))))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("the client should have waited for a place: {e}"));
    assert_eq!(client.info().unwrap().sub.as_deref(), Some("wendy"));
    assert!(!client.is_waiting());
    // The place was held: the holder timed out first, and the client got in after it.
    assert_error_object(
        &holder.expect_event("holder", "unauthorized").await,
        "timeout",
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(whoami(&client).await["sub"], "wendy");
    client.disconnect().await.unwrap();
}

/// A device whose clock runs 10 minutes ahead keeps one socket across several refreshes: the
/// refresh follows the server's time left, not the local clock.
#[tokio::test]
async fn a_clock_ten_minutes_ahead_keeps_one_socket_across_refreshes() {
    let server = Server::start_both_modes().await;
    for (mode, ns) in [(Mode::Message, "/"), (Mode::Handshake, "/hs")] {
        let log = Arc::new(Mutex::new(Vec::new()));
        let client = AuthClientBuilder::new(server.url(""))
            .namespace(ns)
            .mode(mode)
            .clock(|| std::time::SystemTime::now() + Duration::from_secs(600))
            .token(recording_source(4, log.clone()))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        // Refreshes at half the 4 s lifetime by the server's clock: about every 2 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(7);
        while tokio::time::Instant::now() < deadline {
            client
                .authenticated(WAIT)
                .await
                .expect("still authenticated");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let log = log.lock().unwrap().clone();
        let refreshes = log.iter().filter(|r| **r == TokenRequest::Refresh).count();
        assert!((2..=5).contains(&refreshes), "{mode:?}: {log:?}");
        assert!(
            log.iter()
                .all(|r| matches!(r, TokenRequest::Connect | TokenRequest::Refresh)),
            "{mode:?}: one socket throughout: {log:?}"
        );
        client.disconnect().await.unwrap();
    }
}

/// `refresh()` waits for the server's `authenticated`, and two at once make one request.
#[tokio::test]
async fn refresh_waits_for_the_server_and_joins_one_under_way() {
    let server = Server::start_both_modes().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let client = AuthClientBuilder::new(server.url(""))
        .token(recording_source(600, log.clone()))
        .connect()
        .await
        .unwrap();
    let first = client.info().unwrap();
    // A token one second younger at least: a new `exp`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (a, b) = tokio::join!(client.refresh(), client.refresh());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "both answered by the same authenticated");
    assert!(a.exp > first.exp, "{a:?} after {first:?}");
    assert_eq!(client.info().unwrap(), a);
    assert_eq!(
        *log.lock().unwrap(),
        [TokenRequest::Connect, TokenRequest::Refresh]
    );
    client.disconnect().await.unwrap();
}

/// Every task a client starts ends with `disconnect()`, its refresh timer included (the token
/// here would not be refreshed for 9 minutes).
#[tokio::test]
async fn no_task_outlives_disconnect() {
    let server = Server::start_both_modes().await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let mut clients = Vec::new();
    for (i, mode) in [Mode::Message, Mode::Handshake]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let ns = if mode == Mode::Handshake { "/hs" } else { "/" };
        let client = AuthClientBuilder::new(server.url(""))
            .namespace(ns)
            .mode(mode)
            .token(TokenSource::Static(sign(&claims(&format!("u{i}"), 600))))
            .connect()
            .await
            .unwrap();
        clients.push(client);
    }
    assert!(metrics.num_alive_tasks() >= baseline + 6);
    for client in clients {
        client.disconnect().await.unwrap();
    }
    wait_until(
        || metrics.num_alive_tasks() <= baseline + 1,
        "every client task (and the server's for those sockets) to end",
    )
    .await;
}

/// A server that renamed the protocol events, and a client told the same names.
#[tokio::test]
async fn renamed_events_work_when_both_sides_agree() {
    let names = socketioxide_jwt::protocol::EventNames::default()
        .authenticate("login")
        .authenticated("welcome");
    let auth = auth().event_names(names).build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let client = AuthClientBuilder::new(server.url(""))
        .event_names(
            socketioxide_jwt_client::EventNames::default()
                .authenticate("login")
                .authenticated("welcome"),
        )
        .token(TokenSource::Static(sign(&claims("rena", 600))))
        .connect()
        .await
        .unwrap();
    assert_eq!(whoami(&client).await["sub"], "rena");
    client.disconnect().await.unwrap();
}
