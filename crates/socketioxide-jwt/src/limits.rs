//! Abuse limits: pending-socket cap, `authenticate` rate per socket, failed authentications per
//! client IP, and where the sockets-per-user cap is counted ([`UserSockets`]). Plain code with
//! explicit time arguments, unit-tested without sockets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub use crate::client_ip::{address_key, ForwardingHeader, InvalidProxyRange, TrustedProxies};
pub use crate::user_sockets::{PlaceStore, UserSockets};

/// What a pending place is counted against besides the configuration's cap: the client's
/// address (an IPv6 address by its /64, what one host or one customer usually holds) and the
/// engine.io session (one connection, which may open many namespaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PendingKey {
    Address(IpAddr),
    /// An engine.io session, by the address of its request head (one per session, alive as long
    /// as any of its sockets, so no two live sessions share it).
    Session(usize),
}

impl PendingKey {
    /// The key of a client address (see [`address_key`]).
    pub(crate) fn address(ip: IpAddr) -> Self {
        Self::Address(address_key(ip))
    }

    /// The key of a socket's engine.io session: socketioxide keeps one request head per
    /// session, shared by its sockets and alive as long as any of them, so its address names
    /// the session.
    pub(crate) fn session(parts: &http::request::Parts) -> Self {
        Self::Session(std::ptr::from_ref(parts) as usize)
    }
}

/// Why no pending place was given (every one is answered `server_busy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingRefusal {
    /// The configuration's `max_pending` is reached.
    Full,
    /// This key holds its whole share.
    Share(PendingKey),
}

/// Counts pending (connected, not yet authenticated) sockets; hands out permits up to a cap, and
/// up to a share of it per [`PendingKey`], so that one address or one session cannot take every
/// place.
#[derive(Debug, Default)]
pub(crate) struct PendingGauge {
    inner: Arc<GaugeInner>,
}

#[derive(Debug, Default)]
struct GaugeInner {
    count: AtomicUsize,
    /// Places held per key; a key is removed when it holds none. foldhash: fast on these small
    /// keys (every socket hashes two, twice) and seeded per process, since clients choose their
    /// IPv6 addresses.
    shares: Mutex<HashMap<PendingKey, usize, foldhash::fast::RandomState>>,
}

/// One pending socket; released when dropped (authenticated, refused or gone).
#[derive(Debug)]
pub(crate) struct PendingPermit {
    gauge: Arc<GaugeInner>,
    keys: [Option<PendingKey>; 2],
}

impl PendingGauge {
    /// A place, if fewer than `max` are held and each key holds fewer than its share.
    pub(crate) fn try_acquire(
        &self,
        max: usize,
        shares: [Option<(PendingKey, usize)>; 2],
    ) -> Result<PendingPermit, PendingRefusal> {
        self.inner
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| PendingRefusal::Full)?;
        // Dropped on a refusal: gives back the global place and whatever key it took so far.
        let mut permit = PendingPermit {
            gauge: self.inner.clone(),
            keys: [None, None],
        };
        if shares.iter().all(Option::is_none) {
            return Ok(permit);
        }
        let mut held = lock(&self.inner.shares);
        for (slot, (key, share)) in permit.keys.iter_mut().zip(shares.iter().flatten()) {
            let count = held.entry(*key).or_insert(0);
            if *count >= *share {
                if *count == 0 {
                    held.remove(key);
                }
                drop(held);
                return Err(PendingRefusal::Share(*key));
            }
            *count += 1;
            *slot = Some(*key);
        }
        Ok(permit)
    }

    pub(crate) fn current(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// How many keys hold a place now (bounded by the places themselves).
    #[cfg(test)]
    pub(crate) fn keys_held(&self) -> usize {
        lock(&self.inner.shares).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update is a single map operation: a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for PendingPermit {
    fn drop(&mut self) {
        if self.keys.iter().any(Option::is_some) {
            let mut held = lock(&self.gauge.shares);
            for key in self.keys.iter().flatten() {
                if let std::collections::hash_map::Entry::Occupied(mut e) = held.entry(*key) {
                    *e.get_mut() -= 1;
                    if *e.get() == 0 {
                        e.remove();
                    }
                }
            }
        }
        self.gauge.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket's `authenticate` events: how many in the current one-minute window, how many are
/// being verified, and the order they started in (kept here, in this record's padding, rather
/// than in fields of their own in every session).
///
/// A first token is verified alone; a refresh may start while another is verified (at most
/// [`MAX_REFRESHES_IN_FLIGHT`]), so a slow one cannot hold back the next, and each is numbered
/// so that one that finishes after a later-started one never replaces it.
#[derive(Debug)]
pub(crate) struct Attempts {
    window_start: Instant,
    count: u32,
    /// Tokens of this socket being verified.
    in_flight: u8,
    /// The number of the last refresh started (wrapping).
    started: u8,
    /// The number of the last refresh applied (wrapping).
    applied: u8,
}

const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);

/// Refreshes of one socket verified at the same time.
pub(crate) const MAX_REFRESHES_IN_FLIGHT: u8 = 2;

impl Attempts {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            window_start: now,
            count: 0,
            in_flight: 0,
            started: 0,
            applied: 0,
        }
    }

    /// Records one attempt; `false` once more than `max` were made within a minute.
    pub(crate) fn record(&mut self, now: Instant, max: u32) -> bool {
        if now.duration_since(self.window_start) >= ATTEMPT_WINDOW {
            self.window_start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        self.count <= max
    }

    /// Whether a token of this socket is being verified.
    #[cfg(test)]
    pub(crate) fn verifying(&self) -> bool {
        self.in_flight > 0
    }

    /// Claims a first verification: `false` if one is running.
    pub(crate) fn begin_first(&mut self) -> bool {
        if self.in_flight > 0 {
            return false;
        }
        self.in_flight = 1;
        true
    }

    /// Claims a refresh's verification: its number, or `None` if
    /// [`MAX_REFRESHES_IN_FLIGHT`] are running.
    pub(crate) fn begin_refresh(&mut self) -> Option<u8> {
        if self.in_flight >= MAX_REFRESHES_IN_FLIGHT {
            return None;
        }
        self.in_flight += 1;
        self.started = self.started.wrapping_add(1);
        Some(self.started)
    }

    /// A verification finished (whatever its outcome).
    pub(crate) fn finish(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Whether refresh `number` started before the last one applied. The numbers wrap; at most
    /// [`MAX_REFRESHES_IN_FLIGHT`] are in flight, so a difference read as signed is right.
    pub(crate) fn is_superseded(&self, number: u8) -> bool {
        (number.wrapping_sub(self.applied) as i8) < 0
    }

    /// The number of the last refresh started.
    #[cfg(test)]
    pub(crate) fn last_started(&self) -> u8 {
        self.started
    }

    /// Refresh `number` finished in order (applied, or kept out by an older token).
    pub(crate) fn applied(&mut self, number: u8) {
        self.applied = number;
    }
}

/// Per-IP limit on failed authentications.
///
/// After `max_failures` failures within `window`, the IP's new connections are refused with
/// `forbidden` for `cooldown`.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt::limits::FailedAuthLimit;
/// let limit = FailedAuthLimit::new(20, Duration::from_secs(60), Duration::from_secs(300));
/// assert_eq!(limit.max_failures, 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedAuthLimit {
    /// Failures allowed within `window`.
    pub max_failures: u32,
    /// The counting window.
    pub window: Duration,
    /// How long the IP is refused once over the limit.
    pub cooldown: Duration,
}

impl FailedAuthLimit {
    /// At most `max_failures` failed authentications per IP within `window`; then the IP's new
    /// connections are refused for `cooldown`. All three must be positive
    /// ([`JwtAuthBuilder::build`](crate::JwtAuthBuilder::build) checks).
    pub fn new(max_failures: u32, window: Duration, cooldown: Duration) -> Self {
        Self {
            max_failures,
            window,
            cooldown,
        }
    }
}

#[derive(Debug)]
struct IpRecord {
    window_started: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// At most this many clients are tracked; beyond, expired records are dropped first, then the
/// record closest to its end, so that new addresses are always tracked (authentication itself is
/// unaffected).
const MAX_TRACKED_IPS: usize = 100_000;

/// Failed authentications per client IP.
#[derive(Debug)]
pub(crate) struct FailureTracker {
    limit: FailedAuthLimit,
    records: Mutex<HashMap<IpAddr, IpRecord>>,
}

impl FailureTracker {
    pub(crate) fn new(limit: FailedAuthLimit) -> Self {
        Self {
            limit,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, IpRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `ip` (its /64, for IPv6) is cooling down.
    pub(crate) fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.lock()
            .get(&address_key(ip))
            .and_then(|r| r.blocked_until)
            .is_some_and(|until| now < until)
    }

    /// Records a failure; returns whether the IP is now blocked.
    pub(crate) fn record_failure(&self, ip: IpAddr, now: Instant) -> bool {
        let limit = self.limit;
        let ip = address_key(ip);
        let mut records = self.lock();
        if records.len() >= MAX_TRACKED_IPS && !records.contains_key(&ip) {
            records.retain(|_, r| {
                r.blocked_until.is_some_and(|u| now < u)
                    || now.duration_since(r.window_started) < limit.window
            });
            if records.len() >= MAX_TRACKED_IPS {
                // Still full of live records: make room by forgetting the one that ends first.
                let ends = |r: &IpRecord| {
                    r.blocked_until
                        .unwrap_or(crate::time::deadline_after(r.window_started, limit.window))
                };
                if let Some(oldest) = records
                    .iter()
                    .min_by_key(|(_, r)| ends(r))
                    .map(|(ip, _)| *ip)
                {
                    records.remove(&oldest);
                }
            }
        }
        let record = records.entry(ip).or_insert(IpRecord {
            window_started: now,
            failures: 0,
            blocked_until: None,
        });
        if record.blocked_until.is_some_and(|u| now >= u) {
            record.blocked_until = None;
            record.failures = 0;
            record.window_started = now;
        }
        if now.duration_since(record.window_started) >= limit.window {
            record.window_started = now;
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        if record.failures > limit.max_failures && record.blocked_until.is_none() {
            record.blocked_until = Some(crate::time::deadline_after(now, limit.cooldown));
        }
        record.blocked_until.is_some()
    }
}

#[cfg(test)]
mod tests;
