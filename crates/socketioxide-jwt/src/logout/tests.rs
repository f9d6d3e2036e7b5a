use crate::keys::Keys;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::claims::RegisteredClaims;
use crate::revocation::Revocation;
use crate::{RevocationList, TrustedIssuer};

const A_KEY: &[u8] = b"issuer-a's-own-32-byte-hs256-key";
const B_KEY: &[u8] = b"issuer-b's-own-32-byte-hs256-key";
const A: &str = "https://a.example";
const B: &str = "https://b.example";

fn now() -> u64 {
    crate::time::unix_now()
}

fn auth(list: &RevocationList) -> JwtAuth {
    JwtAuth::builder([
        TrustedIssuer::new(A, Keys::hmac(A_KEY).audience("chat-api")).client_id("chat-web"),
        // B: no client id, so no logouts.
        TrustedIssuer::new(B, Keys::hmac(B_KEY).audience("chat-api")),
    ])
    .revocations(list.clone())
    .build()
    .expect("valid configuration")
}

/// A logout token of A for `chat-web`, with `changes` over the defaults (`null` removes).
fn logout_token(key: &[u8], changes: Value) -> String {
    let mut claims = json!({
        "iss": A, "aud": "chat-web", "iat": now() - 1, "exp": now() + 120,
        "jti": format!("{:x}", rand_id()), "sid": "s-1", "sub": "42",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    for (k, v) in changes.as_object().expect("an object") {
        if v == "null" {
            claims[k] = Value::Null;
        } else if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(key).expect("a key"),
    )
    .expect("signed")
}

fn rand_id() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    u128::from(NEXT.fetch_add(1, Ordering::Relaxed)) << 64 | u128::from(now())
}

#[tokio::test]
async fn a_valid_logout_token_names_its_session_and_user() {
    let list = RevocationList::in_memory();
    let logout = auth(&list)
        .backchannel_logout(&logout_token(A_KEY, json!({})))
        .await
        .unwrap();
    assert_eq!(
        (
            logout.iss.as_str(),
            logout.sid.as_deref(),
            logout.sub.as_deref()
        ),
        (A, Some("s-1"), Some("42"))
    );
    assert_eq!(list.counts().sessions, 1);
}

#[tokio::test]
async fn what_a_logout_token_must_be() {
    let list = RevocationList::in_memory();
    let auth = auth(&list);
    let cases = [
        ("an access token's audience", json!({ "aud": "chat-api" })),
        ("no events", json!({ "events": null })),
        (
            "another event",
            json!({ "events": { "https://other.example/event": {} } }),
        ),
        (
            "the event member not an object",
            json!({ "events": { BACKCHANNEL_LOGOUT_EVENT: "yes" } }),
        ),
        ("a nonce (an ID token)", json!({ "nonce": "n" })),
        ("neither sid nor sub", json!({ "sid": null, "sub": null })),
        ("no jti", json!({ "jti": null })),
        ("an empty jti", json!({ "jti": "" })),
        ("no iat", json!({ "iat": null })),
        ("no exp", json!({ "exp": null })),
        ("expired", json!({ "exp": now() - 120, "iat": now() - 300 })),
        ("iat in the future", json!({ "iat": now() + 3600 })),
        ("iat a float beyond u64", json!({ "iat": 1e300 })),
        ("no iss", json!({ "iss": null })),
        (
            "B's iss (no client id configured for B)",
            json!({ "iss": B }),
        ),
        ("a null nonce", json!({ "nonce": "null" })),
        ("an empty sub", json!({ "sub": "", "sid": null })),
        ("a 256-byte jti", json!({ "jti": "j".repeat(256) })),
        ("a sid that is not a string", json!({ "sid": 7 })),
        (
            "living longer than 10 minutes",
            json!({ "iat": now() - 1, "exp": now() + 600 }),
        ),
    ];
    for (what, changes) in cases {
        let key = if changes.get("iss") == Some(&json!(B)) {
            B_KEY
        } else {
            A_KEY
        };
        let err = auth
            .backchannel_logout(&logout_token(key, changes))
            .await
            .unwrap_err();
        assert!(matches!(err, LogoutError::Invalid(_)), "{what}: {err:?}");
    }
    // Signed with B's key, claiming A.
    let forged = logout_token(B_KEY, json!({}));
    assert!(matches!(
        auth.backchannel_logout(&forged).await,
        Err(LogoutError::Invalid(_))
    ));
    // alg none.
    let valid = logout_token(A_KEY, json!({}));
    let mut parts = valid.split('.');
    let none = format!("eyJhbGciOiJub25lIn0.{}.", parts.nth(1).unwrap());
    assert!(matches!(
        auth.backchannel_logout(&none).await,
        Err(LogoutError::Invalid(_))
    ));
    assert_eq!(
        list.counts().sessions + list.counts().users,
        0,
        "nothing revoked"
    );
}

#[tokio::test]
async fn a_replayed_logout_token_is_refused() {
    let list = RevocationList::in_memory();
    let auth = auth(&list);
    let token = logout_token(A_KEY, json!({}));
    auth.backchannel_logout(&token).await.unwrap();
    assert!(matches!(
        auth.backchannel_logout(&token).await,
        Err(LogoutError::Replayed)
    ));
}

#[tokio::test]
async fn a_logout_by_sub_ends_that_issuers_tokens_issued_until_its_iat() {
    let list = RevocationList::in_memory();
    let auth = auth(&list);
    let iat = now() - 10;
    let token = logout_token(A_KEY, json!({ "sid": null, "iat": iat }));
    let logout = auth.backchannel_logout(&token).await.unwrap();
    assert_eq!((logout.sid, logout.sub.as_deref()), (None, Some("42")));
    let of = |iss: &str, iat: u64| {
        let mut claims = RegisteredClaims::for_sub("42");
        claims.iss = Some(iss.into());
        claims.iat = Some(iat);
        claims
    };
    assert!(list.is_revoked(&of(A, iat - 5)));
    assert!(list.is_revoked(&of(A, iat)));
    assert!(!list.is_revoked(&of(A, iat + 1)), "a later login");
    assert!(!list.is_revoked(&of(B, iat - 5)), "42 of another issuer");
}

#[tokio::test]
async fn a_logout_token_is_not_a_credential() {
    let list = RevocationList::in_memory();
    // The socket's audience is the client id (ID tokens as credentials).
    let auth = JwtAuth::builder(
        TrustedIssuer::new(A, Keys::hmac(A_KEY).audience("chat-web")).client_id("chat-web"),
    )
    .revocations(list)
    .build()
    .unwrap();
    let err = auth
        .verify(&logout_token(A_KEY, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), crate::ErrorCode::InvalidToken);
}

#[tokio::test]
async fn without_a_revocation_list_logouts_are_recorded_in_this_process() {
    let idp = TrustedIssuer::new(A, Keys::hmac(A_KEY).audience("chat-api")).client_id("chat-web");
    let auth = JwtAuth::builder(idp).build().unwrap();
    auth.backchannel_logout(&logout_token(A_KEY, json!({})))
        .await
        .unwrap();
    let list = auth
        .inner
        .verifier
        .revocations()
        .expect("a list of its own");
    assert_eq!(list.counts().sessions, 1);
    // And a replay is refused, as with a list given to the builder.
    let replay = logout_token(A_KEY, json!({}));
    auth.backchannel_logout(&replay).await.unwrap();
    assert!(auth.backchannel_logout(&replay).await.is_err());
}

#[tokio::test]
async fn a_logout_that_could_not_be_carried_out_is_forgotten_so_a_retry_is_no_replay() {
    let list = RevocationList::in_memory();
    assert!(list.record_logout(A, "j1", now() + 60).await.unwrap());
    assert!(
        !list.record_logout(A, "j1", now() + 60).await.unwrap(),
        "a replay"
    );
    assert!(
        list.record_logout(B, "j1", now() + 60).await.unwrap(),
        "another issuer's j1"
    );
    list.forget_logout(A, "j1").await;
    assert!(
        list.record_logout(A, "j1", now() + 60).await.unwrap(),
        "forgotten"
    );
}

#[tokio::test]
async fn a_weaker_revocation_never_replaces_a_stronger_one_in_what_is_published() {
    let list = RevocationList::in_memory();
    let t = now();
    list.revoke_user_issued_before(Some(A), "42", t)
        .await
        .unwrap();
    // A logout whose iat is older than the admin's revocation.
    let held = list.apply(Revocation::User {
        sub: "42".into(),
        iss: Some(A.into()),
        issued_before: t - 5,
        until: t + 60,
    });
    match held {
        Revocation::User { issued_before, .. } => assert_eq!(issued_before, t),
        other => panic!("{other:?}"),
    }
}

/// A store that refuses every revocation (as when the outbox is full) and records the rest.
#[derive(Default)]
struct FailingStore {
    recorded: std::sync::Mutex<std::collections::HashSet<String>>,
    forgotten: std::sync::atomic::AtomicUsize,
    published: std::sync::Mutex<Vec<Revocation>>,
}

impl crate::revocation::RevocationBackend for FailingStore {
    fn publish<'a>(
        &'a self,
        revocation: &'a Revocation,
    ) -> crate::BoxFuture<'a, Result<(), crate::revocation::RevocationError>> {
        self.published.lock().unwrap().push(revocation.clone());
        Box::pin(async {
            Err(crate::revocation::RevocationError::Unavailable(
                "full".into(),
            ))
        })
    }
    fn broadcast_refresh<'a>(
        &'a self,
        _: &'a crate::revocation::RefreshRequest,
    ) -> crate::BoxFuture<'a, Result<(), crate::revocation::RevocationError>> {
        Box::pin(async { Ok(()) })
    }
    fn record_once<'a>(
        &'a self,
        id: &'a str,
        _: u64,
    ) -> crate::BoxFuture<'a, Result<bool, crate::revocation::RevocationError>> {
        let first = self.recorded.lock().unwrap().insert(id.to_owned());
        Box::pin(async move { Ok(first) })
    }
    fn forget_record<'a>(&'a self, id: &'a str) -> crate::BoxFuture<'a, ()> {
        self.recorded.lock().unwrap().remove(id);
        self.forgotten
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async {})
    }
}

#[tokio::test]
async fn a_logout_the_store_cannot_take_is_forgotten_so_the_providers_retry_is_no_replay() {
    let list = RevocationList::in_memory();
    let store = std::sync::Arc::new(FailingStore::default());
    list.set_backend(store.clone());
    let auth = auth(&list);
    let token = logout_token(A_KEY, json!({}));
    for attempt in 0..2 {
        let err = auth.backchannel_logout(&token).await.unwrap_err();
        assert!(
            matches!(err, LogoutError::Unavailable(_)),
            "attempt {attempt}: {err:?}"
        );
    }
    assert_eq!(store.forgotten.load(std::sync::atomic::Ordering::SeqCst), 2);
    // What the store was sent is the list's merged entry.
    let published = store.published.lock().unwrap().clone();
    assert!(
        matches!(&published[0], Revocation::Session { sid, .. } if sid == "s-1"),
        "{published:?}"
    );
}

#[tokio::test]
async fn a_logout_another_process_recorded_is_a_replay_here_and_not_remembered_here() {
    let list = RevocationList::in_memory();
    let store = std::sync::Arc::new(FailingStore::default());
    list.set_backend(store.clone());
    // Another process recorded it.
    let id = format!("iss:{}:{A}:jti:j", A.len());
    store.recorded.lock().unwrap().insert(id);
    assert!(
        !list.record_logout(A, "j", now() + 60).await.unwrap(),
        "the store says: seen"
    );
    // The other process forgets it (its logout failed): the retry here is a first.
    store.recorded.lock().unwrap().clear();
    assert!(list.record_logout(A, "j", now() + 60).await.unwrap());
}

#[tokio::test]
async fn revoke_sends_the_entry_as_held_not_as_asked() {
    let list = RevocationList::in_memory();
    let store = std::sync::Arc::new(FailingStore::default());
    list.set_backend(store.clone());
    let t = now();
    let user = |issued_before| Revocation::User {
        sub: "42".into(),
        iss: Some(A.into()),
        issued_before,
        until: t + 60,
    };
    let _ = list.revoke(user(t)).await;
    let _ = list.revoke(user(t - 100)).await;
    let published = store.published.lock().unwrap().clone();
    match &published[1] {
        Revocation::User { issued_before, .. } => assert_eq!(*issued_before, t, "the stronger one"),
        other => panic!("{other:?}"),
    }
    // An expired one is not sent at all (its past expiry would delete the stored key).
    let _ = list
        .revoke(Revocation::Token {
            jti: "j".into(),
            until: t - 10,
        })
        .await;
    assert_eq!(store.published.lock().unwrap().len(), 2);
}
