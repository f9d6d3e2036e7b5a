//! Where a connection's pushes go: the subscribers of each channel, whether the link is up, and
//! how many outages it has had.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use ::redis::{FromRedisValue, PushInfo, PushKind};
use socketioxide_redis::drivers::ChanItem;
use tokio::sync::{mpsc, watch};

use super::conn::PushHandler;

/// What the connections' push senders share with the driver.
pub(super) struct Inbox {
    /// Which connection may deliver messages: pushes of a replaced one are ignored.
    generation: AtomicU64,
    /// The last generation handed to a connection being made (it becomes the active one only
    /// if that connection is installed).
    issued: AtomicU64,
    /// The subscribers of each channel, oldest first: two adapters of one namespace path
    /// overlap when a dynamic namespace is re-created while the removed one still closes.
    subscribers: RwLock<HashMap<String, Vec<mpsc::Sender<ChanItem>>>>,
    up: AtomicBool,
    /// Called when a connection reports its loss (the driver starts its probe).
    on_lost: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Called with a channel Redis unsubscribed this connection from while it still has
    /// subscribers here (a Cluster moving the channel's hash slot to another shard).
    on_dropped: OnceLock<Box<dyn Fn(String) + Send + Sync>>,
    /// Counts the outages: whoever keeps state in Redis (the revocation list) reloads it after one.
    outages: watch::Sender<u64>,
}

impl Inbox {
    /// An inbox for a link that is up, with no subscriber.
    pub(super) fn new() -> Self {
        Self {
            generation: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            subscribers: RwLock::default(),
            up: AtomicBool::new(true),
            on_lost: OnceLock::new(),
            on_dropped: OnceLock::new(),
            outages: watch::Sender::new(0),
        }
    }

    /// What a connection's loss does (set once).
    pub(super) fn on_lost(&self, lost: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_lost.set(Box::new(lost));
    }

    /// What an unsolicited unsubscribe does (set once): the channel is subscribed again.
    pub(super) fn on_dropped(&self, dropped: impl Fn(String) + Send + Sync + 'static) {
        let _ = self.on_dropped.set(Box::new(dropped));
    }

    /// Whether `chan` has a subscriber here.
    pub(super) fn is_subscribed(&self, chan: &str) -> bool {
        self.subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(chan)
    }

    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    pub(super) fn mark_up(&self) {
        self.up.store(true, Ordering::Release);
    }

    /// Marks the link down; `true` if it was up (a new outage, counted).
    pub(super) fn mark_down(&self) -> bool {
        let was_up = self.up.swap(false, Ordering::AcqRel);
        if was_up {
            self.outages.send_modify(|n| *n += 1);
        }
        was_up
    }

    /// Changes once per outage.
    pub(super) fn outages(&self) -> watch::Receiver<u64> {
        self.outages.subscribe()
    }

    /// A generation for a connection about to be made: its pushes are delivered once it is
    /// [activated](Self::activate), not before (the current connection's are until then).
    pub(super) fn issue_generation(&self) -> u64 {
        self.issued.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Makes `generation` the one whose pushes are delivered, unless a later one already is
    /// (two rebuilds that overlap: the later connection wins). `true` if it is now active.
    pub(super) fn activate(&self, generation: u64) -> bool {
        self.generation.fetch_max(generation, Ordering::AcqRel) < generation
    }

    /// Adds a subscriber of `chan`.
    pub(super) fn subscribe(&self, chan: String, tx: mpsc::Sender<ChanItem>) {
        self.write().entry(chan).or_default().push(tx);
    }

    /// Ends one subscription to `chan`: the one whose receiver was dropped, or else the oldest
    /// (an adapter closing while its namespace's successor already subscribed). `true` when no
    /// subscriber is left (Redis must be told).
    pub(super) fn unsubscribe(&self, chan: &str) -> bool {
        let mut subscribers = self.write();
        let Some(list) = subscribers.get_mut(chan) else {
            return false;
        };
        let before = list.len();
        list.retain(|tx| !tx.is_closed());
        if list.len() == before && !list.is_empty() {
            list.remove(0);
        }
        if !list.is_empty() {
            return false;
        }
        subscribers.remove(chan);
        true
    }

    /// Every channel with a subscriber.
    pub(super) fn channels(&self) -> Vec<String> {
        self.subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Delivers a connection's pushes while `generation` is the current one: the pushes of a
    /// replaced connection are ignored.
    pub(super) fn pushes_to(self: &Arc<Self>, generation: u64) -> PushHandler {
        let inbox = self.clone();
        Arc::new(move |push: PushInfo| {
            if inbox.generation.load(Ordering::Acquire) == generation {
                inbox.dispatch(push);
            }
        })
    }

    fn dispatch(&self, push: PushInfo) {
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
                let subscribers = self.subscribers.read().unwrap_or_else(|e| e.into_inner());
                for tx in subscribers.get(&chan).into_iter().flatten() {
                    if let Err(e) = tx.try_send((chan.clone(), msg.clone())) {
                        tracing::warn!(error = %e, "Redis adapter channel full: message dropped");
                    }
                }
            }
            // On a Cluster, any node's (a replica's too): the probe then resubscribes, which
            // redis-rs does not do for a shard channel whose slot moved to a promoted replica.
            PushKind::Disconnection => {
                if let Some(lost) = self.on_lost.get() {
                    lost();
                }
            }
            // Ours are confirmations of a channel no longer listed here (it is removed before
            // Redis is told). One still listed was dropped by Redis: on a Cluster, its slot
            // moved to another shard (a reshard), which ends every subscription to it silently.
            PushKind::SUnsubscribe | PushKind::Unsubscribe => {
                let Some(Ok(chan)) = push.data.into_iter().next().map(String::from_redis_value)
                else {
                    return;
                };
                if self.is_subscribed(&chan) {
                    if let Some(dropped) = self.on_dropped.get() {
                        dropped(chan);
                    }
                }
            }
            _ => {}
        }
    }

    fn write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<mpsc::Sender<ChanItem>>>> {
        self.subscribers.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_delivers_only_once_installed_and_the_later_one_wins() {
        let inbox = Inbox::new();
        let (first, second) = (inbox.issue_generation(), inbox.issue_generation());
        // The first connection's pushes still deliver while the new ones are being made.
        assert_eq!(inbox.generation.load(Ordering::Acquire), 0);
        assert!(inbox.activate(second));
        assert!(
            !inbox.activate(first),
            "an older connection made later is not installed"
        );
        assert_eq!(inbox.generation.load(Ordering::Acquire), second);
    }

    #[test]
    fn an_unsubscribe_ends_the_dropped_subscriber_or_else_the_oldest() {
        let inbox = Inbox::new();
        let (old_tx, old_rx) = mpsc::channel(1);
        let (new_tx, _new_rx) = mpsc::channel(1);
        inbox.subscribe("c".into(), old_tx);
        inbox.subscribe("c".into(), new_tx);
        assert!(!inbox.unsubscribe("c"), "one subscriber is left");
        assert!(old_rx.is_closed(), "the oldest one went");
        assert!(inbox.unsubscribe("c"), "none left: Redis must be told");
        assert!(!inbox.unsubscribe("c"), "told once");
    }
}
