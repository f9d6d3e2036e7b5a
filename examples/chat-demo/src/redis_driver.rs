//! A socketioxide-redis driver that survives a Redis restart.
//!
//! socketioxide-redis 0.4's own driver keeps one multiplexed connection: once Redis restarts,
//! publishing fails and its subscriptions are gone for good, so instances stop hearing each other
//! until they restart. This driver uses redis' `ConnectionManager`, which reconnects and
//! resubscribes by itself.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, FromRedisValue, PushInfo, PushKind, RedisResult};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// The driver; clones share the connection and the handlers.
#[derive(Clone)]
pub struct ReconnectingDriver {
    handlers: Handlers,
    conn: ConnectionManager,
}

impl ReconnectingDriver {
    pub async fn new(client: redis::Client) -> RedisResult<Self> {
        let handlers: Handlers = Arc::default();
        let dispatch = handlers.clone();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |push: PushInfo| {
                dispatch_message(push, &dispatch);
                Ok::<(), Infallible>(())
            })
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self { handlers, conn })
    }
}

fn dispatch_message(push: PushInfo, handlers: &Handlers) {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            let mut data = push.data.into_iter();
            let (Some(chan), Some(msg)) = (data.next(), data.next()) else {
                return;
            };
            let (Ok(chan), Ok(msg)) = (
                String::from_redis_value(chan),
                Vec::<u8>::from_redis_value(msg),
            ) else {
                return;
            };
            let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
            if let Some(tx) = handlers.get(&chan) {
                if let Err(e) = tx.try_send((chan, msg)) {
                    tracing::warn!(error = %e, "redis adapter channel full");
                }
            }
        }
        PushKind::Disconnection => tracing::warn!("redis adapter connection lost; reconnecting"),
        _ => {}
    }
}

/// The driver's error: redis' own.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DriverError(#[from] redis::RedisError);

impl Driver for ReconnectingDriver {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        self.conn
            .clone()
            .publish::<_, _, redis::Value>(chan, val)
            .await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        self.conn.clone().subscribe(chan.as_str()).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        self.conn.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(count)
    }
}
