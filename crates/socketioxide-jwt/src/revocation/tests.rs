use super::*;
use std::sync::atomic::AtomicUsize;

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
        Box::new(move |e| {
            assert_eq!(e.code(), crate::ErrorCode::Revoked);
            k.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let k = kicked.clone();
    let _bob = list.track(
        &claims("bob", "b1", now - 10),
        Box::new(move |_| {
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
