//! The revocation list's Redis store against a real, throwaway `redis-server`: the stored
//! entry is merged, never weakened, by a process that had not heard a stronger revocation.

use socketioxide_jwt::claims::RegisteredClaims;
use socketioxide_jwt::cluster::{RedisConnection, RedisDriver};
use socketioxide_jwt::revocation::{RedisRevocationOptions, Revocation};
use socketioxide_jwt::RevocationList;

mod common;
use common::redis_server;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// A list on its own log (it hears no other list) over the shared keys.
async fn list(port: u16, channel: &str) -> RevocationList {
    let url = format!("redis://127.0.0.1:{port}/?protocol=resp3");
    let driver = RedisDriver::connect(&RedisConnection::new(url), Default::default())
        .await
        .expect("redis reachable");
    RevocationList::redis(&driver, RedisRevocationOptions::default().stream(channel))
        .await
        .expect("the list loads")
}

fn token_of(iss: &str, iat: u64) -> RegisteredClaims {
    let mut claims = RegisteredClaims::for_sub("42");
    claims.iss = Some(iss.into());
    claims.iat = Some(iat);
    claims.exp = Some(now() + 600);
    claims
}

#[tokio::test]
async fn a_weaker_revocation_never_replaces_a_stronger_one_in_redis() {
    let server = redis_server().await;
    let t = now();
    // Two processes that do not hear each other (a lagging subscription, an outage).
    let unaware = list(server.port, "chan-a").await;
    let admin = list(server.port, "chan-b").await;
    let user = |issued_before| Revocation::User {
        sub: "42".into(),
        iss: Some("https://a".into()),
        issued_before,
        until: t + 3600,
    };
    admin.revoke(user(t)).await.expect("stored");
    // Later, the unaware process stores an older cut-off (a logout whose iat is older).
    unaware.revoke(user(t - 100)).await.expect("stored");
    // A process that starts now loads the stronger one.
    let fresh = list(server.port, "chan-c").await;
    assert!(
        fresh.is_revoked(&token_of("https://a", t - 50)),
        "the later cut-off was kept"
    );
    assert!(!fresh.is_revoked(&token_of("https://a", t + 5)));
    assert!(
        !fresh.is_revoked(&token_of("https://b", t - 50)),
        "another issuer's 42"
    );
    // A revocation already expired stores nothing, and deletes nothing.
    admin
        .revoke(Revocation::Token {
            jti: "j".into(),
            until: t + 3600,
        })
        .await
        .expect("stored");
    unaware
        .revoke(Revocation::Token {
            jti: "j".into(),
            until: t - 10,
        })
        .await
        .expect("nothing to send");
    let fresh = list(server.port, "chan-d").await;
    let mut with_jti = token_of("https://a", t + 5);
    with_jti.jti = Some("j".into());
    assert!(
        fresh.is_revoked(&with_jti),
        "the stored token revocation is still there"
    );
}
