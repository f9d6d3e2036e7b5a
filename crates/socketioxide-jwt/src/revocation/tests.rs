use super::*;
use crate::keys::Keys;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn claims(sub: &str, jti: &str, iat: u64) -> RegisteredClaims {
    RegisteredClaims {
        sub: Some(sub.into()),
        exp: Some(unix_now() + 600),
        iat: Some(iat),
        jti: Some(jti.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn token_revocation_matches_jti_only() {
    let list = RevocationList::in_memory();
    let now = unix_now();
    list.revoke_token("t1", now + 60).await.unwrap();
    assert!(list.is_revoked(&claims("alice", "t1", now)));
    assert!(!list.is_revoked(&claims("alice", "t2", now)));
}

#[tokio::test]
async fn user_revocation_covers_tokens_issued_until_now() {
    let list = RevocationList::in_memory();
    let now = unix_now();
    list.revoke_user("alice").await.unwrap();
    assert!(list.is_revoked(&claims("alice", "a", now - 100)));
    assert!(
        list.is_revoked(&claims("alice", "b", now)),
        "same second: revoked"
    );
    assert!(
        !list.is_revoked(&claims("alice", "c", now + 2)),
        "issued later: valid"
    );
    assert!(!list.is_revoked(&claims("bob", "d", now - 100)));
    let mut no_iat = claims("alice", "e", 0);
    no_iat.iat = None;
    assert!(list.is_revoked(&no_iat));
}

#[tokio::test]
async fn expired_entries_are_forgotten() {
    let list = RevocationList::in_memory();
    list.apply(Revocation::Token {
        jti: "old".into(),
        until: unix_now() - 1,
    });
    assert!(list.is_empty());
}

#[tokio::test]
async fn matching_live_sockets_are_kicked_and_tickets_untrack() {
    let list = RevocationList::in_memory();
    let kicked = Arc::new(AtomicUsize::new(0));
    let now = unix_now();
    let k = kicked.clone();
    let alice = list.track(
        &claims("alice", "a1", now - 10),
        Box::new(move |e: &ToSocket<'_>| {
            assert!(matches!(e, ToSocket::Revoked));
            k.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let k = kicked.clone();
    let _bob = list.track(
        &claims("bob", "b1", now - 10),
        Box::new(move |_: &ToSocket<'_>| {
            k.fetch_add(100, Ordering::SeqCst);
        }),
    );
    assert_eq!(list.tracked_sockets(), 2);
    list.revoke_user("alice").await.unwrap();
    assert_eq!(kicked.load(Ordering::SeqCst), 1);
    drop(alice);
    assert_eq!(list.tracked_sockets(), 1);
    list.revoke_token("b1", now + 60).await.unwrap();
    assert_eq!(kicked.load(Ordering::SeqCst), 101);
}

fn of_issuer(iss: &str, sub: &str, sid: Option<&str>, iat: u64) -> RegisteredClaims {
    let mut claims = claims(sub, &format!("{iss}-{sub}-{iat}"), iat);
    claims.iss = Some(iss.into());
    claims.sid = sid.map(String::from);
    claims
}

#[tokio::test]
async fn a_user_of_one_issuer_is_not_the_same_sub_at_another() {
    let list = RevocationList::in_memory();
    let now = unix_now();
    let kicked = Arc::new(AtomicUsize::new(0));
    let counter = |k: &Arc<AtomicUsize>| {
        let k = k.clone();
        Box::new(move |_: &ToSocket<'_>| {
            k.fetch_add(1, Ordering::SeqCst);
        }) as LiveFn
    };
    let a = of_issuer("https://a", "42", None, now - 5);
    let b = of_issuer("https://b", "42", None, now - 5);
    let _ta = list.track(&a, counter(&kicked));
    let kicked_b = Arc::new(AtomicUsize::new(0));
    let _tb = list.track(&b, counter(&kicked_b));
    list.revoke_user_of("https://a", "42").await.unwrap();
    assert!(list.is_revoked(&a));
    assert!(!list.is_revoked(&b));
    assert_eq!(
        (
            kicked.load(Ordering::SeqCst),
            kicked_b.load(Ordering::SeqCst)
        ),
        (1, 0)
    );
    // A sub-only revocation (stored before issuers could be several) covers every issuer.
    list.revoke_user("42").await.unwrap();
    assert!(list.is_revoked(&b));
    assert_eq!(kicked_b.load(Ordering::SeqCst), 1);
    assert_eq!(list.counts().users, 2);
}

#[tokio::test]
async fn a_session_revocation_covers_every_token_of_that_login_even_later_ones() {
    let list = RevocationList::in_memory();
    let now = unix_now();
    let kicked = Arc::new(AtomicUsize::new(0));
    let k = kicked.clone();
    let old = of_issuer("https://a", "alice", Some("s1"), now - 100);
    let _t = list.track(
        &old,
        Box::new(move |_: &ToSocket<'_>| {
            k.fetch_add(1, Ordering::SeqCst);
        }),
    );
    list.revoke_session_of("https://a", "s1").await.unwrap();
    assert_eq!(kicked.load(Ordering::SeqCst), 1);
    assert!(list.is_revoked(&old));
    assert!(
        list.is_revoked(&of_issuer("https://a", "alice", Some("s1"), now + 50)),
        "refreshed later: same session"
    );
    assert!(
        !list.is_revoked(&of_issuer("https://a", "alice", Some("s2"), now - 100)),
        "another login"
    );
    assert!(
        !list.is_revoked(&of_issuer("https://b", "alice", Some("s1"), now)),
        "another issuer's s1"
    );
    assert!(!list.is_revoked(&claims("alice", "x", now)), "no sid");
    assert_eq!(list.counts().sessions, 1);
}

#[test]
fn revocations_stored_before_issuers_keep_their_meaning() {
    let old: Revocation =
        serde_json::from_str(r#"{"kind":"user","sub":"42","issued_before":5,"until":9}"#).unwrap();
    assert_eq!(
        old,
        Revocation::User {
            sub: "42".into(),
            iss: None,
            issued_before: 5,
            until: 9
        }
    );
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"kind":"user","sub":"42","issued_before":5,"until":9}"#,
        "written as before when no issuer is named"
    );
}

#[tokio::test]
async fn a_refresh_request_reaches_the_users_sockets_and_every_socket_for_a_room_or_all() {
    let list = RevocationList::in_memory();
    let now = unix_now();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = |name: &'static str| {
        let seen = seen.clone();
        Box::new(move |to: &ToSocket<'_>| {
            let what = match to {
                ToSocket::Revoked => "revoked".to_owned(),
                ToSocket::RefreshNow { room, .. } => format!("{name}:{room:?}"),
            };
            seen.lock().unwrap().push(what);
        }) as LiveFn
    };
    let _a = list.track(&of_issuer("https://a", "42", None, now), record("a42"));
    let _b = list.track(&of_issuer("https://b", "42", None, now), record("b42"));
    let _c = list.track(&claims("7", "x", now), record("7"));
    let take = || std::mem::take(&mut *seen.lock().unwrap());
    list.request_refresh(RefreshTarget::user_of("https://a", "42"))
        .await
        .unwrap();
    assert_eq!(take(), ["a42:None"]);
    list.request_refresh(RefreshTarget::user("42"))
        .await
        .unwrap();
    let mut both = take();
    both.sort();
    assert_eq!(both, ["a42:None", "b42:None"]);
    list.request_refresh(RefreshTarget::room("/", "blue"))
        .await
        .unwrap();
    let mut all = take();
    all.sort();
    assert_eq!(
        all,
        [
            r#"7:Some(("/", "blue"))"#,
            r#"a42:Some(("/", "blue"))"#,
            r#"b42:Some(("/", "blue"))"#
        ],
        "each socket checks its rooms"
    );
    list.request_refresh(RefreshTarget::All).await.unwrap();
    assert_eq!(take().len(), 3);
    assert!(list.is_empty(), "nothing stored");
}

#[tokio::test]
async fn a_refresh_request_makes_older_tokens_stale_for_new_sockets() {
    let list = RevocationList::in_memory();
    let now = unix_now();
    let a = |iat| of_issuer("https://a", "42", None, iat);
    list.request_refresh(RefreshTarget::user_of("https://a", "42"))
        .await
        .unwrap();
    assert!(list.is_stale(&a(now - 10)), "issued before the request");
    assert!(!list.is_stale(&a(now - 4)), "within the clock margin");
    assert!(!list.is_stale(&a(now)), "issued in its second: fresh");
    let of_b = of_issuer("https://b", "42", None, now - 10);
    assert!(!list.is_stale(&of_b), "another issuer's 42");
    let mut no_iat = a(0);
    no_iat.iat = None;
    assert!(!list.is_stale(&no_iat), "cannot tell");
    assert!(!list.is_revoked(&a(now - 10)), "stale is not revoked");
    let room = RefreshTarget::room("/", "r");
    list.request_refresh(room).await.unwrap();
    let other = claims("7", "x", now - 10);
    assert!(!list.is_stale(&other), "a room's request marks nothing");
    list.request_refresh(RefreshTarget::All).await.unwrap();
    assert!(list.is_stale(&other));
    // A request from a process whose clock runs an hour ahead counts from now here.
    let list = RevocationList::in_memory();
    let ahead = RefreshRequest {
        refresh: RefreshTarget::All,
        from: 0,
        since: unix_now() + 3600,
    };
    list.apply_refresh(&ahead);
    assert!(
        !list.is_stale(&claims("7", "x", unix_now())),
        "a token issued now is fresh"
    );
}

#[tokio::test]
async fn a_process_skips_its_own_refresh_request_heard_back_and_applies_the_others() {
    let list = RevocationList::in_memory();
    let other = RevocationList::in_memory();
    let asked = Arc::new(AtomicUsize::new(0));
    let a = asked.clone();
    let _t = list.track(
        &claims("alice", "x", unix_now()),
        Box::new(move |_: &ToSocket<'_>| {
            a.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let request = |from| RefreshRequest {
        refresh: RefreshTarget::user("alice"),
        from,
        since: unix_now(),
    };
    assert!(!list.hear_refresh(&request(list.inner.id)), "its own echo");
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert!(list.hear_refresh(&request(other.inner.id)));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_revocation_lasts_through_the_leeway_of_the_configurations_using_the_list() {
    let list = RevocationList::in_memory();
    let _auth = crate::JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
        .leeway(Duration::from_millis(30_500))
        .revocations(list.clone())
        .build()
        .unwrap();
    let now = unix_now();
    // Expired 20 s ago: accepted for 11 s more with a 30.5 s leeway (rounded up to 31 s).
    list.revoke_token("late", now - 20).await.unwrap();
    let mut token = claims("alice", "late", now - 100);
    token.exp = Some(now - 20);
    assert!(list.is_revoked(&token), "kept through the leeway");
    assert_eq!(list.counts().tokens, 1);
}

#[test]
fn from_json_reads_whatever_deserialize_reads() {
    let accepted_by_serde: [&[u8]; 4] = [
        br#"["token","a",1]"#,
        br#"{"kind":"token","jti":"a","until":1,"sub":5}"#,
        br#"{"kind":"session","sid":"s","until":1,"issued_before":"x"}"#,
        br#"{"kind":"user","sub":"a","issued_before":1,"until":2,"jti":"x","jti":"y"}"#,
    ];
    for json in accepted_by_serde {
        let serde: Revocation = serde_json::from_slice(json).expect("serde reads it");
        assert_eq!(
            Revocation::from_json(json),
            Some(serde),
            "{}",
            String::from_utf8_lossy(json)
        );
    }
    for refused in [
        &br#"{"kind":"token","until":1}"#[..],
        br#"{"kind":"Token","jti":"a","until":1}"#,
        br#"{"kind":"token","jti":"a","until":1.5}"#,
        br#"{"kind":"token","jti":"a","until":-1}"#,
        br#"{"kind":"token","jti":"a","until":18446744073709551616}"#,
    ] {
        assert!(serde_json::from_slice::<Revocation>(refused).is_err());
        assert_eq!(Revocation::from_json(refused), None);
    }
}
