//! Refreshes: one at a time, at most [`MAX_REFRESHES_PER_MINUTE`], tried again after a
//! backoff when one gets no token or no answer.

use super::{Effect, Machine, Now, State, Timer, MINUTE, REFRESH};
use crate::protocol::rules::{busy_backoff, MAX_REFRESHES_PER_MINUTE};
use crate::token::TokenRequest;

impl Machine {
    /// A refresh (timer, `token_expiring`, the application): one at a time, at most
    /// [`MAX_REFRESHES_PER_MINUTE`]; when the minute is full, later.
    pub(super) fn refresh(&mut self, now: Now) -> Vec<Effect> {
        let State::Authenticated { refreshing, .. } = &mut self.state else {
            return Vec::new();
        };
        if *refreshing {
            return Vec::new();
        }
        let window_start = now.instant.checked_sub(MINUTE);
        while self
            .refreshes
            .front()
            .is_some_and(|t| window_start.is_some_and(|start| *t <= start))
        {
            self.refreshes.pop_front();
        }
        if self.refreshes.len() >= MAX_REFRESHES_PER_MINUTE {
            let oldest = self.refreshes.front().copied().unwrap_or(now.instant);
            let wait = (oldest + MINUTE).saturating_duration_since(now.instant);
            return vec![Effect::SetTimer(Timer::Refresh, wait, self.epoch)];
        }
        self.refreshes.push_back(now.instant);
        *refreshing = true;
        self.fetch(TokenRequest::Refresh)
    }

    /// A refresh that got no token or no answer: tried again after a backoff, while connected.
    pub(super) fn refresh_failed(&mut self, now: Now) -> Vec<Effect> {
        let State::Authenticated {
            refreshing: refreshing @ true,
            ..
        } = &mut self.state
        else {
            return Vec::new();
        };
        *refreshing = false;
        self.awaiting[REFRESH] = None;
        let delay = busy_backoff(self.refresh_failures, now.jitter);
        self.refresh_failures = self.refresh_failures.saturating_add(1);
        vec![Effect::SetTimer(Timer::Refresh, delay, self.epoch)]
    }
}
