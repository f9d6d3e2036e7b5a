//! Keeping a process's list in step with the store: what other processes publish, the
//! snapshot loaded at start, and the recovery after an outage (queued revocations sent, the
//! list reloaded).

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{unavailable, RedisRevocationOptions, SendFailure, Store, MAX_REJECTIONS};
use crate::cluster::RedisDriver;
use crate::revocation::{RefreshRequest, Revocation, RevocationError, RevocationList};

/// Reads every stored revocation into the list.
pub(super) async fn load_snapshot(
    driver: &RedisDriver,
    options: &RedisRevocationOptions,
    list: &RevocationList,
) -> Result<usize, RevocationError> {
    let pattern = format!("{}*", options.key_prefix);
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0u64;
    loop {
        let mut scan = ::redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000);
        // On a Cluster, on the shard that holds the prefix's hash slot.
        let (next, batch): (u64, Vec<String>) = driver
            .query_on_shard_of(&options.key_prefix, &scan)
            .await
            .map_err(unavailable)?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let mut loaded = 0;
    for chunk in keys.chunks(1000) {
        let mut mget = ::redis::cmd("MGET");
        mget.arg(chunk);
        let values: Vec<Option<String>> = driver.query(&mget).await.map_err(unavailable)?;
        for value in values.into_iter().flatten() {
            if let Ok(revocation) = serde_json::from_str::<Revocation>(&value) {
                list.apply(revocation);
                loaded += 1;
            }
        }
    }
    Ok(loaded)
}

/// Applies what other processes publish; after an outage (messages may have been missed),
/// recovers: sends what was queued, reloads the list.
pub(super) async fn listen(
    store: Weak<Store>,
    mut messages: mpsc::Receiver<(String, Vec<u8>)>,
    mut outages: tokio::sync::watch::Receiver<u64>,
) {
    loop {
        let message = tokio::select! {
            message = messages.recv() => match message {
                Some((_, payload)) => Some(payload),
                None => return,
            },
            changed = outages.changed() => match changed {
                Ok(()) => None,
                Err(_) => return,
            },
        };
        let Some(store) = store.upgrade() else {
            return;
        };
        let Some(payload) = message else {
            store.recover();
            continue;
        };
        let Some(inner) = store.list.upgrade() else {
            return;
        };
        let list = RevocationList { inner };
        if let Ok(revocation) = serde_json::from_slice::<Revocation>(&payload) {
            crate::metrics::revocation(revocation.kind_label(), "remote");
            list.apply(revocation);
        } else if let Ok(request) = serde_json::from_slice::<RefreshRequest>(&payload) {
            list.hear_refresh(&request);
        } else {
            tracing::warn!("ignored a malformed revocation message");
        }
    }
}

/// Retries until Redis answers: sends the revocations queued meanwhile (in order), then reloads
/// the list (revocations the other processes made meanwhile).
pub(super) async fn recover(store: Weak<Store>) {
    tracing::warn!(
        "revocation store unreachable: using the last known revocations until it is back"
    );
    let mut delay = Duration::from_millis(200);
    loop {
        tokio::time::sleep(delay).await;
        let Some(store) = store.upgrade() else {
            return;
        };
        let Some(inner) = store.list.upgrade() else {
            return;
        };
        let list = RevocationList { inner };
        match flush_and_reload(&store, &list).await {
            Ok((sent, loaded)) => {
                store.recovering.store(false, Ordering::SeqCst);
                // A revocation queued after the last flush and before the flag was cleared.
                if !store.lock_outbox().is_empty() {
                    store.recover();
                }
                tracing::info!(
                    sent,
                    loaded,
                    "revocation store reachable again: queued revocations sent, list reloaded"
                );
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "revocation store still unreachable");
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn flush_and_reload(
    store: &Store,
    list: &RevocationList,
) -> Result<(usize, usize), RevocationError> {
    let mut sent = 0;
    loop {
        let Some(next) = store.lock_outbox().front().cloned() else {
            break;
        };
        match store.try_send(&next).await {
            Ok(()) => {
                store.front_rejections.store(0, Ordering::SeqCst);
                sent += 1;
            }
            Err(SendFailure::Rejected(e)) => {
                let rejections = store.front_rejections.fetch_add(1, Ordering::SeqCst) + 1;
                if rejections < MAX_REJECTIONS {
                    return Err(unavailable(e));
                }
                // Refused every time: set it aside (it applies in this process already) so that
                // later revocations flow.
                store.front_rejections.store(0, Ordering::SeqCst);
                tracing::error!(kind = next.kind_label(), error = %e, "Redis refuses this revocation: set aside, the ones queued after it go on");
                crate::metrics::revocation(next.kind_label(), "set_aside");
            }
            Err(SendFailure::Unreachable(e)) => return Err(e),
        }
        store.lock_outbox().pop_front();
    }
    let loaded = load_snapshot(&store.driver, &store.options, list).await?;
    Ok((sent, loaded))
}
