//! Keeping the link alive: the heartbeat that finds a silent link, the probe that waits for
//! Redis to answer again (and resubscribes), and the rebuild that replaces a connection that
//! stays broken (asking the Sentinels again for the master).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ::redis::{FromRedisValue, RedisError};

use super::RedisDriver;

impl RedisDriver {
    /// PINGs the link while it is up; one that does not answer in time is half-open, or worse:
    /// replaced at once, and down until the probe hears the new one. Ends with the driver.
    pub(super) fn heartbeat(&self) {
        let link = Arc::downgrade(&self.link);
        let every = self.link.options.heartbeat_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(link) = link.upgrade() else { return };
                let driver = RedisDriver { link };
                if !driver.is_connected() {
                    continue; // the probe is on it
                }
                let mut conn = driver.conn();
                let ping = tokio::time::timeout(driver.link.options.operation_timeout, async {
                    ::redis::cmd("PING").query_async::<()>(&mut conn).await
                })
                .await;
                let answered = match ping {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => !is_link_failure(&e),
                    Err(_) => false,
                };
                if !answered && driver.is_connected() {
                    tracing::warn!("Redis did not answer the heartbeat: replacing the connection");
                    driver.rebuild().await;
                    driver.mark_down();
                } else if answered && driver.is_cluster() && !driver.resubscribe_in_order().await {
                    // Subscribed again at every beat: a reshard ends a shard channel's
                    // subscription with a push that may be missed, and nothing else tells.
                    tracing::debug!("could not confirm the shard channels' subscriptions");
                }
            }
        });
    }

    /// Marks the link down (once per outage, logged and counted) and starts the probe.
    pub(super) fn mark_down(&self) {
        if self.link.inbox.mark_down() {
            tracing::warn!("Redis unreachable: broadcasts stay on this server until it is back");
        }
        self.probe();
    }

    /// Starts the probe unless one runs: PING until Redis answers (replacing a connection that
    /// stays broken), subscribe to every channel again, then mark the link up.
    pub(super) fn probe(&self) {
        if self.link.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let link = Arc::downgrade(&self.link);
        let probe_interval = self.link.options.probe_interval;
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut rebuilt_at = started;
            loop {
                // Sleep before taking the driver: a dropped driver ends the probe.
                tokio::time::sleep(probe_interval).await;
                let Some(link) = link.upgrade() else { return };
                let driver = RedisDriver { link };
                let mut conn = driver.conn();
                let ping = tokio::time::timeout(driver.link.options.operation_timeout, async {
                    ::redis::cmd("PING").query_async::<()>(&mut conn).await
                })
                .await;
                let answered = matches!(ping, Ok(Ok(())));
                // Behind Sentinel the server must still be the master: a demoted one answers
                // PING and SUBSCRIBE too, and would keep this instance apart from the others.
                let master = !answered || driver.is_master().await;
                if !master {
                    tracing::warn!(
                        "the Redis server is no longer the master: asking the Sentinels"
                    );
                    driver.rebuild().await;
                    rebuilt_at = tokio::time::Instant::now();
                    continue;
                }
                if answered && driver.resubscribe().await {
                    driver.link.inbox.mark_up();
                    driver.link.probing.store(false, Ordering::Release);
                    tracing::info!(
                        down_ms = started.elapsed().as_millis() as u64,
                        "Redis reachable again: broadcasts cross servers again"
                    );
                    return;
                }
                // Behind Sentinel, a failover names another master: ask again sooner.
                let rebuild_after = if driver.link.source.follows_failovers() {
                    driver
                        .link
                        .options
                        .rebuild_after
                        .min(Duration::from_secs(1))
                } else {
                    driver.link.options.rebuild_after
                };
                if rebuilt_at.elapsed() >= rebuild_after {
                    driver.rebuild().await;
                    rebuilt_at = tokio::time::Instant::now();
                }
            }
        });
    }

    /// Whether the connection's server is the master (always, without Sentinel).
    async fn is_master(&self) -> bool {
        if !self.link.source.may_be_demoted() {
            return true;
        }
        let mut conn = self.conn();
        let role = tokio::time::timeout(self.link.options.operation_timeout, async {
            ::redis::cmd("ROLE")
                .query_async::<Vec<::redis::Value>>(&mut conn)
                .await
        })
        .await;
        match role {
            Ok(Ok(role)) => role
                .into_iter()
                .next()
                .and_then(|first| String::from_redis_value(first).ok())
                .is_some_and(|first| first == "master"),
            _ => false,
        }
    }

    /// [`resubscribe`](Self::resubscribe), ordered with the listeners' own (un)subscriptions.
    async fn resubscribe_in_order(&self) -> bool {
        let _order = self.link.subscribing.lock().await;
        self.resubscribe().await
    }

    /// Subscribes the current connection to every channel (again: Redis ignores a repeated
    /// subscription). A reconnection resubscribes by itself, a replaced connection does not.
    async fn resubscribe(&self) -> bool {
        let channels = self.link.inbox.channels();
        if channels.is_empty() {
            return true;
        }
        let mut conn = self.conn();
        // On a Cluster one SSUBSCRIBE per channel, one after the other (concurrent ones on one
        // node connection lost their confirmations): the operation timeout for each.
        let per_command = if self.is_cluster() { channels.len() } else { 1 };
        let budget = self
            .link
            .options
            .operation_timeout
            .saturating_mul(u32::try_from(per_command).unwrap_or(u32::MAX));
        let subscribed = tokio::time::timeout(budget, conn.subscribe(&channels)).await;
        matches!(subscribed, Ok(Ok(())))
    }

    /// Subscribes to `chan` again after Redis dropped it (see [`Inbox`](super::inbox)), retrying
    /// until it holds or nobody listens any more; the heartbeat does the same for every channel.
    pub(super) async fn restore_subscription(self, chan: String) {
        tracing::warn!(channel = %chan, "Redis ended a subscription (a reshard?): subscribing again");
        let mut delay = Duration::from_millis(50);
        for _ in 0..20 {
            {
                let _order = self.link.subscribing.lock().await;
                if !self.link.inbox.is_subscribed(&chan) {
                    return;
                }
                let mut conn = self.conn();
                let channel = [chan.clone()];
                let subscribed = tokio::time::timeout(
                    self.link.options.operation_timeout,
                    conn.subscribe(&channel),
                )
                .await;
                if matches!(subscribed, Ok(Ok(()))) {
                    return tracing::info!(channel = %chan, "subscribed again");
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
        tracing::warn!(channel = %chan, "could not subscribe again: the heartbeat keeps trying");
    }

    /// Replaces the connection with a new one (it connects, and is subscribed, once Redis
    /// answers the probe); with Sentinel, to the master they name now.
    pub(super) async fn rebuild(&self) {
        // The generation moves only when the new connection is installed: until then the
        // current one (which may still work, and is what the probe tries) keeps delivering.
        let generation = self.link.inbox.issue_generation();
        let on_push = self.link.inbox.pushes_to(generation);
        let connecting = self.link.source.connect(&self.link.options, on_push, false);
        let fresh = match tokio::time::timeout(self.link.options.operation_timeout, connecting)
            .await
        {
            Ok(Ok(fresh)) => fresh,
            Ok(Err(e)) => {
                return tracing::warn!(error = %e, "could not make a new Redis connection")
            }
            Err(_) => return tracing::warn!("could not make a new Redis connection: timed out"),
        };
        let mut conn = self.link.conn.write().unwrap_or_else(|e| e.into_inner());
        if self.link.inbox.activate(generation) {
            *conn = fresh;
            tracing::debug!(generation, "Redis connection replaced");
        }
    }
}

/// Whether an error says the connection failed, rather than Redis answering with an error
/// reply (which has a code: `NOPERM`, `ERR`, ...). Anything else counts as a failed link, so
/// that operations fail fast while it is down; so do the replies of a server that is not (or
/// no longer) a master: after a failover the connection must go to the new one.
pub(super) fn is_link_failure(e: &RedisError) -> bool {
    matches!(e.code(), None | Some("READONLY" | "MASTERDOWN"))
}
