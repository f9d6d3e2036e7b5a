//! The session's main transition: a verification's result applied, as a first authentication or
//! a refresh, in named steps: [`admit`](SessionState::admit) (may this token take the session),
//! [`deadlines`](SessionState::deadlines) (when it expires, when it is warned),
//! [`refresh_still_requested`](SessionState::refresh_still_requested), and
//! [`carry_over`](SessionState::carry_over) (what the session keeps from its previous phase).

use std::time::Duration;

use tokio::time::Instant;

use super::{
    ExpiryRules, GoLive, Holdings, Live, Outcome, Phase, Refresh, RefreshRequested, SessionState,
    Stage,
};
use crate::error::AuthError;
use crate::metrics::SocketState;
use crate::protocol::ErrorCode;
use crate::revocation::{issued_since, LiveTicket};
use crate::time::{deadline_after, until_unix};
use crate::user_sockets::UserPlace;
use crate::verify::Verified;

/// A token's `iat` as the session keeps it: whole seconds, saturated to `u32` (to 2106; `iat`
/// is checked to be at most a minute ahead), `0` without one.
fn issued_at<C>(verified: &Verified<C>) -> u32 {
    verified
        .registered
        .iat
        .map_or(0, |iat| u32::try_from(iat).unwrap_or(u32::MAX))
}

/// When a token expires and is warned, measured when it was verified.
struct Deadlines {
    /// The monotonic instant of `exp` + leeway.
    expires_at: Option<Instant>,
    /// When `token_expiring` is due (none if this `exp` was warned already).
    warn_at: Option<Instant>,
    /// How long the token had left (without the leeway) when verified.
    expires_in: Option<Duration>,
}

/// What an authenticated phase is built from, besides the new token.
struct CarriedOver<C> {
    ticket: Option<LiveTicket>,
    place: Option<Box<UserPlace>>,
    counted: SocketState,
    /// The claims held before (a refresh), or `None` (a first authentication).
    before: Option<std::sync::Arc<C>>,
    /// Whether the socket had gone live already.
    was_live: bool,
}

impl<C> SessionState<C> {
    /// Applies the result of a verification started with [`Self::try_begin_verification`], in
    /// one step: a first authentication takes what it holds (acquired beforehand) and returns
    /// what going live needs; a refresh keeps what the session held.
    ///
    /// `exp` is measured against the wall clock the verification read
    /// ([`Verified::checked_at`]), and `now` is the monotonic time the expiry timer runs on.
    ///
    /// A refresh that started before one already applied, or whose token was issued before the
    /// held one (`iat`), changes nothing ([`Outcome::KeptNewer`]): refreshes never roll a
    /// socket back to older claims or an earlier `exp`. Refused, it still closes the socket.
    pub(crate) fn finish_verification_with(
        &mut self,
        result: Result<(Verified<C>, Holdings), AuthError>,
        stage: Stage,
        go_live: GoLive,
        now: Instant,
        rules: ExpiryRules,
    ) -> Outcome<C> {
        self.attempts.finish();
        let (verified, holdings) = match (&self.phase, result) {
            (Phase::Closed { .. }, _) => return Outcome::Ignored,
            // Finished past the authentication timeout with no timer to say so (handshake mode
            // arms one only if the verification waits; one that blocked in its first poll did
            // not): refused as the timer would have.
            (Phase::Pending { deadline, .. }, _) if *deadline <= now => {
                return self.close_with(AuthError::new(ErrorCode::Timeout));
            }
            (_, Err(err)) => return self.close_with(err),
            (_, Ok(verified)) => verified,
        };
        let session_start = match self.admit(&verified, rules) {
            Ok(session_start) => session_start,
            Err(err) => return self.close_with(err),
        };
        if let Stage::Refresh(number) = stage {
            if self.attempts.is_superseded(number) {
                return self.kept_newer(verified.checked_at);
            }
            // Finished in order, applied or not: the numbers compared stay close together
            // (they wrap at 256; a run of kept refreshes must not make a newer one look old).
            self.attempts.applied(number);
            if self.holds_newer_than(&verified) {
                return self.kept_newer(verified.checked_at);
            }
        }
        let exp = verified.registered.exp;
        let deadlines = self.deadlines(exp, now, verified.checked_at, rules);
        let refresh_requested = self.refresh_still_requested(&verified);
        let carried = self.carry_over(holdings);
        let iat = issued_at(&verified);
        let Verified { claims, user, .. } = verified;
        let live = Live {
            user: user.clone(),
            exp,
            expires_in: deadlines.expires_in,
            claims: claims.clone(),
        };
        self.phase = Phase::Authenticated {
            claims,
            user,
            exp,
            iat,
            session_start,
            expires_at: deadlines.expires_at,
            warn_at: deadlines.warn_at,
            refresh_requested,
            ticket: carried.ticket,
            place: carried.place,
            counted: carried.counted,
            // A refresh keeps it: one that arrives before the connect handler (handshake mode)
            // must not skip going live.
            live: if carried.before.is_some() {
                carried.was_live
            } else {
                go_live == GoLive::Now
            },
        };
        match carried.before {
            Some(before) => Outcome::Refreshed(Refresh { live, before }),
            None => Outcome::FirstAuthentication(live),
        }
    }

    /// Whether the held token was issued after `verified`'s (both with an `iat`: tokens
    /// without one cannot be ordered, and replace as they always did).
    fn holds_newer_than(&self, verified: &Verified<C>) -> bool {
        match &self.phase {
            Phase::Authenticated { iat: held, .. } if verified.registered.iat.is_some() => {
                issued_at(verified) < *held
            }
            _ => false,
        }
    }

    /// A refresh that changes nothing: what the session holds, to tell the client again.
    fn kept_newer(&self, now_unix: Duration) -> Outcome<C> {
        match self.live_view(now_unix) {
            Some(live) => Outcome::KeptNewer(live),
            None => Outcome::Ignored,
        }
    }

    /// Closes the session with `err`.
    fn close_with(&mut self, err: AuthError) -> Outcome<C> {
        self.close();
        Outcome::Refused(err)
    }

    /// Whether this token may take the session: a refresh is for the same user, within
    /// `max_session_age` of its login; a first token answers a refresh asked while it was
    /// being verified. Returns when its login session began.
    fn admit(&self, verified: &Verified<C>, rules: ExpiryRules) -> Result<u64, AuthError> {
        let now_unix = verified.checked_at;
        // A refreshed token's `auth_time` (a new login at the provider) starts a new session.
        let session_start = match (&self.phase, verified.registered.auth_time) {
            (_, Some(auth_time)) => auth_time,
            (Phase::Authenticated { session_start, .. }, None) => *session_start,
            (_, None) => now_unix.as_secs(),
        };
        if let Phase::Authenticated { user, .. } = &self.phase {
            if *user != verified.user {
                return Err(AuthError::new(ErrorCode::InvalidToken)
                    .with_message("the refresh token belongs to another subject"));
            }
            let age = now_unix.saturating_sub(Duration::from_secs(session_start));
            if rules.max_session_age.is_some_and(|max| age > max) {
                return Err(AuthError::new(ErrorCode::TokenExpired).with_message(
                    "the login session is older than max_session_age: log in again",
                ));
            }
        }
        // Asked while its first token was being verified: that token must be issued since.
        if let Phase::Pending {
            asked_since: Some(since),
            ..
        }
        | Phase::Guest {
            asked_since: Some(since),
            ..
        } = self.phase
        {
            let iat = verified.registered.iat;
            if !iat.is_some_and(|iat| issued_since(iat, since)) {
                return Err(AuthError::new(ErrorCode::TokenExpired).with_message(
                    "the claims changed since this token was issued: get a fresh one",
                ));
            }
        }
        Ok(session_start)
    }

    /// When a token with this `exp`, verified at `now_unix` (wall clock) and `now` (the
    /// monotonic clock of the timers), expires and is warned.
    fn deadlines(
        &self,
        exp: Option<u64>,
        now: Instant,
        now_unix: Duration,
        rules: ExpiryRules,
    ) -> Deadlines {
        // To the sub-second: the deadline is `exp` + leeway on the wall clock, not later. Any
        // `exp` a token can carry saturates (see `time`).
        let expires_at =
            exp.map(|exp| deadline_after(now, until_unix(exp, rules.leeway, now_unix)));
        // Once per token: a refresh with the same `exp` after the warning is not warned again.
        let warned = matches!(
            &self.phase,
            Phase::Authenticated { exp: old, warn_at: None, .. } if *old == exp
        );
        let expires_in = exp.map(|exp| until_unix(exp, Duration::ZERO, now_unix));
        let warn_at = match (rules.warning, expires_in) {
            (Some(lead), Some(left)) if !warned => {
                Some(deadline_after(now, left - lead.min(left / 2)))
            }
            _ => None,
        };
        Deadlines {
            expires_at,
            warn_at,
            expires_in,
        }
    }

    /// A refresh the server asked for is done by a token issued since it asked (its `iat`;
    /// without one, by another token than the one held); another refresh leaves the request
    /// pending (and the client is asked again).
    fn refresh_still_requested(&self, verified: &Verified<C>) -> Option<Box<RefreshRequested>> {
        let Phase::Authenticated {
            refresh_requested: Some(asked),
            exp: held_exp,
            ..
        } = &self.phase
        else {
            return None;
        };
        let fresh = match verified.registered.iat {
            Some(iat) => issued_since(iat, asked.since),
            None => *held_exp != verified.registered.exp,
        };
        (!fresh).then(|| asked.clone())
    }

    /// Leaves the current phase, keeping what the new one needs: a refresh keeps the
    /// revocation entry (pointed at the new token) and the user's place; a first authentication
    /// takes its own, and drops the pending place with the phase.
    fn carry_over(&mut self, holdings: Holdings) -> CarriedOver<C> {
        let closed = Phase::Closed {
            was: None,
            user: None,
        };
        match std::mem::replace(&mut self.phase, closed) {
            Phase::Authenticated {
                ticket,
                place,
                counted,
                claims,
                live,
                ..
            } => CarriedOver {
                // The new token's own entry (tracked before its check) replaces the old one;
                // without a revocation list there is neither.
                ticket: holdings.ticket.or(ticket),
                place,
                counted,
                before: Some(claims),
                was_live: live,
            },
            _ => CarriedOver {
                ticket: holdings.ticket,
                place: holdings.place.map(Box::new),
                counted: SocketState::enter("authenticated", &self.ns),
                before: None,
                was_live: false,
            },
        }
    }
}
