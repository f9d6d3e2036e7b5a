//! One timer for every socket of a configuration: the sockets' deadlines (authentication timeout,
//! expiry warning, expiry) sit in one [`DelayQueue`] driven by one task, instead of a task, a
//! sleep and a channel per socket.
//!
//! Each socket owns a [`TimerSlot`]: what to run when its deadline passes (an [`Expire`], shared
//! with the queue) and, inside it, the key of its entry, if armed. Lock order: the queue, then an
//! entry's [`Armed`]. The driver clears an entry's key under the queue lock when it pops it, so a
//! key is never used after the queue freed it (keys are reused); it touches nothing else there.
//!
//! Deadlines come from signed claims (a token's `exp`), so they can lie anywhere in the future,
//! while [`DelayQueue`] panics on a deadline more than ~795 days (2^36 ms) past its own "now",
//! which moves only when one of its entries fires (moving or removing entries does not move it).
//! An entry is therefore queued at the earliest of its deadline, [`MAX_QUEUE_WAIT`] from now, and
//! [`MAX_SPAN`] past the last deadline that fired (`advanced_to`, a lower bound of the queue's
//! "now"): a later deadline fires early, finds nothing due (the state machine compares the real
//! deadline) and is queued again. The slot remembers the real deadline, so this never changes
//! what fires when. A queue left empty with `advanced_to` older than the horizon is replaced by a
//! fresh one before the next insert.
//!
//! The driver survives what it runs: a panic in one socket's `expire` is caught and logged, and
//! if the driver itself stops, the next armed deadline starts another.

use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::time::delay_queue::{DelayQueue, Key};

/// The key of an entry in the queue and its deadline, while armed.
pub(crate) type Armed = Mutex<Option<(Key, Instant)>>;

/// What a socket does when its deadline passes.
pub(crate) trait Expire: Send + Sync + 'static {
    /// The queue it is armed in (kept here, where a socket's entry already holds its
    /// configuration, rather than once more in every session's [`TimerSlot`]).
    fn deadlines(&self) -> &Arc<Deadlines>;
    /// Where the entry's key is kept (the driver clears it as it pops the entry).
    fn armed(&self) -> &Armed;
    /// Called by the driver, no lock held, after popping the entry.
    fn expire(self: Arc<Self>);
}

/// The furthest ahead an entry is queued (see the module doc): far below the queue's ~795-day
/// limit, and long enough that a far deadline costs one wake-up a day.
pub(crate) const MAX_QUEUE_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The furthest past the queue's last fired deadline an entry is queued: 700 days, below the
/// queue's limit of 2^36 ms (~795 days).
const MAX_SPAN: Duration = Duration::from_secs(700 * 24 * 3600);

/// Entries popped per pass of the driver before it runs them (bounds the time the queue is
/// locked in a storm of deadlines).
const MAX_PER_PASS: usize = 256;

/// The delay queue, and a lower bound of its own "now": its creation, or the latest deadline
/// that fired since.
struct Queue {
    entries: DelayQueue<Arc<dyn Expire>>,
    advanced_to: Instant,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            entries: DelayQueue::new(),
            advanced_to: Instant::now(),
        }
    }
}

impl Queue {
    /// Where `at` is queued (see the module doc).
    fn queued_at(&self, at: Instant, now: Instant) -> Instant {
        let horizon = now.checked_add(MAX_QUEUE_WAIT).unwrap_or(at);
        let span = self.advanced_to.checked_add(MAX_SPAN).unwrap_or(at);
        at.min(horizon).min(span)
    }

    /// [`Self::queued_at`], reading the clock only when `at` lies beyond a day from the last
    /// advance: any `now` is at or after `advanced_to`, so a nearer `at` is queued as it is
    /// (every socket's deadlines are; the clock read was a share of a connection's cost).
    fn queued_at_now(&self, at: Instant) -> Instant {
        match self.advanced_to.checked_add(MAX_QUEUE_WAIT) {
            Some(near) if at <= near => at,
            _ => self.queued_at(at, Instant::now()),
        }
    }
}

/// The queue of a configuration's deadlines and its driver.
#[derive(Default)]
pub(crate) struct Deadlines {
    queue: Mutex<Queue>,
    driving: AtomicBool,
    /// The driver's waker, woken when the queue goes away so that the driver ends.
    driver: Mutex<Option<Waker>>,
}

impl fmt::Debug for Deadlines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadlines")
            .field("armed", &self.lock().entries.len())
            .finish()
    }
}

impl Drop for Deadlines {
    fn drop(&mut self) {
        if let Some(waker) = self
            .driver
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            waker.wake();
        }
    }
}

impl Deadlines {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every operation on the queue completes or panics before touching it.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the driver when none runs (it ends when the queue empties; a socket brings a runtime).
    fn ensure_driver(self: &Arc<Self>) {
        if !self.driving.swap(true, Ordering::AcqRel) {
            tokio::spawn(drive(Arc::downgrade(self)));
        }
    }

    /// Wakes the driver, if one waits (to see an emptied or replaced queue).
    fn wake_driver(&self) {
        let driver = self.driver.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(waker) = driver.as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// One socket's place in the queue (the queue is its entry's [`Expire::deadlines`]); disarmed
/// when dropped.
pub(crate) struct TimerSlot {
    on_expiry: Arc<dyn Expire>,
}

impl fmt::Debug for TimerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerSlot").finish_non_exhaustive()
    }
}

impl TimerSlot {
    pub(crate) fn new(on_expiry: Arc<dyn Expire>) -> Self {
        Self { on_expiry }
    }

    fn deadlines(&self) -> &Arc<Deadlines> {
        self.on_expiry.deadlines()
    }

    fn armed(&self) -> MutexGuard<'_, Option<(Key, Instant)>> {
        self.on_expiry
            .armed()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Arms the slot for `at`, moves it, or (`None`) disarms it. Any `at` is accepted: one
    /// beyond [`MAX_QUEUE_WAIT`] is queued at that horizon and fires early, as a re-check.
    pub(crate) fn set(&self, at: Option<Instant>) {
        // Most updates leave the deadline as it is: no need for the shared lock then.
        if self.armed().as_ref().map(|(_, current)| *current) == at {
            return;
        }
        let deadlines = self.deadlines();
        let mut queue = deadlines.lock();
        let mut armed = self.armed();
        match (armed.as_mut(), at) {
            (Some((_, current)), Some(at)) if *current == at => {}
            (Some((key, current)), Some(at)) => {
                let queued = queue.queued_at_now(at);
                queue.entries.reset_at(key, queued);
                *current = at;
            }
            (Some((key, _)), None) => {
                queue.entries.try_remove(key);
                *armed = None;
                if queue.entries.is_empty() {
                    // Let the driver see it and end now, not at the removed entry's deadline.
                    deadlines.wake_driver();
                }
            }
            (None, Some(at)) => {
                if queue.entries.is_empty()
                    && Instant::now().saturating_duration_since(queue.advanced_to) > MAX_QUEUE_WAIT
                {
                    // Idle longer than the horizon: a fresh queue measures from now.
                    *queue = Queue::default();
                    deadlines.wake_driver();
                }
                let queued = queue.queued_at_now(at);
                let key = queue.entries.insert_at(self.on_expiry.clone(), queued);
                *armed = Some((key, at));
            }
            (None, None) => {}
        }
        drop((armed, queue));
        if at.is_some() {
            deadlines.ensure_driver();
        }
    }
}

impl Drop for TimerSlot {
    fn drop(&mut self) {
        self.set(None);
    }
}

/// Marks the driver stopped if `drive` unwinds (its normal end does so under the queue lock), so
/// that the next armed deadline starts another.
struct Driving(Weak<Deadlines>);

impl Drop for Driving {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(deadlines) = self.0.upgrade() {
                deadlines.driving.store(false, Ordering::Release);
            }
        }
    }
}

/// Pops the due entries and runs them; ends when the queue is empty or gone.
async fn drive(deadlines: Weak<Deadlines>) {
    let _driving = Driving(deadlines.clone());
    loop {
        let due = poll_fn(|cx| {
            let Some(deadlines) = deadlines.upgrade() else {
                return Poll::Ready(None);
            };
            *deadlines.driver.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            let mut queue = deadlines.lock();
            if queue.entries.is_empty() {
                // No socket waits: end (the next `set` starts a driver again). Decided under the
                // queue lock, so an insert either sees this or is seen here.
                deadlines.driving.store(false, Ordering::Release);
                return Poll::Ready(None);
            }
            let mut due = Vec::new();
            while due.len() < MAX_PER_PASS {
                match queue.entries.poll_expired(cx) {
                    Poll::Ready(Some(expired)) => {
                        // The queue's "now" has reached this deadline.
                        queue.advanced_to = queue.advanced_to.max(expired.deadline());
                        let item = expired.into_inner();
                        *item.armed().lock().unwrap_or_else(|e| e.into_inner()) = None;
                        due.push(item);
                    }
                    // Empty (the waker is registered: an insert wakes it) or not yet due.
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            if due.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(Some(due))
            }
        })
        .await;
        match due {
            Some(due) => {
                for item in due {
                    // One socket's failure must not stop every other socket's deadlines.
                    let ran =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| item.expire()));
                    if ran.is_err() {
                        tracing::error!("a socket's deadline handler panicked; the others go on");
                    }
                }
                // Let other tasks run between batches of a mass expiry.
                tokio::task::yield_now().await;
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests;
