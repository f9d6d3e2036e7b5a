//! Keys from an identity provider: a JWKS served over HTTP by the test itself.

use socketioxide_jwt::{keys::Keys, TrustedIssuer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use socketioxide_jwt::jwks::{Jwks, JwksError, JwksOptions, OidcProvider};
use socketioxide_jwt::{AuthMode, ErrorCode, JwtAuth};
use socketioxide_jwt_e2e::*;

/// What the fake provider answers.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Serve,
    Down,
    Garbage,
    Huge,
}

struct Provider {
    keys: Mutex<Vec<Jwk>>,
    behaviour: Mutex<Behaviour>,
    jwks_hits: AtomicU64,
    base: Mutex<String>,
}

struct Signer {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

impl Signer {
    fn new(kid: &'static str, alg: Algorithm, pem: &str) -> Self {
        let pem = fixture(pem);
        let key = match alg {
            Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(&pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            _ => EncodingKey::from_ed_pem(&pem),
        }
        .unwrap();
        Self { kid, alg, key }
    }

    fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.to_owned());
        jwk
    }

    fn token(&self, claims: &Value) -> String {
        self.token_as(self.kid, claims)
    }

    fn token_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        sign_with(header, &self.key, claims)
    }
}

async fn jwks_route(State(p): State<Arc<Provider>>) -> Response {
    p.jwks_hits.fetch_add(1, Ordering::SeqCst);
    match *p.behaviour.lock().unwrap() {
        Behaviour::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Behaviour::Garbage => "<html>not a key set</html>".into_response(),
        Behaviour::Huge => "x".repeat(1 << 20).into_response(),
        Behaviour::Serve => {
            let set = JwkSet {
                keys: p.keys.lock().unwrap().clone(),
            };
            (
                [(header::CACHE_CONTROL, "public, max-age=600")],
                axum::Json(set),
            )
                .into_response()
        }
    }
}

async fn discovery_route(State(p): State<Arc<Provider>>) -> Response {
    let base = p.base.lock().unwrap().clone();
    axum::Json(json!({ "issuer": base, "jwks_uri": format!("{base}/jwks.json") })).into_response()
}

/// Redirects to the URL in the query string (`/redirect?to=...`), as a compromised or
/// misconfigured hop would.
async fn redirect_route(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let to = q.get("to").cloned().unwrap_or_default();
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn start_provider(keys: Vec<Jwk>) -> (Arc<Provider>, String) {
    let provider = Arc::new(Provider {
        keys: Mutex::new(keys),
        behaviour: Mutex::new(Behaviour::Serve),
        jwks_hits: AtomicU64::new(0),
        base: Mutex::new(String::new()),
    });
    let app = axum::Router::new()
        .route("/jwks.json", get(jwks_route))
        .route("/.well-known/openid-configuration", get(discovery_route))
        .route("/redirect", get(redirect_route))
        .route(
            "/issuer-moved/.well-known/openid-configuration",
            get(|| async {
                let to = "http://idp.attacker.example/.well-known/openid-configuration";
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }),
        )
        .with_state(provider.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *provider.base.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (provider, base)
}

fn signers() -> [Signer; 3] {
    [
        Signer::new("rsa-1", Algorithm::RS256, "rsa_private.pem"),
        Signer::new("ec-1", Algorithm::ES256, "ec_private.pem"),
        Signer::new("ed-1", Algorithm::EdDSA, "ed_private.pem"),
    ]
}

fn options(cooldown: Duration) -> JwksOptions {
    JwksOptions::default().unknown_kid_cooldown(cooldown)
}

#[tokio::test]
async fn tokens_from_each_key_type_verify_over_real_sockets() {
    let signers = signers();
    let (_provider, base) = start_provider(signers.iter().map(Signer::jwk).collect()).await;
    let jwks = Jwks::from_url(
        &format!("{base}/jwks.json"),
        options(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    assert_eq!(jwks.key_ids(), vec!["ec-1", "ed-1", "rsa-1"]);
    let auth = JwtAuth::builder(Keys::insecure_resolver_any_audience(jwks))
        .mode(AuthMode::Either)
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    for s in &signers {
        c.connected(
            s.kid,
            &server.url("/"),
            json!({"auth": {"token": s.token(&claims(s.kid, 600))}}),
        )
        .await;
        assert_eq!(c.expect_event(s.kid, "authenticated").await["sub"], s.kid);
    }
    // A valid EC signature presented under the RSA key's kid; an unknown kid.
    let wrong = signers[1].token_as("rsa-1", &claims("x", 600));
    c.connect("wrong", &server.url("/"), json!({"auth": {"token": wrong}}))
        .await;
    assert_eq!(
        c.expect_kind("wrong", "connect_error").await["message"],
        "invalid_token"
    );
    let unknown = signers[0].token_as("nope", &claims("x", 600));
    c.connect(
        "unknown",
        &server.url("/"),
        json!({"auth": {"token": unknown}}),
    )
    .await;
    assert_eq!(
        c.expect_kind("unknown", "connect_error").await["message"],
        "invalid_token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_costs_at_most_one_fetch_per_cooldown() {
    let signers = signers();
    let (provider, base) = start_provider(vec![signers[0].jwk()]).await;
    let jwks = Jwks::from_url(
        &format!("{base}/jwks.json"),
        options(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let auth = JwtAuth::builder(Keys::insecure_resolver_any_audience(jwks.clone()))
        .build()
        .unwrap();
    let before = provider.jwks_hits.load(Ordering::SeqCst);
    let flood: Vec<_> = (0..500)
        .map(|i| signers[0].token_as(&format!("random-{i}"), &claims("x", 600)))
        .collect();
    // All at once, as an attacker would send them.
    let mut set = tokio::task::JoinSet::new();
    for token in flood {
        let auth = auth.clone();
        set.spawn(async move { auth.verify(&token).await.map(|_| ()) });
    }
    while let Some(result) = set.join_next().await {
        assert_eq!(result.unwrap().unwrap_err().code(), ErrorCode::InvalidToken);
    }
    let fetched = provider.jwks_hits.load(Ordering::SeqCst) - before;
    println!("kid flood: 500 unknown kids -> {fetched} JWKS request(s)");
    assert!(fetched <= 1, "{fetched} requests for 500 unknown kids");
    // Known keys still verify at once.
    assert!(auth
        .verify(&signers[0].token(&claims("ok", 600)))
        .await
        .is_ok());
}

#[tokio::test]
async fn rotation_while_connected() {
    let signers = signers();
    let (provider, base) = start_provider(vec![signers[0].jwk()]).await;
    let jwks = Jwks::from_url(&format!("{base}/jwks.json"), options(Duration::ZERO))
        .await
        .unwrap();
    let auth = JwtAuth::builder(Keys::insecure_resolver_any_audience(jwks))
        .build()
        .unwrap();
    let server = Server::start(|io| install_app(io, "/", &auth)).await;
    let mut c = Client::start().await;
    c.login(
        "old",
        &server.url("/"),
        &signers[0].token(&claims("olga", 600)),
    )
    .await;

    // The provider rotates: the EC key replaces the RSA one.
    *provider.keys.lock().unwrap() = vec![signers[1].jwk()];
    c.login(
        "new",
        &server.url("/"),
        &signers[1].token(&claims("nina", 600)),
    )
    .await;
    // The socket that authenticated with the removed key stays until its exp…
    c.emit_ack("old", "whoami", json!([]), "who").await;
    assert_eq!(c.expect_ack("old", "who").await["sub"], "olga");
    // …but the removed key verifies nothing new.
    c.connected("again", &server.url("/"), json!({})).await;
    c.emit(
        "again",
        "authenticate",
        json!([{ "token": signers[0].token(&claims("olga", 600)) }]),
    )
    .await;
    assert_error_object(
        &c.expect_event("again", "unauthorized").await,
        "invalid_token",
    );
}

#[tokio::test]
async fn the_last_good_key_set_serves_while_the_provider_is_down() {
    let signers = signers();
    let (provider, base) = start_provider(vec![signers[0].jwk()]).await;
    let opts = JwksOptions::default()
        .min_ttl(Duration::from_millis(100))
        .max_ttl(Duration::from_millis(100))
        .retry_after_failure(Duration::from_millis(50))
        .unknown_kid_cooldown(Duration::ZERO);
    let jwks = Jwks::from_url(&format!("{base}/jwks.json"), opts)
        .await
        .unwrap();
    let auth = JwtAuth::builder(Keys::insecure_resolver_any_audience(jwks.clone()))
        .build()
        .unwrap();
    *provider.behaviour.lock().unwrap() = Behaviour::Down;
    // Background refreshes and an unknown-kid refetch fail…
    let failed_before = provider.jwks_hits.load(Ordering::SeqCst);
    let unknown = signers[0].token_as("nope", &claims("x", 600));
    assert!(auth.verify(&unknown).await.is_err());
    wait_until(
        || provider.jwks_hits.load(Ordering::SeqCst) >= failed_before + 3,
        "background refresh attempts",
    )
    .await;
    // …and the known key keeps verifying.
    assert!(auth
        .verify(&signers[0].token(&claims("ok", 600)))
        .await
        .is_ok());
    *provider.behaviour.lock().unwrap() = Behaviour::Serve;
}

#[tokio::test]
async fn garbage_or_oversized_key_sets_are_refused_clearly() {
    let (provider, base) = start_provider(vec![signers()[0].jwk()]).await;
    let url = format!("{base}/jwks.json");
    *provider.behaviour.lock().unwrap() = Behaviour::Garbage;
    assert!(matches!(
        Jwks::from_url(&url, JwksOptions::default()).await,
        Err(JwksError::Parse(_))
    ));
    *provider.behaviour.lock().unwrap() = Behaviour::Huge;
    assert!(matches!(
        Jwks::from_url(&url, JwksOptions::default()).await,
        Err(JwksError::TooLarge(_))
    ));
    *provider.behaviour.lock().unwrap() = Behaviour::Down;
    assert!(matches!(
        Jwks::from_url(&url, JwksOptions::default()).await,
        Err(JwksError::Status(503))
    ));
    assert!(matches!(
        Jwks::from_url("http://idp.example/jwks.json", JwksOptions::default()).await,
        Err(JwksError::InsecureUrl(_))
    ));
}

#[tokio::test]
async fn oidc_discovery_finds_the_keys_and_requires_the_issuer() {
    let signers = signers();
    let (_provider, base) = start_provider(vec![signers[2].jwk()]).await;
    let provider = OidcProvider::discover(&base, JwksOptions::default())
        .await
        .unwrap();
    assert_eq!(provider.issuer, base);
    // Without an audience any token the provider issued for any of its clients would do:
    // `TrustedIssuer::oidc` takes one (a compile-fail test in the library checks it).
    let auth = JwtAuth::builder(TrustedIssuer::oidc(provider, "chat"))
        .build()
        .unwrap();
    let with_iss =
        signers[2].token(&json!({"sub": "o", "exp": now() + 60, "iss": base, "aud": "chat"}));
    let other_client =
        signers[2].token(&json!({"sub": "o", "exp": now() + 60, "iss": base, "aud": "billing"}));
    assert_eq!(
        auth.verify(&other_client).await.unwrap_err().code(),
        ErrorCode::InvalidToken,
        "a token the provider issued for another client"
    );
    let without = signers[2].token(&claims("o", 60));
    let other =
        signers[2].token(&json!({"sub": "o", "exp": now() + 60, "iss": "https://elsewhere"}));
    assert!(auth.verify(&with_iss).await.is_ok());
    assert_eq!(
        auth.verify(&without).await.unwrap_err().code(),
        ErrorCode::InvalidToken
    );
    assert_eq!(
        auth.verify(&other).await.unwrap_err().code(),
        ErrorCode::InvalidToken
    );
    assert!(matches!(
        OidcProvider::discover(&format!("{base}/other-realm"), JwksOptions::default()).await,
        Err(JwksError::Status(404)) | Err(JwksError::IssuerMismatch { .. })
    ));
}

/// Every key fetch stays on https: a redirect from the loopback provider to plain http on
/// another host is refused (JWKS and discovery alike, one policy), loopback to loopback is
/// followed, and a chain of redirects stops after three.
#[tokio::test]
async fn redirects_never_leave_https() {
    let signers = signers();
    let (provider, base) = start_provider(vec![signers[0].jwk()]).await;
    let hits = || provider.jwks_hits.load(Ordering::SeqCst);
    let to = |url: &str| format!("{base}/redirect?to={}", urlencode(url));

    let elsewhere = to("http://keys.attacker.example/jwks.json");
    match Jwks::from_url(&elsewhere, JwksOptions::default()).await {
        Err(JwksError::InsecureRedirect(msg)) => {
            assert!(
                msg.contains("http://keys.attacker.example/jwks.json"),
                "{msg}"
            )
        }
        other => panic!("expected InsecureRedirect, got {other:?}"),
    }
    // A non-loopback host over http, even when it is this machine's name for itself.
    let by_name = to(&format!(
        "http://127.0.0.1.nip.io:{}/jwks.json",
        base.rsplit(':').next().unwrap()
    ));
    assert!(matches!(
        Jwks::from_url(&by_name, JwksOptions::default()).await,
        Err(JwksError::InsecureRedirect(_))
    ));
    let before = hits();
    let same_host = to(&format!("{base}/jwks.json"));
    let jwks = Jwks::from_url(&same_host, JwksOptions::default())
        .await
        .unwrap();
    assert_eq!(jwks.key_ids(), vec!["rsa-1"]);
    assert_eq!(hits(), before + 1, "loopback to loopback is followed");
    let chain = to(&to(&to(&to(&format!("{base}/jwks.json")))));
    assert!(
        matches!(
            Jwks::from_url(&chain, JwksOptions::default()).await,
            Err(JwksError::InsecureRedirect(_))
        ),
        "four redirects"
    );

    // Discovery: `<issuer>/.well-known/openid-configuration` redirected off https.
    let moved = format!("{base}/issuer-moved");
    let discovery = OidcProvider::discover(&moved, JwksOptions::default()).await;
    assert!(
        matches!(discovery, Err(JwksError::InsecureRedirect(_))),
        "{discovery:?}"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
