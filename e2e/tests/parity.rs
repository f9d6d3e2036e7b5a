//! What socketio-jwt and socketio-auth let an app do, beyond the door (issue 36): refreshes
//! that cannot undo each other, and HMAC secrets rotated without a `kid`. In both modes, with
//! the stock `socket.io-client`.

use socketioxide_jwt::keys::Keys;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use socketioxide_jwt::{AuthMode, StandardClaims, VerificationKey};
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

/// `configure(mode)` for message mode on `/` and handshake mode on `/hs`, each namespace
/// installed by `install`; the server and the message-mode configuration.
async fn start_both_modes(
    configure: impl Fn(AuthMode) -> socketioxide_jwt::JwtAuth,
    install: fn(&Io, &'static str, &socketioxide_jwt::JwtAuth),
) -> (Server, socketioxide_jwt::JwtAuth) {
    let (message, handshake) = (configure(AuthMode::Message), configure(AuthMode::Handshake));
    let server = Server::start(|io| {
        install(io, "/", &message);
        install(io, "/hs", &handshake);
    })
    .await;
    (server, message)
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
    let (server, _) = start_both_modes(configure, install_app).await;
    let mut c = Client::start().await;
    for id in ["msg", "hs"] {
        let t = now();
        let first = sign(&json!({ "sub": "alice", "iat": t - 20, "exp": t + 600 }));
        c.connect_in_mode(&server, id, &first).await;
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
        socketioxide_jwt::JwtAuth::builder(Keys::new([
            VerificationKey::hmac(CURRENT),
            VerificationKey::hmac(PREVIOUS),
        ]))
        .mode(mode)
        .build()
        .expect("a rotation")
    };
    let (server, _) = start_both_modes(configure, install_app).await;
    let mut c = Client::start().await;
    let signed = |secret: &[u8], sub: &str| {
        let key = EncodingKey::from_secret(secret).expect("hmac key");
        sign_with(Header::default(), &key, &claims(sub, 600))
    };
    for mode in ["msg", "hs"] {
        for (secret, sub) in [(CURRENT, "current"), (PREVIOUS, "previous")] {
            let id = format!("{mode}-{sub}");
            c.connect_in_mode(&server, &id, &signed(secret, sub)).await;
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

/// Opens socket `id` with these handshake headers (`extraHeaders`: Node's client sends them on
/// the WebSocket upgrade) and `auth`.
async fn open_with(c: &mut Client, id: &str, url: &str, headers: Value, auth: Value) {
    let opts = json!({ "extraHeaders": headers, "auth": auth, "transports": ["websocket"] });
    c.connect(id, url, opts).await;
}

/// What socket `id` got first: `Ok(())` once authenticated, `Err(code)` when refused (a
/// handshake's `connect_error` message).
async fn outcome(c: &mut Client, id: &str) -> Result<(), String> {
    let seen = c
        .expect(
            |m| {
                m["id"] == id
                    && (m["kind"] == "connect_error"
                        || (m["kind"] == "event" && m["event"] == "authenticated"))
            },
            &format!("authenticated or connect_error on {id}"),
        )
        .await;
    match seen["kind"].as_str() {
        Some("connect_error") => Err(seen["message"].as_str().unwrap_or_default().to_owned()),
        _ => Ok(()),
    }
}

/// Credential sources the application chose: socketio-jwt's `auth_header_required` (the header
/// only: a token in `auth` is not read), and a cookie-only configuration in handshake and
/// either mode (the cookie authenticates; from an origin off the list it is refused
/// `forbidden`; sent twice `credentials_bad_format`; without it, either mode waits for
/// `authenticate`). REST reads the same sources, with the same origin rule.
#[tokio::test]
async fn credential_sources_header_only_and_cookie_only_in_both_modes_and_rest() {
    use socketioxide_jwt::credentials::CredentialSource;
    const PAGE: &str = "https://chat.example.com";
    let header_only = auth()
        .mode(AuthMode::Handshake)
        .credential_sources([CredentialSource::AuthorizationHeader])
        .build()
        .expect("header only");
    let cookie_only = |mode| {
        auth()
            .mode(mode)
            .credential_sources([CredentialSource::Cookie("tok".into())])
            .cookie_origins([PAGE])
            .build()
            .expect("cookie only")
    };
    let (cookie_hs, cookie_either) = (
        cookie_only(AuthMode::Handshake),
        cookie_only(AuthMode::Either),
    );
    let routes = axum::Router::new()
        .route(
            "/api/me",
            axum::routing::get(
                async |socketioxide_jwt::Claims(c): socketioxide_jwt::Claims<StandardClaims>| {
                    axum::Json(c.sub.clone())
                },
            ),
        )
        .with_state(cookie_hs.clone());
    let server = Server::start_with_routes(
        |io| {
            install_app(io, "/header", &header_only);
            install_app(io, "/cookie", &cookie_hs);
            install_app(io, "/either", &cookie_either);
        },
        routes,
    )
    .await;
    let mut c = Client::start().await;
    let token = sign(&claims("alice", 600));

    // Header only: `auth` is not a source.
    open_with(
        &mut c,
        "h-auth",
        &server.url("/header"),
        json!({}),
        json!({ "token": token }),
    )
    .await;
    assert_eq!(
        outcome(&mut c, "h-auth").await,
        Err("credentials_required".into())
    );
    let bearer = json!({ "authorization": format!("Bearer {token}") });
    open_with(
        &mut c,
        "h-header",
        &server.url("/header"),
        bearer,
        json!({}),
    )
    .await;
    assert_eq!(outcome(&mut c, "h-header").await, Ok(()));

    // Cookie only, handshake mode.
    let cookie = format!("theme=dark; tok={token}");
    let cases = [
        ("c-plain", json!({ "cookie": cookie }), Ok(())),
        (
            "c-page",
            json!({ "cookie": cookie, "origin": PAGE }),
            Ok(()),
        ),
        (
            "c-evil",
            json!({ "cookie": cookie, "origin": "https://evil.example" }),
            Err("forbidden".to_owned()),
        ),
        (
            "c-twice",
            json!({ "cookie": format!("{cookie}; tok={token}") }),
            Err("credentials_bad_format".to_owned()),
        ),
        ("c-auth", json!({}), Err("credentials_required".to_owned())),
    ];
    for (id, headers, expected) in cases {
        open_with(
            &mut c,
            id,
            &server.url("/cookie"),
            headers,
            json!({ "token": token }),
        )
        .await;
        assert_eq!(outcome(&mut c, id).await, expected, "{id}");
    }
    c.emit_ack("c-plain", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("c-plain", "who").await["sub"], "alice");

    // Either mode: the cookie authenticates the handshake; without it, `authenticate` does.
    open_with(
        &mut c,
        "e-cookie",
        &server.url("/either"),
        json!({ "cookie": cookie }),
        json!({}),
    )
    .await;
    assert_eq!(outcome(&mut c, "e-cookie").await, Ok(()));
    open_with(
        &mut c,
        "e-message",
        &server.url("/either"),
        json!({}),
        json!({}),
    )
    .await;
    c.expect_kind("e-message", "connect").await;
    c.authenticate("e-message", &token).await;
    let evil = json!({ "cookie": cookie, "origin": "https://evil.example" });
    open_with(&mut c, "e-evil", &server.url("/either"), evil, json!({})).await;
    assert_eq!(outcome(&mut c, "e-evil").await, Err("forbidden".into()));

    // REST: the same sources and origin rule.
    let get = |headers: &[(&str, &str)]| {
        let mut request = reqwest::Client::new()
            .get(server.url("/api/me"))
            .timeout(Duration::from_secs(5));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move { request.send().await.expect("an answer").status().as_u16() }
    };
    assert_eq!(get(&[("cookie", &cookie)]).await, 200);
    assert_eq!(get(&[("cookie", &cookie), ("origin", PAGE)]).await, 200);
    assert_eq!(
        get(&[("cookie", &cookie), ("origin", "https://evil.example")]).await,
        403
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(get(&[("authorization", &bearer)]).await, 401, "cookie only");
    server.stop().await;
}

/// `identity_claim("oid")`: two tokens with different `sub` (two applications' pairwise ids)
/// and one `oid` are one user: the per-user cap counts them together, the per-user room and
/// `authenticated` name the `oid`, and revoking that user ends both modes' sockets. An empty
/// `oid` is refused `invalid_token`.
#[tokio::test]
async fn the_identity_claim_names_the_user_for_caps_rooms_and_revocations_in_both_modes() {
    let list = socketioxide_jwt::RevocationList::in_memory();
    let configure = |mode| {
        auth()
            .mode(mode)
            .identity_claim("oid")
            .user_rooms()
            .max_sockets_per_user(2, socketioxide_jwt::limits::UserSockets::in_memory())
            .revocations(list.clone())
            .build()
            .expect("a valid configuration")
    };
    let (server, message) = start_both_modes(configure, install_app).await;
    let mut c = Client::start().await;
    let token = |sub: &str, oid: &str| {
        let mut claims = claims(sub, 600);
        claims["oid"] = json!(oid);
        sign(&claims)
    };
    c.connected("msg", &server.url("/"), json!({})).await;
    let told = c.authenticate("msg", &token("pairwise-a", "user-42")).await;
    assert_eq!(told["sub"], "user-42", "authenticated names the oid");
    let opts = json!({ "auth": { "token": token("pairwise-b", "user-42") } });
    c.connect("hs", &server.url("/hs"), opts).await;
    assert_eq!(
        c.expect_event("hs", "authenticated").await["sub"],
        "user-42"
    );
    // The app's claims keep their own `sub`.
    c.emit_ack("msg", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("msg", "who").await["sub"], "pairwise-a");
    // One user: the per-user room holds the `/` socket, and on `/` (each configuration counts
    // its own places) a third socket of that oid, under yet another `sub`, is over the cap.
    let room = message.user_room("user-42").expect("user rooms");
    let in_room = server.io.to(room).fetch_sockets().await.expect("sockets");
    assert_eq!(in_room.len(), 1);
    c.connected("msg-2", &server.url("/"), json!({})).await;
    c.authenticate("msg-2", &token("pairwise-c", "user-42"))
        .await;
    c.connected("msg-3", &server.url("/"), json!({})).await;
    c.emit(
        "msg-3",
        "authenticate",
        json!([{ "token": token("pairwise-d", "user-42") }]),
    )
    .await;
    assert_error_object(&c.expect_event("msg-3", "unauthorized").await, "forbidden");
    // Revoking the user by its oid ends every socket of it, in both modes.
    list.revoke_user("user-42").await.expect("revoked");
    for id in ["msg", "msg-2", "hs"] {
        assert_error_object(&c.expect_event(id, "unauthorized").await, "revoked");
    }
    // An empty identity is no name.
    c.connected("empty", &server.url("/"), json!({})).await;
    c.emit(
        "empty",
        "authenticate",
        json!([{ "token": token("x", "") }]),
    )
    .await;
    assert_error_object(
        &c.expect_event("empty", "unauthorized").await,
        "invalid_token",
    );
    server.stop().await;
}

/// An app with guests on `ns`: authenticated sockets and guests both join `lobby`; `whoami`
/// tells each who it is; `say` broadcasts to everyone (authenticated only may), `lobby` to the
/// lobby.
fn install_with_guests(
    io: &socketioxide::SocketIo<A>,
    ns: &'static str,
    auth: &socketioxide_jwt::JwtAuth,
) {
    use socketioxide::extract::{AckSender, Data, SocketRef};
    use socketioxide_jwt::Claims;
    let app = auth
        .on_authenticated(async |socket: SocketRef<A>| {
            socket.join("lobby");
            socket.on(
                "whoami",
                async |Claims(c): Claims<StandardClaims>, ack: AckSender<A>| {
                    ack.send(&*c).ok();
                },
            );
            socket.on(
                "say",
                async |io: socketioxide::SocketIo<A>, Data(v): Data<Value>| {
                    io.of(ns_of(&v)).expect("ns").emit("said", &v).await.ok();
                },
            );
            socket.on(
                "lobby",
                async |io: socketioxide::SocketIo<A>, Data(v): Data<Value>| {
                    io.of(ns_of(&v))
                        .expect("ns")
                        .to("lobby")
                        .emit("lobby", &v)
                        .await
                        .ok();
                },
            );
        })
        .or_guest(async |socket: SocketRef<A>| {
            socket.join("lobby");
            // socketio-auth's `socket.auth`: evaluated when asked.
            socket.on("authed", async |s: SocketRef<A>, ack: AckSender<A>| {
                use socketioxide_jwt::extract::SocketClaimsExt;
                ack.send(&s.is_authenticated::<StandardClaims>()).ok();
            });
            socket.on("whoami", async |ack: AckSender<A>| {
                ack.send(&json!({ "guest": true })).ok();
            });
            socket.on("say", async |ack: AckSender<A>| {
                let refusal = socketioxide_jwt::AuthError::forbidden("guests may not speak");
                ack.send(&refusal.to_object()).ok();
            });
        });
    io.ns(ns, app);
}

/// The namespace a test message names (`{ "ns": "/hs", .. }`), `/` by default.
fn ns_of(v: &Value) -> String {
    v["ns"].as_str().unwrap_or("/").to_owned()
}

type A = socketioxide_jwt::JwtLocalAdapter;

/// Guests on a gated namespace, in both modes: a socket without a token stays past the
/// authentication timeout, runs the guest handlers only, hears what is sent to its lobby but
/// never a broadcast to everyone, and becomes an authenticated socket (same id) when it
/// authenticates; a refused `authenticate` disconnects it. Guests have their own places: past
/// `max_guests`, a message-mode socket waits as a pending one (and times out), a handshake
/// without a token gets `server_busy`.
#[tokio::test]
async fn guests_stay_isolated_until_they_authenticate_in_both_modes() {
    let configure = |mode| {
        auth()
            .mode(mode)
            .timeout(Duration::from_millis(300))
            .max_guests(3)
            .build()
            .expect("a valid configuration")
    };
    let (server, _) = start_both_modes(configure, install_with_guests).await;
    let mut c = Client::start().await;
    let token = sign(&claims("alice", 600));

    for (ns, guest) in [("/", "g-msg"), ("/hs", "g-hs")] {
        let sid = c.connected(guest, &server.url(ns), json!({})).await;
        // Past the timeout, still here, and a guest.
        tokio::time::sleep(Duration::from_millis(600)).await;
        c.emit_ack(guest, "whoami", json!([]), "who").await;
        assert_eq!(
            c.expect_ack(guest, "who").await,
            json!({ "guest": true }),
            "{ns}"
        );
        assert!(!c.events(guest).contains(&"unauthorized".to_owned()));
        c.emit_ack(guest, "authed", json!([]), "authed").await;
        assert_eq!(c.expect_ack(guest, "authed").await, json!(false), "{ns}");
        c.emit_ack(guest, "say", json!([{ "ns": ns }]), "say").await;
        assert_eq!(c.expect_ack(guest, "say").await["code"], "forbidden");

        // An authenticated socket speaks: to everyone (not the guest), then to the lobby.
        let alice = format!("alice{ns}");
        if ns == "/" {
            c.login(&alice, &server.url(ns), &token).await;
        } else {
            c.connected(
                &alice,
                &server.url(ns),
                json!({ "auth": { "token": token } }),
            )
            .await;
        }
        c.emit(&alice, "say", json!([{ "ns": ns, "text": "to all" }]))
            .await;
        c.expect_event(&alice, "said").await;
        c.emit(
            &alice,
            "lobby",
            json!([{ "ns": ns, "text": "to the lobby" }]),
        )
        .await;
        assert_eq!(c.expect_event(guest, "lobby").await["text"], "to the lobby");
        assert!(
            !c.events(guest).contains(&"said".to_owned()),
            "{ns}: {:?}",
            c.events(guest)
        );

        // It logs in: the same socket, authenticated, and now it hears everyone.
        c.authenticate(guest, &token).await;
        c.emit_ack(guest, "whoami", json!([]), "who2").await;
        assert_eq!(c.expect_ack(guest, "who2").await["sub"], "alice");
        c.emit_ack(guest, "authed", json!([]), "authed2").await;
        assert_eq!(c.expect_ack(guest, "authed2").await, json!(true), "{ns}");
        c.emit(&alice, "say", json!([{ "ns": ns, "text": "again" }]))
            .await;
        assert_eq!(c.expect_event(guest, "said").await["text"], "again");
        let still: Vec<_> = c
            .history(guest)
            .into_iter()
            .filter(|m| m["kind"] == "connect")
            .map(|m| m["sid"].clone())
            .collect();
        assert_eq!(
            still,
            vec![json!(sid)],
            "{ns}: one socket, never reconnected"
        );

        // A guest whose authenticate is refused is disconnected.
        let bad = format!("bad{ns}");
        c.connected(&bad, &server.url(ns), json!({})).await;
        c.emit(&bad, "authenticate", json!([{ "token": "a.b.c" }]))
            .await;
        assert_error_object(&c.expect_event(&bad, "unauthorized").await, "invalid_token");
        c.expect_kind(&bad, "disconnect").await;
    }

    // Caps: 3 guest places for this configuration; the guests above left theirs (they
    // authenticated or were refused). Three more fill them.
    for i in 0..3 {
        c.connected(&format!("fill{i}"), &server.url("/"), json!({}))
            .await;
        c.emit_ack(&format!("fill{i}"), "whoami", json!([]), "who")
            .await;
        assert_eq!(
            c.expect_ack(&format!("fill{i}"), "who").await,
            json!({ "guest": true })
        );
    }
    // A fourth is a pending socket: it must authenticate in time.
    c.connected("over", &server.url("/"), json!({})).await;
    assert_error_object(&c.expect_event("over", "unauthorized").await, "timeout");
    // Handshake mode has its own configuration and places: three, then server_busy.
    for i in 0..3 {
        c.connected(&format!("hfill{i}"), &server.url("/hs"), json!({}))
            .await;
    }
    c.connect("hover", &server.url("/hs"), json!({})).await;
    assert_eq!(
        c.expect_kind("hover", "connect_error").await["message"],
        "server_busy"
    );
    server.stop().await;
}

/// A room token: typed `room+jwt`, for `sub` and `room`, living `ttl` seconds, with `jti`.
fn room_token(sub: &str, room: &str, ttl: i64, jti: &str) -> String {
    let mut claims = claims(sub, ttl);
    claims["room"] = json!(room);
    claims["jti"] = json!(jti);
    let header = Header {
        typ: Some("room+jwt".into()),
        ..Default::default()
    };
    sign_with(
        header,
        &EncodingKey::from_secret(SECRET).expect("hmac key"),
        &claims,
    )
}

/// Rooms authorized when joined, with the stock client: a room token lets an authenticated
/// socket into its room; `room_expiring` comes before it is removed when the room token
/// expires; revoking the room token removes it at once; a room token for another room or user,
/// a login token, an expired one, or a room token used to log in are all refused.
#[tokio::test]
async fn room_tokens_grant_a_room_until_they_expire_or_are_revoked() {
    use socketioxide::extract::{AckSender, Data, SocketRef};
    let list = socketioxide_jwt::RevocationList::in_memory();
    let auth = auth()
        .revocations(list.clone())
        .build()
        .expect("a valid configuration");
    let joining = auth.clone();
    let server = Server::start(|io| {
        io.ns(
            "/",
            auth.on_authenticated(async move |socket: SocketRef<A>| {
                let auth = joining.clone();
                socket.on(
                    "join",
                    async move |socket: SocketRef<A>, Data(j): Data<Value>, ack: AckSender<A>| {
                        let room = j["room"].as_str().unwrap_or_default();
                        let token = j["token"].as_str().unwrap_or_default();
                        match auth.join_room(&socket, room, token).await {
                            Ok(grant) => ack.send(&json!({ "ok": true, "expires_in_ms": grant.expires_in.as_millis() as u64 })),
                            Err(e) => ack.send(&e.to_object()),
                        }
                        .ok();
                    },
                );
                socket.on("say", async |io: socketioxide::SocketIo<A>, Data(v): Data<Value>| {
                    let room = v["room"].as_str().unwrap_or_default().to_owned();
                    io.to(room).emit("heard", &v).await.ok();
                });
            }),
        );
    })
    .await;
    let mut c = Client::start().await;
    c.login("alice", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
    c.login("bob", &server.url("/"), &sign(&claims("bob", 600)))
        .await;
    let join = |room: &str, token: String| json!([{ "room": room, "token": token }]);

    // Refused: another room, another user, a login token, an expired one.
    let cases = [
        (
            "other-room",
            join("room:1", room_token("alice", "room:2", 60, "a")),
            "forbidden",
        ),
        (
            "other-user",
            join("room:1", room_token("bob", "room:1", 60, "b")),
            "forbidden",
        ),
        (
            "login-token",
            join("room:1", sign(&claims("alice", 60))),
            "invalid_token",
        ),
        (
            "expired",
            join("room:1", room_token("alice", "room:1", -30, "c")),
            "token_expired",
        ),
        (
            "pending-room",
            join(
                "socketioxide-jwt:pending",
                room_token("alice", "socketioxide-jwt:pending", 60, "d"),
            ),
            "forbidden",
        ),
    ];
    for (ack, args, code) in cases {
        c.emit_ack("alice", "join", args, ack).await;
        assert_eq!(c.expect_ack("alice", ack).await["code"], code, "{ack}");
    }
    // A room token is not a login.
    c.connected("sneaky", &server.url("/"), json!({})).await;
    c.emit(
        "sneaky",
        "authenticate",
        json!([{ "token": room_token("alice", "room:1", 60, "e") }]),
    )
    .await;
    assert_error_object(
        &c.expect_event("sneaky", "unauthorized").await,
        "invalid_token",
    );

    // Granted for 3 s: bob's message to the room reaches alice; a warning; then she is out.
    c.emit_ack(
        "alice",
        "join",
        join("room:1", room_token("alice", "room:1", 3, "r1")),
        "ok",
    )
    .await;
    let granted = c.expect_ack("alice", "ok").await;
    assert_eq!(granted["ok"], true, "{granted}");
    assert!(
        granted["expires_in_ms"]
            .as_u64()
            .is_some_and(|ms| (1_000..=3_000).contains(&ms)),
        "{granted}"
    );
    c.emit(
        "bob",
        "say",
        json!([{ "room": "room:1", "text": "hello room" }]),
    )
    .await;
    assert_eq!(c.expect_event("alice", "heard").await["text"], "hello room");
    let warned = c.expect_event("alice", "room_expiring").await;
    assert_eq!(warned["room"], "room:1");
    assert!(
        warned["expires_in_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0 && ms <= 1_600),
        "{warned}"
    );
    let members = |room: &'static str| {
        let io = server.io.clone();
        async move { io.to(room).fetch_sockets().await.expect("sockets").len() }
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while members("room:1").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still in the room past its token's exp"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Granted for a minute, then the room token is revoked: out at once, told so.
    c.emit_ack(
        "alice",
        "join",
        join("room:2", room_token("alice", "room:2", 60, "r2")),
        "ok2",
    )
    .await;
    assert_eq!(c.expect_ack("alice", "ok2").await["ok"], true);
    assert_eq!(members("room:1").await, 0, "room:1 stays left");
    assert_eq!(members("room:2").await, 1);
    list.revoke_token("r2", now() + 60).await.expect("revoked");
    let told = c
        .expect(
            |m| {
                m["id"] == "alice"
                    && m["event"] == "room_expiring"
                    && m["args"][0]["room"] == "room:2"
            },
            "room:2 left",
        )
        .await;
    assert_eq!(told["args"][0]["expires_in_ms"], 0);
    assert_eq!(members("room:2").await, 0);
    // Alice herself is still connected and authenticated.
    assert!(!c.events("alice").contains(&"unauthorized".to_owned()));
    // A revoked room token cannot join again.
    c.emit_ack(
        "alice",
        "join",
        join("room:2", room_token("alice", "room:2", 60, "r2")),
        "again",
    )
    .await;
    assert_eq!(c.expect_ack("alice", "again").await["code"], "revoked");
    server.stop().await;
}
