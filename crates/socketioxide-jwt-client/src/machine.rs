//! The client's state machine: what to do on each event, with no I/O and no clock of its own.
//!
//! [`Machine::step`] takes an [`Input`] (something the server, the transport, the token source,
//! a timer or the application did) and the time ([`Now`]), updates the [`State`], and returns
//! the [`Effect`]s for the glue ([`crate::driver`]) to carry out. Everything the client decides
//! (when to refresh, whether a refusal can be recovered from, how long to wait after
//! `server_busy`) is here, and unit-tested without sockets.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AuthError;
use crate::protocol::rules::{busy_backoff, refresh_delay};
use crate::protocol::{AuthenticatedPayload, ErrorCode, WireCode};
use crate::token::{TokenError, TokenRequest};

/// The settings the machine decides with.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) mode: Mode,
    /// Refresh this long before `exp` (never later than half the time left).
    pub(crate) refresh_margin: Duration,
    /// Ask for a new token after `token_expired` / `revoked`, at most this many times in a row
    /// (`None`: never).
    pub(crate) max_recoveries: Option<u32>,
    /// Connect again after the server closed the connection (without `unauthorized`).
    pub(crate) reconnect: bool,
}

const MINUTE: Duration = Duration::from_secs(60);

/// Token requests answer one of two questions: a token for the connection, or for a refresh.
const CONNECTION: usize = 0;
const REFRESH: usize = 1;

fn slot_of(request: TokenRequest) -> usize {
    match request {
        TokenRequest::Refresh => REFRESH,
        _ => CONNECTION,
    }
}

/// The client's state machine.
#[derive(Debug)]
pub(crate) struct Machine {
    rules: Rules,
    state: State,
    /// Recoveries (a new token after a refusal) in a row.
    recoveries: u32,
    /// `server_busy` answers and failed opens in a row.
    busy_attempts: u32,
    /// The server closing short-lived connections, in a row.
    server_closes: u32,
    /// Refreshes that failed (no token, no answer) in a row.
    refresh_failures: u32,
    /// When the client last authenticated (a connection the server closes soon after is a kick).
    authenticated_at: Option<Instant>,
    /// The token last sent: what a refusal refers to.
    last_token: Option<String>,
    /// A token fetched after a refusal, for the next connection.
    next_token: Option<String>,
    /// When the refreshes of the rolling minute started.
    refreshes: VecDeque<Instant>,
    /// Whether the namespace connected before (a `Reconnect` token from then on).
    connected_before: bool,
    /// The namespace is connected now (and the server has not refused on it).
    connected: bool,
    /// The transport waits for the token of its handshake ([`Input::HandshakeAuth`]).
    handshake_waiting: bool,
    /// The token requests whose answer is awaited, by slot: any other answer is stale.
    awaiting: [Option<u64>; 2],
    requests: u64,
    /// Bumped whenever pending timers no longer apply.
    epoch: u64,
    /// `authenticated` answers so far: what [`AuthClient::refresh`](crate::AuthClient::refresh)
    /// waits for.
    authentications: u64,
    /// The token source's failures so far, and the last one.
    token_failures: u64,
    last_token_error: Option<TokenError>,
}

impl Machine {
    pub(crate) fn new(rules: Rules) -> Self {
        Self {
            rules,
            state: State::CONNECTING,
            recoveries: 0,
            busy_attempts: 0,
            server_closes: 0,
            refresh_failures: 0,
            authenticated_at: None,
            last_token: None,
            next_token: None,
            refreshes: VecDeque::new(),
            connected_before: false,
            connected: false,
            handshake_waiting: false,
            awaiting: [None; 2],
            requests: 0,
            epoch: 0,
            authentications: 0,
            token_failures: 0,
            last_token_error: None,
        }
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    pub(crate) fn authentications(&self) -> u64 {
        self.authentications
    }

    /// How many times the token source failed, and its last failure.
    pub(crate) fn token_failures(&self) -> (u64, Option<&TokenError>) {
        (self.token_failures, self.last_token_error.as_ref())
    }

    /// One step: the new state is in [`Machine::state`], the effects are returned.
    pub(crate) fn step(&mut self, input: Input, now: Now) -> Vec<Effect> {
        if let Input::Token(_, _, Err(e)) = &input {
            self.token_failures += 1;
            self.last_token_error = Some(e.clone());
        }
        match (&self.state, input) {
            (State::Closed, _) => Vec::new(),
            (_, Input::Close) => self.close(),
            // Refused for good: a reconnect of the transport is stopped.
            (State::Refused(_), Input::Connected | Input::ConnectionLost | Input::ServerClosed) => {
                vec![Effect::Shutdown]
            }
            (State::Refused(_), _) => Vec::new(),
            (_, Input::Start) => self.open(TokenRequest::Connect),
            (_, Input::HandshakeAuth) => self.handshake_auth(),
            (_, Input::Connected) => self.connected(),
            (_, Input::ConnectionLost) => self.lost(),
            (_, Input::ServerClosed) => self.server_closed(now),
            (_, Input::ConnectRefused(err)) if err.code == WireCode::ServerBusy => self.busy(now),
            // Waited out like `server_busy`: exponential backoff, then a new connection.
            (_, Input::OpenFailed) => self.busy(now),
            (_, Input::ConnectRefused(err) | Input::Unauthorized(err)) => self.refused(err),
            (_, Input::Authenticated(info)) => self.authenticated(info, now),
            (_, Input::TokenExpiring | Input::RefreshRequested) => self.refresh(now),
            (_, Input::RefreshUnanswered) => self.refresh_failed(now),
            (_, Input::TimerFired(_, epoch)) if epoch != self.epoch => Vec::new(),
            (_, Input::TimerFired(Timer::Refresh, _)) => self.refresh(now),
            (State::Waiting, Input::TimerFired(Timer::BusyRetry, _)) => {
                self.state = State::CONNECTING;
                self.open(TokenRequest::Reconnect)
            }
            (_, Input::TimerFired(Timer::BusyRetry, _)) => Vec::new(),
            (_, Input::Token(request, id, _)) if self.awaiting[slot_of(request)] != Some(id) => {
                Vec::new() // stale: a later request, or none, is awaited
            }
            (_, Input::Token(request, _, result)) => {
                self.awaiting[slot_of(request)] = None;
                match result {
                    Ok(token) => self.token(request, token),
                    Err(e) => self.token_failed(request, e, now),
                }
            }
        }
    }

    fn fetch(&mut self, request: TokenRequest) -> Vec<Effect> {
        self.requests += 1;
        self.awaiting[slot_of(request)] = Some(self.requests);
        vec![Effect::FetchToken(request, self.requests)]
    }

    fn recovering(&self) -> bool {
        matches!(
            self.state,
            State::Connecting {
                recovering: Some(_)
            }
        )
    }

    /// A new connection: in handshake mode the token goes with it, so it is fetched first.
    fn open(&mut self, request: TokenRequest) -> Vec<Effect> {
        self.connected = false;
        match self.rules.mode {
            Mode::Message => vec![Effect::Open(None)],
            Mode::Handshake => match self.next_token.take() {
                Some(token) => self.open_with(token),
                None => self.fetch(request),
            },
        }
    }

    fn open_with(&mut self, token: String) -> Vec<Effect> {
        self.connected = false;
        self.last_token = Some(token.clone());
        vec![Effect::Open(Some(token))]
    }

    /// The transport's own handshake: the token fetched after a refusal, else a current one.
    fn handshake_auth(&mut self) -> Vec<Effect> {
        if let Some(token) = self.next_token.take() {
            return self.handshake_with(token);
        }
        self.handshake_waiting = true;
        // After a refusal, the handshake waits for the new token: the current one is the refused.
        if self.recovering() {
            return Vec::new();
        }
        self.fetch(TokenRequest::Reconnect)
    }

    fn handshake_with(&mut self, token: String) -> Vec<Effect> {
        self.handshake_waiting = false;
        self.last_token = Some(token.clone());
        vec![Effect::HandshakeToken(token)]
    }

    fn connected(&mut self) -> Vec<Effect> {
        let request = if self.connected_before {
            TokenRequest::Reconnect
        } else {
            TokenRequest::Connect
        };
        self.connected_before = true;
        self.connected = true;
        self.not_authenticated();
        if !self.recovering() {
            // Back in, from waiting too: the transport reconnected by itself.
            self.state = State::CONNECTING;
        }
        match self.rules.mode {
            Mode::Handshake => Vec::new(),
            Mode::Message => match self.next_token.take() {
                Some(token) => self.send(token),
                // After a refusal, the new token goes on this connection once fetched.
                None if self.recovering() => Vec::new(),
                None => self.fetch(request),
            },
        }
    }

    fn send(&mut self, token: String) -> Vec<Effect> {
        self.last_token = Some(token.clone());
        vec![Effect::Authenticate(token)]
    }

    /// The transport lost the connection and reconnects by itself.
    fn lost(&mut self) -> Vec<Effect> {
        self.connected = false;
        // Waiting out a busy server: its timer still stands.
        if !matches!(self.state, State::Waiting) {
            self.not_authenticated();
        }
        Vec::new()
    }

    /// The server closed the connection without `unauthorized` (a restart, the application's
    /// own disconnect): connect again after a backoff that grows while the server keeps closing
    /// connections soon after they authenticate (a kick is not answered by a reconnect a second).
    fn server_closed(&mut self, now: Now) -> Vec<Effect> {
        self.connected = false;
        // After `unauthorized`, the recovery under way opens the next connection.
        if self.recovering() {
            return Vec::new();
        }
        if !self.rules.reconnect {
            self.not_authenticated();
            return Vec::new();
        }
        let lived = self.authenticated_at.map_or(Duration::ZERO, |at| {
            now.instant.saturating_duration_since(at)
        });
        if lived >= MINUTE {
            self.server_closes = 0;
        }
        let attempt = self.server_closes;
        self.server_closes = self.server_closes.saturating_add(1);
        self.wait(now, attempt)
    }

    /// Until the next `authenticated`, the client is not authenticated: its timers and a
    /// refresh in flight no longer apply.
    fn not_authenticated(&mut self) {
        if matches!(self.state, State::Authenticated { .. }) {
            self.state = State::CONNECTING;
        }
        self.awaiting[REFRESH] = None;
        self.epoch += 1;
    }

    fn authenticated(&mut self, info: AuthenticatedPayload, now: Now) -> Vec<Effect> {
        self.recoveries = 0;
        self.busy_attempts = 0;
        self.refresh_failures = 0;
        self.authenticated_at = Some(now.instant);
        self.authentications += 1;
        self.epoch += 1;
        let delay = refresh_delay(&info, self.rules.refresh_margin, now.unix);
        self.state = State::Authenticated {
            info,
            refreshing: false,
        };
        match delay {
            Some(delay) => vec![Effect::SetTimer(Timer::Refresh, delay, self.epoch)],
            None => Vec::new(),
        }
    }

    fn token(&mut self, request: TokenRequest, token: String) -> Vec<Effect> {
        match request {
            TokenRequest::Refresh => match self.state {
                State::Authenticated {
                    refreshing: true, ..
                } => {
                    self.last_token = Some(token.clone());
                    vec![Effect::SendRefresh(token)]
                }
                _ => Vec::new(),
            },
            TokenRequest::Expired | TokenRequest::Revoked => self.recovered(token),
            TokenRequest::Connect | TokenRequest::Reconnect => match self.rules.mode {
                Mode::Handshake if self.handshake_waiting => self.handshake_with(token),
                Mode::Handshake => self.open_with(token),
                Mode::Message if matches!(self.state, State::Connecting { .. }) => self.send(token),
                Mode::Message => Vec::new(),
            },
        }
    }

    /// The new token after a refusal: on the connection the transport made meanwhile, or a new
    /// one.
    fn recovered(&mut self, token: String) -> Vec<Effect> {
        let State::Connecting {
            recovering: Some(refusal),
        } = &self.state
        else {
            return Vec::new();
        };
        let refusal = refusal.clone();
        if self.last_token.as_deref() == Some(token.as_str()) {
            // The source gave the refused token again: never retried.
            return self.refused_for_good(Refusal::Server(refusal));
        }
        self.recoveries += 1;
        self.state = State::CONNECTING;
        match self.rules.mode {
            Mode::Handshake if self.handshake_waiting => self.handshake_with(token),
            Mode::Handshake => self.open_with(token),
            Mode::Message if self.connected => self.send(token),
            Mode::Message => {
                self.next_token = Some(token);
                self.connected = false;
                vec![Effect::Open(None)]
            }
        }
    }

    fn token_failed(&mut self, request: TokenRequest, error: TokenError, now: Now) -> Vec<Effect> {
        match (request, &self.state) {
            (TokenRequest::Refresh, _) => self.refresh_failed(now),
            (
                TokenRequest::Expired | TokenRequest::Revoked,
                State::Connecting {
                    recovering: Some(refusal),
                },
            ) => {
                let refusal = refusal.clone();
                self.refused_for_good(Refusal::Server(refusal))
            }
            (TokenRequest::Connect | TokenRequest::Reconnect, _) => {
                self.handshake_waiting = false;
                self.refused_for_good(Refusal::Token(error))
            }
            _ => Vec::new(),
        }
    }

    /// `unauthorized`, or a refused handshake: a new token when that can help, else the end.
    fn refused(&mut self, err: AuthError) -> Vec<Effect> {
        self.not_authenticated();
        // The server closes the connection it refused on.
        self.connected = false;
        let allowed = self
            .rules
            .max_recoveries
            .is_some_and(|max| self.recoveries < max);
        if !(err.code.is_recoverable() && allowed) {
            return self.refused_for_good(Refusal::Server(err));
        }
        let request = if err.code == WireCode::Contract(ErrorCode::Revoked) {
            TokenRequest::Revoked
        } else {
            TokenRequest::Expired
        };
        self.state = State::Connecting {
            recovering: Some(err),
        };
        self.fetch(request)
    }

    fn refused_for_good(&mut self, refusal: Refusal) -> Vec<Effect> {
        self.epoch += 1;
        self.awaiting = [None; 2];
        self.state = State::Refused(refusal);
        vec![Effect::Shutdown]
    }

    /// `server_busy` or a transport failure is not a refusal: wait, visibly, then connect again.
    fn busy(&mut self, now: Now) -> Vec<Effect> {
        let attempt = self.busy_attempts;
        self.busy_attempts = self.busy_attempts.saturating_add(1);
        self.wait(now, attempt)
    }

    fn wait(&mut self, now: Now, attempt: u32) -> Vec<Effect> {
        self.not_authenticated();
        self.connected = false;
        let delay = busy_backoff(attempt, now.jitter);
        self.state = State::Waiting;
        vec![Effect::SetTimer(Timer::BusyRetry, delay, self.epoch)]
    }

    fn close(&mut self) -> Vec<Effect> {
        self.epoch += 1;
        self.awaiting = [None; 2];
        self.state = State::Closed;
        vec![Effect::Shutdown]
    }
}

mod io;
mod refresh;
mod state;
pub(crate) use io::{Effect, Input, Now, Timer};
pub(crate) use state::State;
pub use state::{Mode, Refusal};

#[cfg(test)]
mod tests;
