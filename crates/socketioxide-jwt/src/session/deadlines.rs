//! A session's deadlines: what is due when its timer fires (an expiry, a warning, the end of a
//! refresh grace), when that is, and a refresh the server asks for.

use super::*;

impl<C> SessionState<C> {
    /// Called when the timer reaches [`Self::deadline`]: what is due, if the deadline has really
    /// passed (a refresh may have moved it). An expiry comes before a warning due at the same
    /// time. `now_unix` (the wall clock) measures how long the token has left.
    pub(crate) fn on_deadline(&mut self, now: Instant, now_unix: Duration) -> Option<Due> {
        let code =
            match &mut self.phase {
                Phase::Pending { deadline, .. } if *deadline <= now => ErrorCode::Timeout,
                Phase::Authenticated {
                    expires_at: Some(at),
                    ..
                } if *at <= now => ErrorCode::TokenExpired,
                Phase::Authenticated {
                    refresh_requested: Some(asked),
                    ..
                } if asked.by <= now => {
                    self.close();
                    return Some(Due::Refuse(AuthError::new(ErrorCode::TokenExpired).with_message(
                    "the server asked for a fresh token, and none came in time: log in again",
                )));
                }
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
        self.close();
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
                refresh_requested,
                ..
            } => [
                *expires_at,
                *warn_at,
                refresh_requested.as_ref().map(|r| r.by),
            ]
            .into_iter()
            .flatten()
            .min(),
            Phase::Guest { .. } | Phase::Closed { .. } => None,
        }
    }

    /// The server asks for a fresh token now (`request_refresh`): what to send the client (a
    /// `token_expiring` with nothing left), if the session is authenticated. Until a token
    /// issued from now on (`iat`) arrives, the session is refused `grace` from now. A pending
    /// session's first token must be issued since too.
    pub(crate) fn request_refresh(
        &mut self,
        now: Instant,
        since: u64,
        grace: Duration,
    ) -> Option<TokenExpiringPayload> {
        let Phase::Authenticated {
            exp,
            refresh_requested,
            live,
            ..
        } = &mut self.phase
        else {
            if let Phase::Pending { asked_since, .. } | Phase::Guest { asked_since, .. } =
                &mut self.phase
            {
                // Its first token may be in verification, checked before the request.
                *asked_since = Some(since.max(asked_since.unwrap_or(0)));
            }
            return None;
        };
        let by = deadline_after(now, grace);
        // A later request gives a full grace period for its own, later, `since`.
        match refresh_requested {
            Some(asked) if asked.since >= since => {}
            _ => *refresh_requested = Some(Box::new(RefreshRequested { by, since })),
        }
        if !*live {
            // Not told it is in yet: asked when it is (`refresh_awaited`, after `authenticated`).
            return None;
        }
        Some(TokenExpiringPayload::new(exp.unwrap_or_default(), 0))
    }

    /// The `exp` of a live session's token while a refresh it was asked for is still awaited.
    pub(crate) fn refresh_awaited(&self) -> Option<u64> {
        match &self.phase {
            Phase::Authenticated {
                refresh_requested: Some(_),
                live: true,
                exp,
                ..
            } => Some(exp.unwrap_or_default()),
            _ => None,
        }
    }
}
