use super::*;

#[test]
fn pending_permits_are_capped_and_released() {
    let gauge = PendingGauge::default();
    let a = gauge.try_acquire(2, [None, None]).unwrap();
    let _b = gauge.try_acquire(2, [None, None]).unwrap();
    assert_eq!(
        gauge.try_acquire(2, [None, None]).unwrap_err(),
        PendingRefusal::Full
    );
    drop(a);
    assert_eq!(gauge.current(), 1);
    assert!(gauge.try_acquire(2, [None, None]).is_ok());
}

/// One address (or one session) holds at most its share; others still get places; the
/// global count and the keys are given back on drop, and a refused share takes nothing.
#[test]
fn shares_per_address_and_session() {
    let gauge = PendingGauge::default();
    let flood = PendingKey::address("10.0.0.1".parse().unwrap());
    let other = PendingKey::address("10.0.0.2".parse().unwrap());
    let held: Vec<_> = (0..3)
        .map(|i| gauge.try_acquire(10, [Some((flood, 3)), Some((PendingKey::Session(i), 2))]))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        gauge
            .try_acquire(10, [Some((flood, 3)), Some((PendingKey::Session(9), 2))])
            .unwrap_err(),
        PendingRefusal::Share(flood)
    );
    assert_eq!(gauge.current(), 3, "a refused share takes no place");
    let session = PendingKey::Session(7);
    let _s1 = gauge
        .try_acquire(10, [Some((other, 3)), Some((session, 2))])
        .unwrap();
    let _s2 = gauge
        .try_acquire(10, [Some((other, 3)), Some((session, 2))])
        .unwrap();
    assert_eq!(
        gauge
            .try_acquire(10, [Some((other, 3)), Some((session, 2))])
            .unwrap_err(),
        PendingRefusal::Share(session)
    );
    drop(held);
    assert_eq!(gauge.current(), 2);
    assert_eq!(gauge.keys_held(), 2, "the flooding address's entry is gone");
}

/// Failures count per /64 for IPv6, and a full table still tracks new addresses.
#[test]
fn failures_by_64_and_new_addresses_always_tracked() {
    let limit = FailedAuthLimit::new(1, Duration::from_secs(10), Duration::from_secs(30));
    let tracker = FailureTracker::new(limit);
    let t0 = Instant::now();
    let a: IpAddr = "2001:db8:7:7::1".parse().unwrap();
    let b: IpAddr = "2001:db8:7:7:ffff::2".parse().unwrap();
    assert!(!tracker.record_failure(a, t0));
    assert!(
        tracker.record_failure(b, t0),
        "the same /64: the second failure blocks"
    );
    assert!(tracker.is_blocked("2001:db8:7:7::99".parse().unwrap(), t0));
    assert!(!tracker.is_blocked("2001:db8:7:8::1".parse().unwrap(), t0));
    {
        let mut records = tracker.lock();
        for i in 0..MAX_TRACKED_IPS as u32 {
            records.insert(
                IpAddr::V4(i.into()),
                IpRecord {
                    window_started: t0,
                    failures: 1,
                    blocked_until: None,
                },
            );
        }
    }
    let newcomer: IpAddr = "198.51.100.7".parse().unwrap();
    tracker.record_failure(newcomer, t0 + Duration::from_secs(1));
    assert!(
        tracker.record_failure(newcomer, t0 + Duration::from_secs(1)),
        "a new address is tracked even when the table is full"
    );
    assert!(tracker.lock().len() <= MAX_TRACKED_IPS + 1);
}

#[test]
fn ipv6_addresses_share_by_64() {
    let a = PendingKey::address("2001:db8:1:2:aaaa::1".parse().unwrap());
    let b = PendingKey::address("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
    let c = PendingKey::address("2001:db8:1:3::1".parse().unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(
        PendingKey::address("::ffff:192.0.2.7".parse().unwrap()),
        PendingKey::address("192.0.2.7".parse().unwrap())
    );
}

#[test]
fn attempts_are_counted_per_minute() {
    let t0 = Instant::now();
    let mut w = Attempts::new(t0);
    assert!((0..3).all(|_| w.record(t0, 3)));
    assert!(!w.record(t0 + Duration::from_secs(59), 3));
    assert!(
        w.record(t0 + Duration::from_secs(60), 3),
        "a new window starts"
    );
}

#[test]
fn failures_block_an_ip_for_the_cooldown() {
    let limit = FailedAuthLimit {
        max_failures: 2,
        window: Duration::from_secs(10),
        cooldown: Duration::from_secs(30),
    };
    let tracker = FailureTracker::new(limit);
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    let other: IpAddr = "10.0.0.2".parse().unwrap();
    let t0 = Instant::now();
    assert!(!tracker.record_failure(ip, t0));
    assert!(!tracker.record_failure(ip, t0));
    assert!(tracker.record_failure(ip, t0 + Duration::from_secs(1)));
    assert!(tracker.is_blocked(ip, t0 + Duration::from_secs(30)));
    assert!(!tracker.is_blocked(other, t0));
    assert!(
        !tracker.is_blocked(ip, t0 + Duration::from_secs(31)),
        "cooldown over"
    );
    assert!(
        !tracker.record_failure(ip, t0 + Duration::from_secs(32)),
        "counting starts over"
    );
}

#[test]
fn failures_outside_the_window_do_not_add_up() {
    let limit = FailedAuthLimit {
        max_failures: 1,
        window: Duration::from_secs(10),
        cooldown: Duration::from_secs(30),
    };
    let tracker = FailureTracker::new(limit);
    let ip: IpAddr = "::1".parse().unwrap();
    let t0 = Instant::now();
    assert!(!tracker.record_failure(ip, t0));
    assert!(!tracker.record_failure(ip, t0 + Duration::from_secs(11)));
    assert!(tracker.record_failure(ip, t0 + Duration::from_secs(12)));
}
