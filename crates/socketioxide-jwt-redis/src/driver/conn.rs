//! What the driver talks over: one Redis server (given, or the master the Sentinels name) through
//! a reconnecting `ConnectionManager`, or a Redis Cluster through redis-rs's cluster connection;
//! and the commands whose names differ between the two (sharded pub/sub on a Cluster).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, Pipeline, PushInfo, RedisError, RedisFuture, Value};

use super::{RedisConnection, RedisDriverError, RedisDriverOptions};

/// Where the driver finds its Redis.
pub(super) enum Source {
    /// One server at a fixed address.
    Fixed(::redis::Client),
    /// The master the Sentinels name now.
    Sentinel(tokio::sync::Mutex<::redis::sentinel::SentinelClient>),
    /// A Redis Cluster, from its seed nodes.
    Cluster(RedisConnection),
}

/// Receives every push (pub/sub messages, disconnections) of one connection.
pub(super) type PushHandler = Arc<dyn Fn(PushInfo) + Send + Sync>;

impl Source {
    /// A connection to the Redis to use now, its pushes going to `on_push`. With `check`, a
    /// plain connection is tried first for one server: its error says what is wrong (a refused
    /// password, a TLS handshake), where the reconnecting manager would only time out.
    pub(super) async fn connect(
        &self,
        options: &RedisDriverOptions,
        on_push: PushHandler,
        check: bool,
    ) -> Result<Conn, RedisDriverError> {
        let client = match self {
            Source::Fixed(client) => client.clone(),
            Source::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await?,
            Source::Cluster(redis) => {
                let client = redis
                    .cluster_builder()?
                    .push_sender(move |push: PushInfo| {
                        on_push(push);
                        Ok::<(), Infallible>(())
                    })
                    .connection_timeout(options.operation_timeout)
                    .response_timeout(options.operation_timeout)
                    .build()?;
                return Ok(Conn::Cluster(client.get_async_connection().await?));
            }
        };
        if check {
            let mut conn = client.get_multiplexed_async_connection().await?;
            ::redis::cmd("PING").query_async::<()>(&mut conn).await?;
        }
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |push: PushInfo| {
                on_push(push);
                Ok::<(), Infallible>(())
            })
            .set_automatic_resubscription()
            .set_connection_timeout(Some(options.operation_timeout))
            .set_response_timeout(Some(options.operation_timeout))
            .set_max_delay(Duration::from_secs(1));
        // Refused unless the URL asks for RESP3 (`?protocol=resp3`): pub/sub needs it here.
        Ok(Conn::Single(ConnectionManager::new_lazy_with_config(
            client, config,
        )?))
    }

    /// Whether a rebuild asks someone where Redis is now (the Sentinels), rather than
    /// reconnecting to the same place.
    pub(super) fn follows_failovers(&self) -> bool {
        matches!(self, Source::Sentinel(_))
    }

    /// Whether the server answering may stop being the master without the connection knowing
    /// (behind Sentinel; a Cluster connection follows its topology itself).
    pub(super) fn may_be_demoted(&self) -> bool {
        matches!(self, Source::Sentinel(_))
    }
}

/// A connection to one server or to a Cluster: commands, scripts and pipelines run on either
/// (a Cluster routes each by its key's slot); pub/sub is sharded on a Cluster.
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Subscribes to `channels` (`SSUBSCRIBE` on a Cluster, one command per channel: channels of
    /// different slots live on different shards, and one command for several is `CROSSSLOT`).
    pub(super) async fn subscribe(&mut self, channels: &[String]) -> Result<(), RedisError> {
        match self {
            Conn::Single(conn) => conn.subscribe(channels).await,
            Conn::Cluster(conn) => {
                for channel in channels {
                    conn.ssubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }

    /// Unsubscribes from `channel` (`SUNSUBSCRIBE` on a Cluster).
    pub(super) async fn unsubscribe(&mut self, channel: &str) -> Result<(), RedisError> {
        match self {
            Conn::Single(conn) => conn.unsubscribe(channel).await,
            Conn::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }

    /// Runs `cmd` on the shard that holds `key`'s hash slot (a Cluster), or on the one server.
    /// For commands without a key that must reach one shard (`SCAN`).
    pub(super) async fn query_on_shard_of<T: ::redis::FromRedisValue>(
        &mut self,
        key: &str,
        cmd: &Cmd,
    ) -> Result<T, RedisError> {
        match self {
            Conn::Single(conn) => cmd.query_async(conn).await,
            Conn::Cluster(conn) => {
                use ::redis::cluster_routing::{
                    Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
                };
                let route = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let reply = conn.route_command(cmd.clone(), routing).await?;
                Ok(T::from_redis_value(reply)?)
            }
        }
    }
}

/// The publish command: `SPUBLISH` on a Cluster, where a channel belongs to its slot's shard.
pub(crate) fn publish_command(cluster: bool) -> &'static str {
    if cluster {
        "SPUBLISH"
    } else {
        "PUBLISH"
    }
}

/// `prefix` with a hash tag (`{prefix}`), so that every key it starts lands in one Cluster hash
/// slot; unchanged when it has one already (`app:{revoked}:`).
pub(crate) fn hash_tagged(prefix: &str) -> String {
    let tagged = prefix
        .find('{')
        .is_some_and(|open| prefix[open + 1..].find('}').is_some_and(|len| len > 0));
    if tagged {
        prefix.to_owned()
    } else if prefix.is_empty() || prefix.starts_with('}') {
        // `{prefix}` would be an empty tag (`{}`), which Redis ignores.
        format!("{{socketioxide-jwt}}{prefix}")
    } else {
        format!("{{{prefix}}}")
    }
}

/// How many subscribers `PUBSUB NUMSUB` (or `SHARDNUMSUB`) counted for the one channel asked
/// about: a `[channel, count]` array from one server, a map once a Cluster combined its nodes'.
pub(super) fn subscriber_count(reply: Value) -> Option<u16> {
    let count = match reply {
        Value::Array(items) => items.into_iter().nth(1)?,
        Value::Map(pairs) => pairs.into_iter().next()?.1,
        _ => return None,
    };
    match count {
        Value::Int(n) => u16::try_from(n).ok(),
        _ => None,
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_gets_a_hash_tag_unless_it_has_one() {
        assert_eq!(
            hash_tagged("socketioxide-jwt:revoked:"),
            "{socketioxide-jwt:revoked:}"
        );
        assert_eq!(hash_tagged("app:{rev}:"), "app:{rev}:");
        // `{}` is no hash tag (Redis hashes the whole key then).
        assert_eq!(hash_tagged("app:{}:"), "{app:{}:}");
        assert_eq!(hash_tagged("app:{"), "{app:{}");
        assert_eq!(hash_tagged(""), "{socketioxide-jwt}");
        assert_eq!(hash_tagged("}x"), "{socketioxide-jwt}}x");
    }

    #[test]
    fn subscriber_counts_from_one_server_and_from_a_cluster() {
        let one = Value::Array(vec![Value::BulkString(b"chan".to_vec()), Value::Int(3)]);
        assert_eq!(subscriber_count(one), Some(3));
        let combined = Value::Map(vec![(Value::BulkString(b"chan".to_vec()), Value::Int(2))]);
        assert_eq!(subscriber_count(combined), Some(2));
        assert_eq!(subscriber_count(Value::Nil), None);
        assert_eq!(
            subscriber_count(Value::Array(vec![Value::Int(1), Value::Int(-1)])),
            None
        );
    }
}
