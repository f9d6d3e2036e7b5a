//! The per-socket authentication state machine: pending → authenticated (→ refreshed …) → closed.
//!
//! Plain code: every transition takes the current time as an argument, so it is unit-tested
//! without sockets or sleeps. The gate owns the timers and the I/O.
//!
//! Each phase owns what only it needs: a pending socket holds its place under `max_pending`
//! (a [`PendingPermit`]), an authenticated one its entry in the revocation list (a
//! [`LiveTicket`]). Leaving the phase drops them; no code releases them by hand.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AuthError;
use crate::identity::UserId;
use crate::limits::{Attempts, PendingPermit};
use crate::metrics::{Namespace, SocketState};
use crate::protocol::{ErrorCode, TokenExpiringPayload};
use crate::revocation::LiveTicket;
use crate::time::{deadline_after, until_unix};
use crate::user_sockets::UserPlace;
#[cfg(test)]
use crate::verify::Verified;

/// How a token's expiry is enforced (`leeway`) and announced (`warning`: how long before `exp`,
/// at most half the remaining lifetime; `None`: never).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExpiryRules {
    pub(crate) leeway: Duration,
    pub(crate) warning: Option<Duration>,
    /// How long a login session may last, from the token's `auth_time` or else the socket's
    /// first authentication: a refresh after it is refused.
    pub(crate) max_session_age: Option<Duration>,
}

/// A refresh the server asked for: a token issued at or after `since` (seconds since the
/// epoch) must arrive before `by`.
#[derive(Debug, Clone, Copy)]
struct RefreshRequested {
    by: Instant,
    since: u64,
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
        /// A refresh was requested meanwhile (seconds since the epoch): the first token must
        /// be issued since.
        asked_since: Option<u64>,
    },
    /// A guest: connected without a valid token to a namespace that admits guests, for as
    /// long as it likes; an `authenticate` makes it an authenticated socket.
    Guest {
        /// Its place under the guests' caps, given back when the phase ends.
        _place: PendingPermit,
        /// Counted as a guest in the metrics while the phase lasts.
        _counted: SocketState,
        /// As [`Phase::Pending`]'s: a refresh requested while its first token is verified.
        asked_since: Option<u64>,
    },
    /// Verified; refused at `expires_at` (from `exp` + leeway) unless refreshed.
    Authenticated {
        claims: Arc<C>,
        /// The token's user (`iss`, `sub`): a refresh must carry the same one.
        user: Option<UserId>,
        /// The token's `exp`, seconds since the Unix epoch.
        exp: Option<u64>,
        /// The token's `iat` (see `finish::issued_at`): a refresh with an older one does not
        /// replace it.
        iat: u32,
        /// When the login session began (the token's `auth_time`, else the first
        /// authentication), seconds since the Unix epoch.
        session_start: u64,
        expires_at: Option<Instant>,
        /// When to send `token_expiring`; `None` once sent for this token, or when off.
        warn_at: Option<Instant>,
        /// The server asked for a fresh token (`request_refresh`): until one comes, refused at
        /// this deadline. Boxed: a pointer in every session, the request only where one was made.
        refresh_requested: Option<Box<RefreshRequested>>,
        /// Its entry in the revocation list, once tracked; removed when the phase ends.
        ticket: Option<LiveTicket>,
        /// Its place under `max_sockets_per_user`, once taken; given back when the phase ends.
        /// Boxed: a pointer in every session, the place only where a cap is set.
        place: Option<Box<UserPlace>>,
        /// Counted as authenticated in the metrics while the phase lasts.
        counted: SocketState,
        /// Whether the gate went live (the application's handler ran). Handshake mode verifies
        /// in the connect middleware and goes live in the connect handler, after socketioxide
        /// added the socket to its namespace.
        live: bool,
    },
    /// Refused or expired: nothing more happens. `was`: the claims it was authenticated with,
    /// for its disconnect handlers (who left), until the socket is gone.
    Closed {
        was: Option<Arc<C>>,
        /// Who it was authenticated as.
        user: Option<UserId>,
    },
}

/// What a socket holds while authenticated, acquired before the one update that authenticates
/// it: its entry in the revocation list and its place under the per-user cap.
#[derive(Debug, Default)]
pub(crate) struct Holdings {
    pub(crate) ticket: Option<LiveTicket>,
    pub(crate) place: Option<UserPlace>,
}

/// When the gate goes live after a first authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoLive {
    /// At once (message mode: the `authenticate` handler).
    Now,
    /// In the connect handler, which takes it with [`SessionState::take_live`] (handshake mode).
    InConnectHandler,
}

/// What the gate needs from an authenticated session: who, until when, and the claims.
#[derive(Debug)]
pub(crate) struct Live<C> {
    pub(crate) user: Option<UserId>,
    pub(crate) exp: Option<u64>,
    /// How long until `exp` by the wall clock read when the session went live or was refreshed
    /// (what `authenticated` tells the client).
    pub(crate) expires_in: Option<Duration>,
    pub(crate) claims: Arc<C>,
}

/// A refresh: the session now, and the claims before (for the rooms they granted).
#[derive(Debug)]
pub(crate) struct Refresh<C> {
    pub(crate) live: Live<C>,
    pub(crate) before: Arc<C>,
}

/// What a finished verification did to the session.
#[derive(Debug)]
pub(crate) enum Outcome<C> {
    /// Pending → authenticated: the application's handlers go live.
    FirstAuthentication(Live<C>),
    /// Authenticated → authenticated with fresh claims and a later expiry.
    Refreshed(Refresh<C>),
    /// A refresh that changed nothing: the socket keeps the token it holds, which is newer (a
    /// later-started refresh was applied first, or the refresh's token was issued before the
    /// held one). What the socket holds, to tell the client again.
    KeptNewer(Live<C>),
    /// The socket must be refused with this error.
    Refused(AuthError),
    /// The session was already closed: nothing to do.
    Ignored,
}

/// Which verification [`SessionState::try_begin_verification`] started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The first token of a pending socket.
    First,
    /// A refresh of an authenticated one, numbered in the order refreshes started.
    Refresh(u8),
}

/// The state machine itself.
#[derive(Debug)]
pub(crate) struct SessionState<C> {
    phase: Phase<C>,
    /// `authenticate` events in the current minute, and whether one is being verified.
    attempts: Attempts,
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
                asked_since: None,
            },
            attempts: Attempts::new(now),
            ns,
        }
    }

    /// A guest session on namespace `ns`, holding `place` under the guests' caps.
    pub(crate) fn guest(now: Instant, place: PendingPermit, ns: Namespace) -> Self {
        Self {
            phase: Phase::Guest {
                _place: place,
                _counted: SocketState::enter("guest", &ns),
                asked_since: None,
            },
            attempts: Attempts::new(now),
            ns,
        }
    }

    /// Whether the socket is a guest.
    pub(crate) fn is_guest(&self) -> bool {
        matches!(self.phase, Phase::Guest { .. })
    }

    /// Goes live in the connect handler (handshake mode): the session, if it is authenticated
    /// and not live yet. `now_unix` reads the wall clock (only then).
    pub(crate) fn take_live(&mut self, now_unix: impl FnOnce() -> Duration) -> Option<Live<C>> {
        match &mut self.phase {
            Phase::Authenticated {
                live: live @ false, ..
            } => *live = true,
            _ => return None,
        }
        self.live_view(now_unix())
    }

    /// What an authenticated session holds, as going live (or a kept refresh) tells it;
    /// `now_unix`: the wall clock its time left is measured against.
    fn live_view(&self, now_unix: Duration) -> Option<Live<C>> {
        match &self.phase {
            Phase::Authenticated {
                claims, user, exp, ..
            } => Some(Live {
                user: user.clone(),
                exp: *exp,
                expires_in: exp.map(|exp| until_unix(exp, Duration::ZERO, now_unix)),
                claims: claims.clone(),
            }),
            _ => None,
        }
    }

    /// Records an `authenticate` event; `false` if the socket sent too many this minute.
    pub(crate) fn record_attempt(&mut self, now: Instant, max_per_minute: u32) -> bool {
        self.attempts.record(now, max_per_minute)
    }

    /// Claims a verification slot: which one, or `None` if the session is closed, its first
    /// token is being verified, or [`MAX_REFRESHES_IN_FLIGHT`](crate::limits::MAX_REFRESHES_IN_FLIGHT) refreshes are. Bounding them
    /// bounds the work a socket can cause; letting a second refresh start beside a slow one
    /// keeps the newer token from being dropped (the older one, finishing after it, is then
    /// not applied).
    pub(crate) fn try_begin_verification(&mut self) -> Option<Stage> {
        match self.phase {
            Phase::Closed { .. } => None,
            Phase::Pending { .. } | Phase::Guest { .. } => {
                self.attempts.begin_first().then_some(Stage::First)
            }
            Phase::Authenticated { .. } => self.attempts.begin_refresh().map(Stage::Refresh),
        }
    }

    /// [`Self::finish_verification_with`] with nothing held, going live at once.
    #[cfg(test)]
    pub(crate) fn finish_verification(
        &mut self,
        result: Result<Verified<C>, AuthError>,
        now: Instant,
        now_unix: Duration,
        rules: ExpiryRules,
    ) -> Outcome<C> {
        let result = result.map(|v| {
            let checked_at = now_unix;
            (Verified { checked_at, ..v }, Holdings::default())
        });
        // The verification begun by the test, or one begun here.
        let stage = match &self.phase {
            Phase::Authenticated { .. } if self.attempts.verifying() => {
                Stage::Refresh(self.attempts.last_started())
            }
            _ if self.attempts.verifying() => Stage::First,
            _ => self.try_begin_verification().unwrap_or(Stage::First),
        };
        self.finish_verification_with(result, stage, GoLive::Now, now, rules)
    }

    /// Marks the session closed (the socket is being refused), keeping the claims it was
    /// authenticated with for its disconnect handlers.
    pub(crate) fn close(&mut self) {
        let closed = Phase::Closed {
            was: None,
            user: None,
        };
        self.phase = match std::mem::replace(&mut self.phase, closed) {
            Phase::Authenticated { claims, user, .. } => Phase::Closed {
                was: Some(claims),
                user,
            },
            closed @ Phase::Closed { .. } => closed,
            Phase::Pending { .. } | Phase::Guest { .. } => Phase::Closed {
                was: None,
                user: None,
            },
        };
    }

    /// The verified claims, if authenticated.
    pub(crate) fn claims(&self) -> Option<Arc<C>> {
        match &self.phase {
            Phase::Authenticated { claims, .. } => Some(claims.clone()),
            _ => None,
        }
    }

    /// The claims a disconnect handler sees: the current ones, or those the socket was
    /// authenticated with when it was refused.
    pub(crate) fn claims_at_disconnect(&self) -> Option<Arc<C>> {
        match &self.phase {
            Phase::Authenticated { claims, .. } => Some(claims.clone()),
            Phase::Closed { was, .. } => was.clone(),
            Phase::Pending { .. } | Phase::Guest { .. } => None,
        }
    }

    /// Who the socket is (or was, when refused) authenticated as: the user a disconnect
    /// handler, or any other, names.
    pub(crate) fn user(&self) -> Option<UserId> {
        match &self.phase {
            Phase::Authenticated { user, .. } | Phase::Closed { user, .. } => user.clone(),
            Phase::Pending { .. } | Phase::Guest { .. } => None,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed { .. })
    }

    #[cfg(test)]
    pub(crate) fn is_authenticated(&self) -> bool {
        matches!(self.phase, Phase::Authenticated { .. })
    }
}

mod deadlines;
mod finish;
mod handle;
mod registry;
pub(crate) use self::handle::{session_of, Session};
pub(crate) use self::registry::{count as sessions_held, SessionGuard};

#[cfg(test)]
mod tests;
