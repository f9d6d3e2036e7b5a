//! The Redis driver against a real, throwaway `redis-server`: two subscribers of one channel
//! (a dynamic namespace re-created while its predecessor's adapter still closes) each keep
//! their own subscription.

use std::time::Duration;

use futures_util::StreamExt;
use socketioxide_jwt_redis::{RedisConnection, RedisDriver};
use socketioxide_redis::drivers::Driver;

mod common;
use common::redis_server;

async fn next(
    stream: &mut (impl futures_util::Stream<Item = (String, Vec<u8>)> + Unpin),
) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a message within 5 s")
        .expect("the stream is open")
        .1
}

#[tokio::test]
async fn the_older_of_two_subscribers_unsubscribing_leaves_the_newer_one_subscribed() {
    let server = redis_server().await;
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let driver = RedisDriver::connect(&RedisConnection::new(url), Default::default())
        .await
        .expect("connected");
    let chan = "socket.io-request#/tenant/1#".to_owned();
    let mut older = driver
        .subscribe(chan.clone(), 16)
        .await
        .expect("subscribed");
    let mut newer = driver
        .subscribe(chan.clone(), 16)
        .await
        .expect("subscribed");

    driver
        .publish(chan.clone(), b"both".to_vec())
        .await
        .expect("published");
    assert_eq!(next(&mut older).await, b"both");
    assert_eq!(next(&mut newer).await, b"both");

    // The older adapter closes while its stream is still alive.
    driver
        .unsubscribe(chan.clone())
        .await
        .expect("unsubscribed");
    driver
        .publish(chan.clone(), b"after".to_vec())
        .await
        .expect("published");
    assert_eq!(
        next(&mut newer).await,
        b"after",
        "the newer subscriber still hears the channel"
    );
    assert_eq!(
        driver.num_serv(&chan).await.expect("counted"),
        1,
        "still subscribed at Redis"
    );

    // The last one leaves: Redis is told.
    drop(older);
    driver
        .unsubscribe(chan.clone())
        .await
        .expect("unsubscribed");
    assert_eq!(
        driver.num_serv(&chan).await.expect("counted"),
        0,
        "unsubscribed at Redis"
    );
}
