//! The session a socket carries (kept in [`registry`](super::registry)): the state machine
//! behind a lock, with its place in the configuration's deadline queue kept at the state's
//! deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;
use tokio::time::Instant;

use super::SessionState;
use crate::deadlines::{Expire, TimerSlot};
use crate::metrics::Namespace;

/// A socket's session: the state machine plus its place in the configuration's deadline queue.
/// Kept (as an `Arc`) in the session registry for as long as the socket lives (see
/// [`registry`](super::registry)); dropping it (with the socket) disarms the
/// timer and drops what the phase held.
#[derive(Debug)]
pub(crate) struct Session<C> {
    state: Mutex<SessionState<C>>,
    timer: TimerSlot,
    /// The client's IP, when the application told us how to find it.
    pub(crate) client_ip: Option<std::net::IpAddr>,
    /// The socket's namespace, for the metrics' labels.
    pub(crate) ns: Namespace,
    /// Set once a refresh was ever requested of this socket: the hint that lets
    /// [`Session::refresh_awaited`] skip the lock for every other socket.
    refresh_asked: AtomicBool,
}

/// The session of a socket, if it was admitted by a gate with claims type `C`.
pub(crate) fn session_of<C, A>(s: &Socket<A>) -> Option<Arc<Session<C>>>
where
    C: Send + Sync + 'static,
    A: Adapter,
{
    super::registry::session::<Session<C>, A>(s)
}

impl<C> Session<C> {
    /// A session whose deadlines go to the queue of `on_expiry` (given the session), which
    /// runs when a deadline passes. Not armed yet: [`arm`](Self::arm) it, or
    /// [`update`](Self::update) it (every update arms the state's deadline).
    pub(crate) fn new(
        state: SessionState<C>,
        client_ip: Option<std::net::IpAddr>,
        on_expiry: impl FnOnce(Weak<Self>) -> Arc<dyn Expire>,
    ) -> Arc<Self> {
        let ns = state.ns.clone();
        Arc::new_cyclic(|me| Self {
            ns,
            state: Mutex::new(state),
            timer: TimerSlot::new(on_expiry(me.clone())),
            client_ip,
            refresh_asked: AtomicBool::new(false),
        })
    }

    /// Arms the timer for the state's deadline.
    pub(crate) fn arm(&self) {
        self.update(|_| ());
    }

    /// Records an `authenticate` event; `false` if the socket sent too many this minute.
    pub(crate) fn record_attempt(&self, now: Instant, max_per_minute: u32) -> bool {
        self.lock().record_attempt(now, max_per_minute)
    }

    fn lock(&self) -> MutexGuard<'_, SessionState<C>> {
        // A panic while holding this lock cannot leave the state half-written (every transition
        // is a single assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the state, then moves the timer to the (possibly moved) deadline, under the
    /// state's lock: two updates from two tasks (a refresh, a refresh request) arm the timer in
    /// the order they changed the state. (The deadline queue never takes a state lock while
    /// it holds its own.)
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut SessionState<C>) -> R) -> R {
        let mut state = self.lock();
        let r = f(&mut state);
        self.timer.set(state.deadline());
        drop(state);
        r
    }

    /// The server asks for a fresh token (see [`SessionState::request_refresh`]).
    pub(crate) fn request_refresh(
        &self,
        now: Instant,
        since: u64,
        grace: std::time::Duration,
    ) -> Option<crate::protocol::TokenExpiringPayload> {
        self.refresh_asked.store(true, Ordering::Release);
        self.update(|st| st.request_refresh(now, since, grace))
    }

    /// The `exp` of the token while a refresh the server asked for is still awaited (see
    /// [`SessionState::refresh_awaited`]); no lock for a socket never asked.
    pub(crate) fn refresh_awaited(&self) -> Option<u64> {
        if !self.refresh_asked.load(Ordering::Acquire) {
            return None;
        }
        self.lock().refresh_awaited()
    }

    /// Reads the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&SessionState<C>) -> R) -> R {
        f(&self.lock())
    }

    /// Runs `f`, which moves no deadline, on the state, leaving the timer as it is (unarmed,
    /// for a session not armed yet).
    pub(crate) fn update_in_place<R>(&self, f: impl FnOnce(&mut SessionState<C>) -> R) -> R {
        f(&mut self.lock())
    }
}
