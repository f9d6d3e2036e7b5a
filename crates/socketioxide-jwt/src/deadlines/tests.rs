use super::*;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

struct Counter {
    deadlines: Arc<Deadlines>,
    fired: AtomicUsize,
    armed: Armed,
}

impl Expire for Counter {
    fn deadlines(&self) -> &Arc<Deadlines> {
        &self.deadlines
    }
    fn armed(&self) -> &Armed {
        &self.armed
    }
    fn expire(self: Arc<Self>) {
        self.fired.fetch_add(1, Ordering::SeqCst);
    }
}

fn slot(deadlines: &Arc<Deadlines>) -> (TimerSlot, Arc<Counter>) {
    let counter = Arc::new(Counter {
        deadlines: deadlines.clone(),
        fired: AtomicUsize::new(0),
        armed: Mutex::new(None),
    });
    (TimerSlot::new(counter.clone()), counter)
}

#[tokio::test(start_paused = true)]
async fn fires_at_the_deadline_moves_and_disarms() {
    let deadlines = Arc::new(Deadlines::default());
    let (a, fired_a) = slot(&deadlines);
    let (b, fired_b) = slot(&deadlines);
    let (c, fired_c) = slot(&deadlines);
    let t0 = Instant::now();
    a.set(Some(t0 + Duration::from_secs(1)));
    b.set(Some(t0 + Duration::from_secs(1)));
    b.set(Some(t0 + Duration::from_secs(3)));
    c.set(Some(t0 + Duration::from_secs(1)));
    c.set(None);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fired_a.fired.load(Ordering::SeqCst), 1);
    assert_eq!(fired_b.fired.load(Ordering::SeqCst), 0, "moved later");
    assert_eq!(fired_c.fired.load(Ordering::SeqCst), 0, "disarmed");
    // Fired slots can be armed again (their key was forgotten, not reused by mistake).
    a.set(Some(Instant::now() + Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fired_a.fired.load(Ordering::SeqCst), 2);
    assert_eq!(fired_b.fired.load(Ordering::SeqCst), 1);
    b.set(Some(Instant::now() + Duration::from_secs(3600)));
    tokio::task::yield_now().await;
    assert!(deadlines.driving.load(Ordering::Acquire));
    drop((a, b, c));
    assert_eq!(
        deadlines.lock().entries.len(),
        0,
        "dropped slots leave nothing behind"
    );
    tokio::task::yield_now().await;
    assert!(
        !deadlines.driving.load(Ordering::Acquire),
        "no driver without deadlines"
    );
}

/// An entry is never queued further than MAX_SPAN past the queue's last fired deadline,
/// whatever the deadline and however long nothing fired (moving entries does not move the
/// queue's "now"; its own slot boundaries usually do, but a queue whose entries always move
/// first would otherwise reach its ~795-day limit).
#[tokio::test(start_paused = true)]
async fn entries_stay_within_the_queues_range() {
    let queue = Queue::default();
    let day = Duration::from_secs(24 * 3600);
    let t0 = queue.advanced_to;
    // Nothing fired for 800 days: the entry is due at the span's end, at once.
    let now = t0 + 800 * day;
    assert_eq!(queue.queued_at(now + 30 * day, now), t0 + MAX_SPAN);
    assert!(MAX_SPAN < Duration::from_millis((1 << 36) - 1));
    // Otherwise: the deadline, or the horizon.
    let now = t0 + day;
    assert_eq!(
        queue.queued_at(now + Duration::from_secs(5), now),
        now + Duration::from_secs(5)
    );
    assert_eq!(queue.queued_at(now + 30 * day, now), now + MAX_QUEUE_WAIT);
}

struct Panics {
    deadlines: Arc<Deadlines>,
    armed: Armed,
}

impl Expire for Panics {
    fn deadlines(&self) -> &Arc<Deadlines> {
        &self.deadlines
    }
    fn armed(&self) -> &Armed {
        &self.armed
    }
    fn expire(self: Arc<Self>) {
        panic!("a handler that panics");
    }
}

/// One socket's handler panics: the others' deadlines still fire, now and later.
#[tokio::test(start_paused = true)]
async fn a_panicking_handler_does_not_stop_the_others() {
    let deadlines = Arc::new(Deadlines::default());
    let bad = TimerSlot::new(Arc::new(Panics {
        deadlines: deadlines.clone(),
        armed: Mutex::new(None),
    }));
    let (good, fired) = slot(&deadlines);
    bad.set(Some(Instant::now() + Duration::from_secs(1)));
    good.set(Some(Instant::now() + Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fired.fired.load(Ordering::SeqCst), 1);
    good.set(Some(Instant::now() + Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fired.fired.load(Ordering::SeqCst), 2);
}
