//! The revocation list's Redis store against a real, throwaway `redis-server`: the stored
//! entry is merged, never weakened, by a process that had not heard a stronger revocation; a
//! burst reaches every process; a load is linear; what the store lost is sent again; a process
//! that fell behind the log reloads.

use std::time::Duration;

use futures_util::StreamExt;
use socketioxide_jwt::claims::RegisteredClaims;
use socketioxide_jwt::revocation::Revocation;
use socketioxide_jwt::RevocationList;
use socketioxide_jwt_redis::RedisRevocationOptions;
use socketioxide_jwt_redis::{RedisConnection, RedisDriver};
use tokio::time::Instant;

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
    driver
        .revocation_list(RedisRevocationOptions::default().stream(channel))
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

/// A plain connection, to look at or change what the library stored.
async fn raw(port: u16) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("a redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("redis reachable")
}

/// The hash the library stores `field` in (FNV-1a 64 modulo 16, with the default prefix).
fn stored_in(field: &str) -> String {
    let hash = field.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("socketioxide-jwt:revoked:all:{}", hash % 16)
}

/// A list of one deployment (the default log), polling every 20 ms.
async fn member(port: u16) -> RevocationList {
    let url = format!("redis://127.0.0.1:{port}/?protocol=resp3");
    let driver = RedisDriver::connect(&RedisConnection::new(url), Default::default())
        .await
        .expect("redis reachable");
    let options = RedisRevocationOptions::default().poll_interval(Duration::from_millis(20));
    driver
        .revocation_list(options)
        .await
        .expect("the list loads")
}

/// Waits (bounded) until `done` holds.
async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn session(sid: String, until: u64) -> Revocation {
    Revocation::Session {
        sid,
        iss: None,
        until,
    }
}

/// Case 4 of issue 33: a burst of revocations outran a receiver's 4 096-message inbox, which
/// dropped the rest for good. The log has no inbox: every receiver reads all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_revocations_reaches_every_process_none_lost() {
    const BURST: usize = 100_000;
    let server = redis_server().await;
    let [origin, b, c] = [
        member(server.port).await,
        member(server.port).await,
        member(server.port).await,
    ];
    let until_t = now() + 3600;
    let started = Instant::now();
    let mut sent = futures_util::stream::iter((0..BURST).map(|i| {
        let origin = origin.clone();
        async move { origin.revoke(session(format!("burst-{i}"), until_t)).await }
    }))
    .buffer_unordered(256);
    while let Some(result) = sent.next().await {
        result.expect("stored and appended");
    }
    let sent_in = started.elapsed();
    for list in [&b, &c] {
        until(
            "every revocation of the burst",
            Duration::from_secs(60),
            || list.counts().sessions == BURST,
        )
        .await;
    }
    eprintln!(
        "{BURST} revocations: sent in {sent_in:?}, applied everywhere after {:?}",
        started.elapsed()
    );
    let mut last = RegisteredClaims::for_sub("x");
    last.sid = Some(format!("burst-{}", BURST - 1));
    assert!(b.is_revoked(&last) && c.is_revoked(&last));
}

/// Case 3 of issue 33: loading N stored revocations applied them one by one, each scanning
/// every map: 160 000 took 46 s. Now one pass, then one swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_stored_revocations_is_linear() {
    const STORED: usize = 200_000;
    let server = redis_server().await;
    let mut conn = raw(server.port).await;
    let until_t = now() + 3600;
    for chunk in (0..STORED).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = ::redis::pipe();
        for i in chunk {
            let json = serde_json::to_string(&session(format!("stored-{i}"), until_t))
                .expect("serialises");
            let field = format!("sid:stored-{i}");
            pipe.cmd("HSET")
                .arg(stored_in(&field))
                .arg(field)
                .arg(json)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await.expect("stored");
    }
    let started = Instant::now();
    let list = member(server.port).await;
    let took = started.elapsed();
    eprintln!("{STORED} stored revocations loaded in {took:?}");
    assert_eq!(list.counts().sessions, STORED);
    // The quadratic load took minutes for this many (a debug build is slower still).
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// A history that went back (a failover to a replica that had not received the last writes,
/// or a restart without persistence): every process notices, and the revocations the store
/// lost are sent again by the processes that hold them, so a process that starts later has them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_the_store_lost_are_sent_again_by_the_processes_that_hold_them() {
    let server = redis_server().await;
    let [a, b] = [member(server.port).await, member(server.port).await];
    a.revoke(session("lost-1".into(), now() + 3600))
        .await
        .expect("stored");
    until("b to hear it", Duration::from_secs(5), || {
        b.counts().sessions == 1
    })
    .await;
    // The store forgets everything, as a new master without the last writes would.
    let mut conn = raw(server.port).await;
    ::redis::cmd("FLUSHALL")
        .query_async::<()>(&mut conn)
        .await
        .expect("flushed");
    // The log went back: the processes reload and send again what they hold.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let exists: bool = ::redis::cmd("HEXISTS")
            .arg(stored_in("sid:lost-1"))
            .arg("sid:lost-1")
            .query_async(&mut conn)
            .await
            .expect("answered");
        if exists {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lost revocation was not sent again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let late = member(server.port).await;
    let mut claims = RegisteredClaims::for_sub("x");
    claims.sid = Some("lost-1".into());
    assert!(late.is_revoked(&claims));
}

/// A process further behind than the log keeps (its messages trimmed before it read them)
/// reloads the whole set instead of skipping them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_fell_behind_the_log_reloads() {
    let server = redis_server().await;
    let url = format!("redis://127.0.0.1:{}/?protocol=resp3", server.port);
    let driver = |url: String| async move {
        RedisDriver::connect(&RedisConnection::new(url), Default::default())
            .await
            .expect("redis reachable")
    };
    // A slow reader (polls every 2 s) and a writer whose log keeps a message 1 ms.
    let slow = driver(url.clone())
        .await
        .revocation_list(RedisRevocationOptions::default().poll_interval(Duration::from_secs(2)))
        .await
        .expect("loads");
    let writer = driver(url)
        .await
        .revocation_list(RedisRevocationOptions::default().log_retention(Duration::from_millis(1)))
        .await
        .expect("loads");
    for i in 0..300 {
        writer
            .revoke(session(format!("trimmed-{i}"), now() + 3600))
            .await
            .expect("stored");
    }
    let mut conn = raw(server.port).await;
    let kept: usize = ::redis::cmd("XLEN")
        .arg("socketioxide-jwt:revoked:log")
        .query_async(&mut conn)
        .await
        .expect("answered");
    assert!(
        kept < 300,
        "the log was trimmed before the slow reader read it ({kept} kept)"
    );
    until("the slow reader to reload", Duration::from_secs(10), || {
        slow.counts().sessions == 300
    })
    .await;
}

/// The writers sweep the hashes: an expired revocation does not stay in Redis for good.
#[tokio::test]
async fn writes_sweep_expired_revocations_from_the_store() {
    let server = redis_server().await;
    let list = member(server.port).await;
    let mut conn = raw(server.port).await;
    let hash = stored_in("sid:old");
    let expired = serde_json::to_string(&session("old".into(), now() - 10)).expect("serialises");
    ::redis::cmd("HSET")
        .arg(&hash)
        .arg("sid:old")
        .arg(expired)
        .query_async::<()>(&mut conn)
        .await
        .expect("stored");
    // A revocation stored in the same hash: its write looks at a few fields, the old one among
    // them (a small hash is read whole).
    let same_hash = (0..)
        .map(|i| format!("new-{i}"))
        .find(|sid| stored_in(&format!("sid:{sid}")) == hash)
        .expect("some sid lands there");
    list.revoke(session(same_hash, now() + 3600))
        .await
        .expect("stored");
    let left: bool = ::redis::cmd("HEXISTS")
        .arg(&hash)
        .arg("sid:old")
        .query_async(&mut conn)
        .await
        .expect("answered");
    assert!(!left, "the expired revocation was swept");
    assert_eq!(list.counts().sessions, 1);
}
