//! Authorization per event, the application check, namespaces, per-user rooms, asymmetric keys,
//! custom claims and event names.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide_jwt::protocol::EventNames;
use socketioxide_jwt::{keys::Keys, JwtAuthBuilder};
use socketioxide_jwt::{AuthError, AuthMode, Claims, JwtAuth, VerificationKey};
use socketioxide_jwt_e2e::*;

#[tokio::test]
async fn per_event_authorization_refuses_without_disconnecting() {
    let auth = auth().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("user", &server.url("/"), &sign(&claims("ursula", 600)))
        .await;
    c.login(
        "admin",
        &server.url("/"),
        &sign(&json!({"sub": "ada", "exp": now() + 600, "role": "admin"})),
    )
    .await;

    c.emit_ack("user", "admin:ping", json!([]), "p").await;
    assert_error_object(&c.expect_ack("user", "p").await, "forbidden");
    c.emit("user", "admin:ping", json!([])).await;
    assert_error_object(&c.expect_event("user", "unauthorized").await, "forbidden");
    // Still connected and served.
    c.emit_ack("user", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("user", "who").await["sub"], "ursula");

    c.emit_ack("admin", "admin:ping", json!([]), "p").await;
    assert_eq!(c.expect_ack("admin", "p").await, "pong");
    c.sync().await;
    assert!(!c.history("user").iter().any(|m| m["kind"] == "disconnect"));
}

#[tokio::test]
async fn application_check_refuses_with_forbidden_in_both_modes() {
    let build = |mode| {
        auth()
            .mode(mode)
            .check(|claims| async move {
                if claims.sub.as_deref() == Some("banned") {
                    Err(AuthError::forbidden("this account is suspended"))
                } else {
                    Ok(())
                }
            })
            .build()
            .unwrap()
    };
    let (message, handshake) = (build(AuthMode::Message), build(AuthMode::Handshake));
    let server = Server::start(|io| {
        install_app(io, "/", &message);
        install_app(io, "/hs", &handshake);
    })
    .await;
    let mut c = Client::start().await;
    let banned = sign(&claims("banned", 600));
    c.connected("msg", &server.url("/"), json!({})).await;
    c.emit("msg", "authenticate", json!([{ "token": banned }]))
        .await;
    let err = c.expect_event("msg", "unauthorized").await;
    assert_error_object(&err, "forbidden");
    assert_eq!(err["message"], "this account is suspended");
    c.expect_kind("msg", "disconnect").await;

    c.connect("hs", &server.url("/hs"), json!({"auth": {"token": banned}}))
        .await;
    assert_eq!(
        c.expect_kind("hs", "connect_error").await["message"],
        "forbidden"
    );

    c.login("ok", &server.url("/"), &sign(&claims("olga", 600)))
        .await;
}

#[derive(Debug, Deserialize)]
struct AdminClaims {
    sub: String,
    role: String,
}

#[tokio::test]
async fn namespaces_have_their_own_configuration_and_dynamic_ones_are_gated() {
    let public = auth().build().unwrap();
    let admin = JwtAuthBuilder::<AdminClaims>::new(Keys::hmac(SECRET))
        .check(|c| async move {
            if c.role == "admin" {
                Ok(())
            } else {
                Err(AuthError::forbidden("admins only"))
            }
        })
        .build()
        .unwrap();
    let server = Server::start(|io| {
        install_app(io, "/", &public);
        io.ns(
            "/admin",
            admin.on_authenticated(async |s: SocketRef<A>, Claims(c): Claims<AdminClaims>| {
                s.on(
                    "who",
                    async |Claims(c): Claims<AdminClaims>, ack: AckSender<A>| {
                        ack.send(&format!("{} ({})", c.sub, c.role)).ok();
                    },
                );
                assert_eq!(c.role, "admin");
            }),
        );
        io.dyn_ns(
            "/tenant/{id}",
            public.on_authenticated(async |s: SocketRef<A>| {
                s.on("where", async |s: SocketRef<A>, ack: AckSender<A>| {
                    ack.send(s.ns()).ok();
                });
            }),
        )
        .unwrap();
    })
    .await;
    let mut c = Client::start().await;
    let admin_token = sign(&json!({"sub": "ada", "exp": now() + 600, "role": "admin"}));
    let user_token = sign(&json!({"sub": "ursula", "exp": now() + 600, "role": "user"}));
    let no_role = sign(&claims("nora", 600));

    c.login("ada", &server.url("/admin"), &admin_token).await;
    c.emit_ack("ada", "who", json!([]), "w").await;
    assert_eq!(c.expect_ack("ada", "w").await, "ada (admin)");
    for (id, token, code) in [
        ("ursula", &user_token, "forbidden"),
        ("nora", &no_role, "invalid_token"),
    ] {
        c.connected(id, &server.url("/admin"), json!({})).await;
        c.emit(id, "authenticate", json!([{ "token": token }]))
            .await;
        assert_error_object(&c.expect_event(id, "unauthorized").await, code);
    }

    // Dynamic namespace: inert until authenticated, like any other.
    c.connected("t", &server.url("/tenant/42"), json!({})).await;
    c.emit_ack("t", "where", json!([]), "early").await;
    c.authenticate("t", &user_token).await;
    c.emit_ack("t", "where", json!([]), "late").await;
    assert_eq!(c.expect_ack("t", "late").await, "/tenant/42");
    c.sync().await;
    assert!(!c.got_ack("t", "early"));
    c.connected("t2", &server.url("/tenant/7"), json!({})).await;
    assert_error_object(&c.expect_event("t2", "unauthorized").await, "timeout");
}

#[tokio::test]
async fn per_user_rooms_address_every_socket_of_a_user() {
    let auth = auth().user_rooms().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("alice1", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
    c.login("alice2", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
    c.login("bob", &server.url("/"), &sign(&claims("bob", 600)))
        .await;
    server
        .io
        .to("user:alice")
        .emit("dm", &"hi alice")
        .await
        .unwrap();
    server
        .io
        .to("user:bob")
        .emit("dm", &"hi bob")
        .await
        .unwrap();
    assert_eq!(c.expect_event("alice1", "dm").await, "hi alice");
    assert_eq!(c.expect_event("alice2", "dm").await, "hi alice");
    assert_eq!(c.expect_event("bob", "dm").await, "hi bob");
    assert_eq!(c.events("bob"), vec!["authenticated", "dm"]);
}

#[tokio::test]
async fn without_per_user_rooms_an_authenticated_socket_is_in_no_room() {
    let auth = auth().build().unwrap();
    assert_eq!(auth.user_room("alice"), None, "per-user rooms are opt-in");
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login("alice", &server.url("/"), &sign(&claims("alice", 600)))
        .await;
    let sockets = server.io.fetch_sockets().await.unwrap();
    assert_eq!(sockets.len(), 1);
    let rooms = sockets[0].rooms().await.unwrap();
    assert!(
        rooms.is_empty(),
        "left the pending room, joined none: {rooms:?}"
    );
    assert!(server.io.rooms().await.unwrap().is_empty());
}

#[tokio::test]
async fn asymmetric_keys_verify_and_are_selected_by_kid() {
    let auth = JwtAuth::builder(Keys::new([
        VerificationKey::rsa_pem(fixture("rsa_public.pem"))
            .unwrap()
            .algorithms([Algorithm::RS256, Algorithm::PS256])
            .kid("rsa"),
        VerificationKey::ec_pem(fixture("ec_public.pem"))
            .unwrap()
            .kid("ec"),
        VerificationKey::ed_pem(fixture("ed_public.pem"))
            .unwrap()
            .kid("ed"),
    ]))
    .mode(AuthMode::Handshake)
    .build()
    .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let rsa = EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap();
    let ec = EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap();
    let ed = EncodingKey::from_ed_pem(&fixture("ed_private.pem")).unwrap();
    let header = |alg, kid: &str| {
        let mut h = Header::new(alg);
        h.kid = Some(kid.to_owned());
        h
    };
    let cases = [
        (
            "rs256",
            sign_with(header(Algorithm::RS256, "rsa"), &rsa, &claims("r", 600)),
            None,
        ),
        (
            "ps256",
            sign_with(header(Algorithm::PS256, "rsa"), &rsa, &claims("p", 600)),
            None,
        ),
        (
            "es256",
            sign_with(header(Algorithm::ES256, "ec"), &ec, &claims("e", 600)),
            None,
        ),
        (
            "eddsa",
            sign_with(header(Algorithm::EdDSA, "ed"), &ed, &claims("d", 600)),
            None,
        ),
        // A valid EC signature presented under the RSA key's kid.
        (
            "wrong kid",
            sign_with(header(Algorithm::ES256, "rsa"), &ec, &claims("x", 600)),
            Some("invalid_token"),
        ),
        // RS384 is an RSA algorithm, but not one this key allows.
        (
            "rs384",
            sign_with(header(Algorithm::RS384, "rsa"), &rsa, &claims("x", 600)),
            Some("invalid_token"),
        ),
    ];
    let mut c = Client::start().await;
    for (id, token, _) in &cases {
        c.connect(id, &server.url("/"), json!({"auth": {"token": token}}))
            .await;
    }
    for (id, _, refusal) in &cases {
        match refusal {
            None => {
                c.expect_event(id, "authenticated").await;
            }
            Some(code) => {
                assert_eq!(
                    c.expect_kind(id, "connect_error").await["message"],
                    *code,
                    "{id}"
                );
            }
        }
    }
}

#[tokio::test]
async fn event_names_are_configurable_and_handlers_take_several_extractors() {
    let names = EventNames::default()
        .authenticate("login")
        .authenticated("welcome")
        .unauthorized("go-away");
    let auth = auth().event_names(names).build().unwrap();
    let server = Server::start(|io| {
        io.ns(
            "/",
            auth.on_authenticated(
                async |s: SocketRef<A>,
                       io: socketioxide::SocketIo<A>,
                       Claims(c): Claims<socketioxide_jwt::StandardClaims>| {
                    s.on("ping", async |ack: AckSender<A>| {
                        ack.send("pong").ok();
                    });
                    // Work after the first await does not delay "welcome".
                    tokio::task::yield_now().await;
                    io.emit("joined", &c.sub).await.ok();
                },
            ),
        );
    })
    .await;
    let mut c = Client::start().await;
    c.connected("a", &server.url("/"), json!({})).await;
    c.emit(
        "a",
        "login",
        json!([{ "token": sign(&claims("alice", 600)) }]),
    )
    .await;
    assert_eq!(c.expect_event("a", "welcome").await["sub"], "alice");
    assert_eq!(c.expect_event("a", "joined").await, "alice");
    c.emit_ack("a", "ping", json!([]), "p").await;
    assert_eq!(c.expect_ack("a", "p").await, "pong");

    c.connected("m", &server.url("/"), json!({})).await;
    c.emit("m", "login", json!([{ "token": "x.y.z" }])).await;
    assert_error_object(&c.expect_event("m", "go-away").await, "invalid_token");
}

#[tokio::test]
async fn handlers_are_live_when_the_client_sees_authenticated() {
    // The client emits the moment it sees `authenticated`; the handler registers its events and
    // then awaits. Under load, none of those first events may be lost.
    let auth = auth().build().unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    let token = sign(&claims("alice", 600));
    c.send(json!({"op": "cycle", "prefix": "fast", "count": 300, "url": server.url("/"), "token": token}))
        .await;
    for i in 0..300 {
        let done = c.expect_kind(&format!("fast{i}"), "cycle_done").await;
        assert_eq!(done["outcome"], "served", "fast{i}");
    }
}

/// An async resolver whose key set changes at run time, as a JWKS-backed one would.
#[derive(Clone, Default)]
struct RotatingKeys(
    std::sync::Arc<
        tokio::sync::RwLock<std::collections::HashMap<String, std::sync::Arc<VerificationKey>>>,
    >,
);

impl socketioxide_jwt::keys::KeyResolver for RotatingKeys {
    fn resolve<'a>(
        &'a self,
        header: &'a jsonwebtoken::Header,
    ) -> socketioxide_jwt::BoxFuture<'a, Result<std::sync::Arc<VerificationKey>, AuthError>> {
        Box::pin(async move {
            let kid = header.kid.as_deref().unwrap_or_default();
            self.0
                .read()
                .await
                .get(kid)
                .cloned()
                .ok_or_else(|| AuthError::new(socketioxide_jwt::ErrorCode::InvalidToken))
        })
    }
}

#[tokio::test]
async fn an_async_key_resolver_picks_keys_and_sees_rotation() {
    let keys = RotatingKeys::default();
    let secret_a = b"key-a-0123456789abcdef0123456789".as_slice();
    let secret_b = b"key-b-0123456789abcdef0123456789".as_slice();
    keys.0
        .write()
        .await
        .insert("a".into(), VerificationKey::hmac(secret_a).into());
    let auth = JwtAuth::builder(Keys::insecure_resolver_any_audience(keys.clone()))
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let token = |kid: &str, secret: &[u8], sub: &str| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.into());
        sign_with(
            h,
            &EncodingKey::from_secret(secret).unwrap(),
            &claims(sub, 600),
        )
    };
    let mut c = Client::start().await;
    c.login("a", &server.url("/"), &token("a", secret_a, "alice"))
        .await;
    c.connected("b", &server.url("/"), json!({})).await;
    c.emit(
        "b",
        "authenticate",
        json!([{ "token": token("b", secret_b, "bob") }]),
    )
    .await;
    assert_error_object(&c.expect_event("b", "unauthorized").await, "invalid_token");

    keys.0
        .write()
        .await
        .insert("b".into(), VerificationKey::hmac(secret_b).into());
    c.login("b2", &server.url("/"), &token("b", secret_b, "bob"))
        .await;
    // A key signed under kid "b" but with key a's secret is still refused.
    c.connected("x", &server.url("/"), json!({})).await;
    c.emit(
        "x",
        "authenticate",
        json!([{ "token": token("b", secret_a, "eve") }]),
    )
    .await;
    assert_error_object(&c.expect_event("x", "unauthorized").await, "invalid_token");
}

/// One engine.io session CONNECTs to many dynamic namespaces without authenticating: it holds at
/// most its share of pending places (8 by default); the rest are refused with `server_busy`, and
/// another session still gets in and authenticates.
#[tokio::test]
async fn one_session_holds_at_most_its_share_of_pending_namespaces() {
    let auth = auth()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let server = Server::start(|io| {
        io.dyn_ns(
            "/tenant/{id}",
            auth.on_authenticated(async |_: SocketRef<A>| {}),
        )
        .unwrap();
    })
    .await;
    let mut c = Client::start().await;
    // Multiplexed: every namespace over the same engine.io session.
    for i in 0..12 {
        c.connect(
            &format!("t{i}"),
            &server.url(&format!("/tenant/{i}")),
            json!({ "forceNew": false }),
        )
        .await;
    }
    let mut connected = 0;
    let mut busy = 0;
    for i in 0..12 {
        let id = format!("t{i}");
        let outcome = c
            .expect(
                |v| {
                    v["id"] == id.as_str()
                        && (v["kind"] == "connect" || v["kind"] == "connect_error")
                },
                "an outcome for each namespace",
            )
            .await;
        match outcome["kind"].as_str() {
            Some("connect") => connected += 1,
            _ => {
                assert_eq!(outcome["message"], "server_busy");
                busy += 1;
            }
        }
    }
    assert_eq!((connected, busy), (8, 4));
    // Another session is not affected.
    let token = sign(&claims("olive", 600));
    c.login("other", &server.url("/tenant/99"), &token).await;
}
