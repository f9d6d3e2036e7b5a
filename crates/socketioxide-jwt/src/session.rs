//! The per-socket authentication state machine: pending → authenticated (→ refreshed …) → closed.
//!
//! Plain code: every transition takes the current time as an argument, so it is unit-tested
//! without sockets or sleeps. The gate owns the timers and the I/O.
//!
//! Each phase owns what only it needs: a pending socket holds its place under `max_pending`
//! (a [`PendingPermit`]), an authenticated one its entry in the revocation list (a
//! [`LiveTicket`]). Leaving the phase drops them; no code releases them by hand.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;
use tokio::time::Instant;

use crate::claims::RegisteredClaims;
use crate::deadlines::{Deadlines, Expire, TimerSlot};
use crate::error::AuthError;
use crate::limits::{AttemptWindow, PendingPermit};
use crate::metrics::{Namespace, SocketState};
use crate::protocol::{ErrorCode, TokenExpiringPayload};
use crate::revocation::LiveTicket;
use crate::time::{deadline_after, until_unix};
use crate::user_sockets::UserPlace;
use crate::verify::Verified;

/// How a token's expiry is enforced (`leeway`) and announced (`warning`: how long before `exp`,
/// at most half the remaining lifetime; `None`: never).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExpiryRules {
    pub(crate) leeway: Duration,
    pub(crate) warning: Option<Duration>,
}

/// What a deadline brought.
#[derive(Debug)]
pub(crate) enum Due {
    /// The socket must be refused with this error (timeout, expiry).
    Refuse(AuthError),
    /// The token expires soon: tell the client, once for this token.
    Warn(TokenExpiringPayload),
}

/// Where a socket stands.
#[derive(Debug)]
enum Phase<C> {
    /// Connected, no valid token yet; refused at `deadline`.
    Pending {
        deadline: Instant,
        /// Its place under `max_pending`, given back when the phase ends.
        _permit: PendingPermit,
        /// Counted as pending in the metrics while the phase lasts.
        _counted: SocketState,
    },
    /// Verified; refused at `expires_at` (from `exp` + leeway) unless refreshed.
    Authenticated {
        claims: Arc<C>,
        /// The token's subject: a refresh must carry the same one.
        sub: Option<Box<str>>,
        /// The token's `exp`, seconds since the Unix epoch.
        exp: Option<u64>,
        expires_at: Option<Instant>,
        /// When to send `token_expiring`; `None` once sent for this token, or when off.
        warn_at: Option<Instant>,
        /// Its entry in the revocation list, once tracked; removed when the phase ends.
        ticket: Option<LiveTicket>,
        /// Its place under `max_sockets_per_user`, once taken; given back when the phase ends.
        /// Boxed: a pointer in every session, the place only where a cap is set.
        place: Option<Box<UserPlace>>,
        /// Counted as authenticated in the metrics while the phase lasts.
        counted: SocketState,
    },
    /// Refused or expired: nothing more happens.
    Closed,
}

/// What a finished verification did to the session.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Pending → authenticated: the application's handlers go live. The token's registered
    /// claims, for what going live does with them (rooms, revocation, the client's answer); the
    /// session keeps only `sub` and `exp`.
    FirstAuthentication(RegisteredClaims),
    /// Authenticated → authenticated with fresh claims and a later expiry.
    Refreshed(RegisteredClaims),
    /// The socket must be refused with this error.
    Refused(AuthError),
    /// The session was already closed: nothing to do.
    Ignored,
}

/// The state machine itself.
#[derive(Debug)]
pub(crate) struct SessionState<C> {
    phase: Phase<C>,
    verifying: bool,
    /// `authenticate` events in the current minute.
    attempts: AttemptWindow,
    /// Handshake mode: the registered claims of the token verified in the connect middleware,
    /// until the connect handler takes them to go live.
    handoff: Option<Box<RegisteredClaims>>,
    /// The socket's namespace, for the metrics' labels.
    ns: Namespace,
}

impl<C> SessionState<C> {
    /// A new pending session on namespace `ns` that holds `permit` and times out after
    /// `timeout`.
    pub(crate) fn pending(
        now: Instant,
        timeout: Duration,
        permit: PendingPermit,
        ns: Namespace,
    ) -> Self {
        Self {
            phase: Phase::Pending {
                deadline: deadline_after(now, timeout),
                _permit: permit,
                _counted: SocketState::enter("pending", &ns),
            },
            verifying: false,
            attempts: AttemptWindow::new(now),
            handoff: None,
            ns,
        }
    }

    /// Keeps the registered claims of a first authentication for the connect handler
    /// (handshake mode verifies in the middleware, and goes live in the handler).
    pub(crate) fn hand_off(&mut self, registered: RegisteredClaims) {
        self.handoff = Some(Box::new(registered));
    }

    /// The claims kept by [`Self::hand_off`], if the session is still authenticated.
    pub(crate) fn take_handoff(&mut self) -> Option<RegisteredClaims> {
        let registered = self.handoff.take()?;
        self.is_authenticated().then_some(*registered)
    }

    /// Records an `authenticate` event; `false` if the socket sent too many this minute.
    pub(crate) fn record_attempt(&mut self, now: Instant, max_per_minute: u32) -> bool {
        self.attempts.record(now, max_per_minute)
    }

    /// Claims a verification slot; `false` if one is running or the session is closed. One
    /// verification at a time bounds the work a socket can cause.
    pub(crate) fn try_begin_verification(&mut self) -> bool {
        if self.verifying || matches!(self.phase, Phase::Closed) {
            return false;
        }
        self.verifying = true;
        true
    }

    /// Applies the result of a verification started with [`Self::try_begin_verification`].
    ///
    /// `now_unix` is the wall-clock time since the epoch (what `exp` is measured against) and `now`
    /// the monotonic time the expiry timer runs on.
    pub(crate) fn finish_verification(
        &mut self,
        result: Result<Verified<C>, AuthError>,
        now: Instant,
        now_unix: Duration,
        rules: ExpiryRules,
    ) -> Outcome {
        self.verifying = false;
        let verified = match (&self.phase, result) {
            (Phase::Closed, _) => return Outcome::Ignored,
            (_, Err(err)) => {
                self.phase = Phase::Closed;
                return Outcome::Refused(err);
            }
            (_, Ok(verified)) => verified,
        };
        if let Phase::Authenticated { sub, .. } = &self.phase {
            if sub.as_deref() != verified.registered.sub.as_deref() {
                self.phase = Phase::Closed;
                return Outcome::Refused(
                    AuthError::new(ErrorCode::InvalidToken)
                        .with_message("the refresh token belongs to another subject"),
                );
            }
        }
        let exp = verified.registered.exp;
        // To the sub-second: the deadline is `exp` + leeway on the wall clock, not later. Any
        // `exp` a token can carry saturates (see `time`).
        let expires_at =
            exp.map(|exp| deadline_after(now, until_unix(exp, rules.leeway, now_unix)));
        // Once per token: a refresh with the same `exp` after the warning is not warned again.
        let warned = matches!(
            &self.phase,
            Phase::Authenticated { exp: old, warn_at: None, .. } if *old == exp
        );
        let warn_at = match (rules.warning, exp) {
            (Some(lead), Some(exp)) if !warned => {
                let left = until_unix(exp, Duration::ZERO, now_unix);
                Some(deadline_after(now, left - lead.min(left / 2)))
            }
            _ => None,
        };
        // A refresh keeps the revocation entry (pointed at the new token) and the user's place;
        // a first authentication drops the pending place with the pending phase.
        let (ticket, place, counted, refreshed) =
            match std::mem::replace(&mut self.phase, Phase::Closed) {
                Phase::Authenticated {
                    ticket,
                    place,
                    counted,
                    ..
                } => {
                    if let Some(ticket) = &ticket {
                        ticket.update(&verified.registered);
                    }
                    (ticket, place, counted, true)
                }
                _ => (
                    None,
                    None,
                    SocketState::enter("authenticated", &self.ns),
                    false,
                ),
            };
        let Verified { claims, registered } = verified;
        self.phase = Phase::Authenticated {
            claims,
            sub: registered.sub.as_deref().map(Box::from),
            exp,
            expires_at,
            warn_at,
            ticket,
            place,
            counted,
        };
        if refreshed {
            Outcome::Refreshed(registered)
        } else {
            Outcome::FirstAuthentication(registered)
        }
    }

    /// Called when the timer reaches [`Self::deadline`]: what is due, if the deadline has really
    /// passed (a refresh may have moved it). An expiry comes before a warning due at the same
    /// time. `now_unix` (the wall clock) measures how long the token has left.
    pub(crate) fn on_deadline(&mut self, now: Instant, now_unix: Duration) -> Option<Due> {
        let code = match &mut self.phase {
            Phase::Pending { deadline, .. } if *deadline <= now => ErrorCode::Timeout,
            Phase::Authenticated {
                expires_at: Some(at),
                ..
            } if *at <= now => ErrorCode::TokenExpired,
            Phase::Authenticated {
                warn_at: warn_at @ Some(_),
                exp,
                ..
            } if warn_at.is_some_and(|at| at <= now) => {
                *warn_at = None;
                let exp = exp.unwrap_or_default();
                let left = until_unix(exp, Duration::ZERO, now_unix);
                let left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
                return Some(Due::Warn(TokenExpiringPayload::new(exp, left_ms)));
            }
            _ => return None,
        };
        self.phase = Phase::Closed;
        Some(Due::Refuse(AuthError::new(code)))
    }

    /// When the timer should fire next: the pending deadline, or the earlier of the warning
    /// and the expiry. The authentication timeout also bounds a verification still running at
    /// the deadline (a slow key resolver or application check).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Pending { deadline, .. } => Some(*deadline),
            Phase::Authenticated {
                expires_at,
                warn_at,
                ..
            } => match (*expires_at, *warn_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Phase::Closed => None,
        }
    }

    /// Marks the session closed (the socket is being refused for another reason).
    pub(crate) fn close(&mut self) {
        self.phase = Phase::Closed;
    }

    /// The verified claims, if authenticated.
    pub(crate) fn claims(&self) -> Option<Arc<C>> {
        match &self.phase {
            Phase::Authenticated { claims, .. } => Some(claims.clone()),
            _ => None,
        }
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        matches!(self.phase, Phase::Authenticated { .. })
    }

    /// Keeps the user's place (`max_sockets_per_user`) for as long as the socket stays
    /// authenticated; `false` (and the place given back) if it no longer is.
    pub(crate) fn hold_place(&mut self, new: UserPlace) -> bool {
        match &mut self.phase {
            Phase::Authenticated { place, .. } => {
                *place = Some(Box::new(new));
                true
            }
            _ => false,
        }
    }

    /// Keeps the socket's revocation-list entry for as long as it stays authenticated; `false`
    /// (and the ticket dropped) if it no longer is.
    pub(crate) fn track_revocation(&mut self, new: LiveTicket) -> bool {
        match &mut self.phase {
            Phase::Authenticated { ticket, .. } => {
                *ticket = Some(new);
                true
            }
            _ => false,
        }
    }
}

/// A socket's session: the state machine plus its place in the configuration's deadline queue.
/// Stored (as an `Arc`) in the socket's extensions; dropping it (with the socket) disarms the
/// timer and drops what the phase held.
#[derive(Debug)]
pub(crate) struct Session<C> {
    state: Mutex<SessionState<C>>,
    timer: TimerSlot,
    /// The client's IP, when the application told us how to find it.
    pub(crate) client_ip: Option<std::net::IpAddr>,
    /// The socket's namespace, for the metrics' labels.
    pub(crate) ns: Namespace,
}

/// The session of a socket, if it was admitted by a gate with claims type `C`.
pub(crate) fn session_of<C, A>(s: &Socket<A>) -> Option<Arc<Session<C>>>
where
    C: Send + Sync + 'static,
    A: Adapter,
{
    s.extensions.get::<Arc<Session<C>>>()
}

impl<C> Session<C> {
    /// A session armed in `deadlines` for its state's deadline; `on_expiry` (given the session)
    /// runs when a deadline passes.
    pub(crate) fn new(
        state: SessionState<C>,
        client_ip: Option<std::net::IpAddr>,
        deadlines: Arc<Deadlines>,
        on_expiry: impl FnOnce(Weak<Self>) -> Arc<dyn Expire>,
    ) -> Arc<Self> {
        let deadline = state.deadline();
        let ns = state.ns.clone();
        let session = Arc::new_cyclic(|me| Self {
            ns,
            state: Mutex::new(state),
            timer: TimerSlot::new(deadlines, on_expiry(me.clone())),
            client_ip,
        });
        session.timer.set(deadline);
        session
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

    /// Runs `f` on the state, then moves the timer to the (possibly moved) deadline.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut SessionState<C>) -> R) -> R {
        let mut state = self.lock();
        let r = f(&mut state);
        let deadline = state.deadline();
        drop(state);
        self.timer.set(deadline);
        r
    }

    /// Reads the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&SessionState<C>) -> R) -> R {
        f(&self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::PendingGauge;

    fn permit() -> PendingPermit {
        PendingGauge::default()
            .try_acquire(1, [None, None])
            .expect("an empty gauge has room")
    }

    #[test]
    fn the_pending_place_is_held_until_the_pending_phase_ends() {
        let gauge = PendingGauge::default();
        let t0 = Instant::now();
        let mut s = SessionState::pending(
            t0,
            Duration::from_secs(5),
            gauge.try_acquire(1, [None, None]).unwrap(),
            Namespace::new("/"),
        );
        assert_eq!(gauge.current(), 1);
        assert!(
            gauge.try_acquire(1, [None, None]).is_err(),
            "the place is taken"
        );
        s.try_begin_verification();
        s.finish_verification(Ok(verified("alice", UNIX + 60)), t0, at(UNIX), RULES);
        assert_eq!(gauge.current(), 0, "authenticated: the place is free");
        let mut refused = SessionState::<String>::pending(
            t0,
            Duration::from_secs(5),
            gauge.try_acquire(1, [None, None]).unwrap(),
            Namespace::new("/"),
        );
        refused.close();
        assert_eq!(gauge.current(), 0, "closed: the place is free");
    }

    fn verified(sub: &str, exp: u64) -> Verified<String> {
        Verified {
            claims: Arc::new(sub.to_owned()),
            registered: RegisteredClaims {
                sub: Some(sub.to_owned()),
                exp: Some(exp),
                ..Default::default()
            },
        }
    }

    const UNIX: u64 = 1_000_000;

    /// No leeway, no warning.
    const RULES: ExpiryRules = ExpiryRules {
        leeway: Duration::ZERO,
        warning: None,
    };

    /// The error of a refusal that is due, if one is.
    fn refusal(due: Option<Due>) -> Option<AuthError> {
        match due {
            Some(Due::Refuse(err)) => Some(err),
            Some(Due::Warn(w)) => panic!("expected a refusal, got a warning {w:?}"),
            None => None,
        }
    }

    fn authenticated(t0: Instant, exp: u64, warning: Duration) -> SessionState<String> {
        let mut s =
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
        s.try_begin_verification();
        let rules = ExpiryRules {
            leeway: Duration::ZERO,
            warning: Some(warning),
        };
        s.finish_verification(Ok(verified("alice", exp)), t0, at(UNIX), rules);
        s
    }

    #[test]
    fn the_warning_comes_once_before_expiry_then_the_expiry() {
        let t0 = Instant::now();
        let mut s = authenticated(t0, UNIX + 600, Duration::from_secs(60));
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(540)));
        assert!(s
            .on_deadline(t0 + Duration::from_secs(539), at(UNIX + 539))
            .is_none());
        match s.on_deadline(
            t0 + Duration::from_secs(540),
            at(UNIX + 540) + Duration::from_millis(250),
        ) {
            Some(Due::Warn(w)) => assert_eq!((w.exp, w.expires_in_ms), (UNIX + 600, 59_750)),
            other => panic!("expected the warning, got {other:?}"),
        }
        assert_eq!(
            s.deadline(),
            Some(t0 + Duration::from_secs(600)),
            "next: the expiry"
        );
        assert!(
            s.on_deadline(t0 + Duration::from_secs(541), at(UNIX + 541))
                .is_none(),
            "once"
        );
        let err = refusal(s.on_deadline(t0 + Duration::from_secs(600), at(UNIX + 600))).unwrap();
        assert_eq!(err.code(), ErrorCode::TokenExpired);
    }

    #[test]
    fn a_short_token_is_warned_at_half_its_remaining_lifetime() {
        let t0 = Instant::now();
        let s = authenticated(t0, UNIX + 30, Duration::from_secs(60));
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(15)));
    }

    #[test]
    fn a_refreshed_token_is_warned_again_the_same_one_is_not() {
        let t0 = Instant::now();
        let rules = ExpiryRules {
            leeway: Duration::ZERO,
            warning: Some(Duration::from_secs(10)),
        };
        let mut s = authenticated(t0, UNIX + 100, Duration::from_secs(10));
        let t1 = t0 + Duration::from_secs(90);
        assert!(matches!(
            s.on_deadline(t1, at(UNIX + 90)),
            Some(Due::Warn(_))
        ));
        s.try_begin_verification();
        s.finish_verification(Ok(verified("alice", UNIX + 100)), t1, at(UNIX + 90), rules);
        assert_eq!(
            s.deadline(),
            Some(t0 + Duration::from_secs(100)),
            "same exp: no new warning"
        );
        s.try_begin_verification();
        s.finish_verification(Ok(verified("alice", UNIX + 200)), t1, at(UNIX + 90), rules);
        assert_eq!(
            s.deadline(),
            Some(t1 + Duration::from_secs(100)),
            "new token: warned 10 s before"
        );
    }

    fn at(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn pending_times_out_at_deadline_only() {
        let t0 = Instant::now();
        let mut s = SessionState::<String>::pending(
            t0,
            Duration::from_secs(5),
            permit(),
            Namespace::new("/"),
        );
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(5)));
        assert!(refusal(s.on_deadline(t0 + Duration::from_secs(4), at(UNIX))).is_none());
        let err = refusal(s.on_deadline(t0 + Duration::from_secs(5), at(UNIX))).unwrap();
        assert_eq!(err.code(), ErrorCode::Timeout);
        assert_eq!(s.deadline(), None);
        assert!(
            !s.try_begin_verification(),
            "a closed session verifies nothing"
        );
    }

    #[test]
    fn authentication_sets_expiry_with_leeway() {
        let t0 = Instant::now();
        let mut s =
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
        assert!(s.try_begin_verification());
        assert!(!s.try_begin_verification(), "one verification at a time");
        let out = s.finish_verification(
            Ok(verified("alice", UNIX + 60)),
            t0,
            at(UNIX),
            ExpiryRules {
                leeway: Duration::from_secs(10),
                warning: None,
            },
        );
        assert!(matches!(out, Outcome::FirstAuthentication(_)));
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(70)));
        assert!(refusal(s.on_deadline(t0 + Duration::from_secs(69), at(UNIX))).is_none());
        assert_eq!(
            refusal(s.on_deadline(t0 + Duration::from_secs(70), at(UNIX)))
                .unwrap()
                .code(),
            ErrorCode::TokenExpired
        );
    }

    #[test]
    fn expiry_is_exact_to_the_sub_second() {
        let t0 = Instant::now();
        let mut s =
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
        s.try_begin_verification();
        let now_wall = at(UNIX) + Duration::from_millis(700);
        s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, now_wall, RULES);
        assert_eq!(s.deadline(), Some(t0 + Duration::from_millis(9300)));
    }

    #[test]
    fn refresh_moves_expiry_and_keeps_session() {
        let t0 = Instant::now();
        let mut s =
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
        s.try_begin_verification();
        s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, at(UNIX), RULES);
        let t1 = t0 + Duration::from_secs(8);
        assert!(s.try_begin_verification());
        let out = s.finish_verification(Ok(verified("alice", UNIX + 100)), t1, at(UNIX + 8), RULES);
        assert!(matches!(out, Outcome::Refreshed(_)));
        assert!(
            refusal(s.on_deadline(t0 + Duration::from_secs(10), at(UNIX))).is_none(),
            "old expiry no longer applies"
        );
        assert_eq!(s.deadline(), Some(t1 + Duration::from_secs(92)));
    }

    #[test]
    fn refresh_for_another_subject_is_refused() {
        let t0 = Instant::now();
        let mut s =
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
        s.try_begin_verification();
        s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, at(UNIX), RULES);
        s.try_begin_verification();
        match s.finish_verification(Ok(verified("mallory", UNIX + 10)), t0, at(UNIX), RULES) {
            Outcome::Refused(e) => assert_eq!(e.code(), ErrorCode::InvalidToken),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(s.claims().is_none());
    }

    #[test]
    fn failure_closes_and_later_results_are_ignored() {
        let t0 = Instant::now();
        let mut s = SessionState::<String>::pending(
            t0,
            Duration::from_secs(5),
            permit(),
            Namespace::new("/"),
        );
        s.try_begin_verification();
        let out = s.finish_verification(Err(ErrorCode::InvalidToken.into()), t0, at(UNIX), RULES);
        assert!(matches!(out, Outcome::Refused(_)));
        let out = s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, at(UNIX), RULES);
        assert!(matches!(out, Outcome::Ignored));
    }

    #[test]
    fn timeout_also_bounds_a_running_verification() {
        let t0 = Instant::now();
        let mut s = SessionState::<String>::pending(
            t0,
            Duration::from_secs(5),
            permit(),
            Namespace::new("/"),
        );
        s.try_begin_verification();
        let err = refusal(s.on_deadline(t0 + Duration::from_secs(6), at(UNIX))).unwrap();
        assert_eq!(err.code(), ErrorCode::Timeout);
        let out = s.finish_verification(
            Ok(verified("alice", UNIX + 10)),
            t0 + Duration::from_secs(6),
            at(UNIX),
            RULES,
        );
        assert!(
            matches!(out, Outcome::Ignored),
            "a late success does not revive the socket"
        );
    }

    mod hostile_times {
        //! Any `exp` a token can carry, at any wall-clock time: no panic, no overflow, and the
        //! expiry is enforced when it is due (the deadline queue included, beyond its range).
        use super::*;
        use crate::deadlines::{Armed, MAX_QUEUE_WAIT};
        use crate::time::FAR_FUTURE;
        use proptest::prelude::*;
        use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

        /// `exp` values from every class: past, near, far (beyond the queue's ~795 days), and the
        /// extremes.
        fn any_exp() -> impl Strategy<Value = u64> {
            prop_oneof![
                Just(0u64),
                Just(u64::MAX),
                Just(u64::MAX - 1),
                Just(i64::MAX as u64),
                (i64::MAX as u64)..=u64::MAX,
                0u64..=4_000_000_000,
                any::<u64>(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn any_exp_gives_a_deadline_that_is_enforced(
                exp in any_exp(),
                now_unix in prop_oneof![Just(0u64), 0u64..=4_000_000_000, any::<u64>()],
                leeway_ms in prop_oneof![Just(0u64), 0u64..=3_600_000, any::<u64>()],
                warning_ms in prop_oneof![Just(None), (1u64..=u64::MAX).prop_map(Some)],
            ) {
                let t0 = Instant::now();
                let now_wall = Duration::from_secs(now_unix);
                let rules = ExpiryRules {
                    leeway: Duration::from_millis(leeway_ms),
                    warning: warning_ms.map(Duration::from_millis),
                };
                let mut s =
                    SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
                s.try_begin_verification();
                let out = s.finish_verification(Ok(verified("alice", exp)), t0, now_wall, rules);
                prop_assert!(matches!(out, Outcome::FirstAuthentication(_)));
                let deadline = s.deadline().expect("an exp gives a deadline");
                prop_assert!(deadline >= t0);
                prop_assert!(deadline <= t0 + FAR_FUTURE);
                // The expiry, exactly when it is within the timer's range.
                let left = until_unix(exp, rules.leeway, now_wall);
                if left < FAR_FUTURE {
                    let expiry = t0 + left;
                    prop_assert!(deadline <= expiry);
                    if expiry > t0 {
                        let before = s.on_deadline(expiry - Duration::from_nanos(1), now_wall);
                        prop_assert!(!matches!(before, Some(Due::Refuse(_))));
                    }
                    let due = s.on_deadline(expiry, now_wall + left);
                    prop_assert!(
                        matches!(due, Some(Due::Refuse(ref e)) if e.code() == ErrorCode::TokenExpired),
                        "refused at exp + leeway, got {due:?}"
                    );
                } else {
                    // Beyond 30 years: still authenticated a year from now.
                    let year = Duration::from_secs(365 * 24 * 3600);
                    let due = s.on_deadline(t0 + year, now_wall + year);
                    prop_assert!(!matches!(due, Some(Due::Refuse(_))), "{due:?}");
                    prop_assert!(s.is_authenticated());
                }
            }
        }

        /// A session whose deadline entry counts what came due, driven by the real queue.
        struct Probe {
            session: std::sync::Weak<Session<String>>,
            wall_base: Duration,
            t0: Instant,
            wakes: AtomicUsize,
            warned: AtomicUsize,
            expired_at_ms: AtomicU64,
            armed: Armed,
        }

        impl Expire for Probe {
            fn armed(&self) -> &Armed {
                &self.armed
            }
            fn expire(self: Arc<Self>) {
                self.wakes.fetch_add(1, Ordering::SeqCst);
                let Some(session) = self.session.upgrade() else {
                    return;
                };
                let now = Instant::now();
                let wall = self.wall_base + (now - self.t0);
                match session.update(|st| st.on_deadline(now, wall)) {
                    Some(Due::Warn(_)) => {
                        self.warned.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(Due::Refuse(_)) => {
                        let ms = u64::try_from((now - self.t0).as_millis()).unwrap_or(u64::MAX);
                        self.expired_at_ms.store(ms, Ordering::SeqCst);
                    }
                    None => {}
                }
            }
        }

        fn session_with(
            deadlines: &Arc<Deadlines>,
            exp: u64,
            warning: Option<Duration>,
        ) -> (Arc<Session<String>>, Arc<Probe>) {
            let t0 = Instant::now();
            let wall_base = Duration::from_secs(UNIX);
            let probe = std::cell::RefCell::new(None);
            let session = Session::new(
                SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/")),
                None,
                deadlines.clone(),
                |me| {
                    let p = Arc::new(Probe {
                        session: me,
                        wall_base,
                        t0,
                        wakes: AtomicUsize::new(0),
                        warned: AtomicUsize::new(0),
                        expired_at_ms: AtomicU64::new(0),
                        armed: Armed::default(),
                    });
                    *probe.borrow_mut() = Some(p.clone());
                    p
                },
            );
            session.update(|st| {
                st.try_begin_verification();
                let rules = ExpiryRules {
                    leeway: Duration::ZERO,
                    warning,
                };
                st.finish_verification(Ok(verified("alice", exp)), t0, wall_base, rules)
            });
            let probe = probe.into_inner().expect("the probe was made");
            (session, probe)
        }

        /// 900 days (beyond the queue's ~795-day range): no panic, one re-check a day, the
        /// warning and the expiry exactly on time.
        #[tokio::test(start_paused = true)]
        async fn a_token_for_900_days_expires_on_time() {
            let deadlines = Arc::new(Deadlines::default());
            let days = |n: u64| Duration::from_secs(n * 24 * 3600);
            let (session, probe) = session_with(
                &deadlines,
                UNIX + days(900).as_secs(),
                Some(Duration::from_secs(60)),
            );
            tokio::time::sleep(days(3) + Duration::from_secs(1)).await;
            assert_eq!(probe.wakes.load(Ordering::SeqCst), 3, "one re-check a day");
            assert!(session.read(|st| st.is_authenticated()));
            tokio::time::sleep(days(897) - Duration::from_secs(2)).await;
            assert_eq!(
                probe.warned.load(Ordering::SeqCst),
                1,
                "warned 60 s before exp"
            );
            assert_eq!(probe.expired_at_ms.load(Ordering::SeqCst), 0);
            tokio::time::sleep(Duration::from_secs(2)).await;
            let expired_ms = probe.expired_at_ms.load(Ordering::SeqCst);
            assert_eq!(
                expired_ms,
                days(900).as_millis() as u64,
                "refused at exp exactly"
            );
            assert!(!session.read(|st| st.is_authenticated()));
            drop(session);
            assert_eq!(format!("{deadlines:?}"), "Deadlines { armed: 0 }");
        }

        /// The extremes: queued at the horizon, re-armed, and dropped without a trace.
        #[tokio::test(start_paused = true)]
        async fn extreme_exps_never_panic_and_leave_nothing_behind() {
            let deadlines = Arc::new(Deadlines::default());
            let mut held = Vec::new();
            for exp in [
                u64::MAX,
                u64::MAX - 1,
                i64::MAX as u64,
                UNIX + 10 * 365 * 24 * 3600,
            ] {
                held.push(session_with(&deadlines, exp, Some(Duration::from_secs(60))));
            }
            // And a near one beside them, which must fire on time.
            let (near, near_probe) = session_with(&deadlines, UNIX + 2, None);
            tokio::time::sleep(MAX_QUEUE_WAIT * 2 + Duration::from_secs(1)).await;
            assert_eq!(near_probe.expired_at_ms.load(Ordering::SeqCst), 2000);
            for (session, probe) in &held {
                assert_eq!(probe.wakes.load(Ordering::SeqCst), 2);
                assert!(session.read(|st| st.is_authenticated()));
            }
            drop((held, near));
            assert_eq!(format!("{deadlines:?}"), "Deadlines { armed: 0 }");
        }
    }
}
