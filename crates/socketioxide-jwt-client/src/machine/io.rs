//! What the machine hears ([`Input`]) and what it asks the glue to do ([`Effect`]), with the
//! time it reads ([`Now`]).

use std::time::Duration;

use tokio::time::Instant;

use crate::error::AuthError;
use crate::protocol::AuthenticatedPayload;
use crate::token::{TokenError, TokenRequest};

/// What happened.
#[derive(Debug)]
pub(crate) enum Input {
    /// The client starts.
    Start,
    /// The transport is about to make a handshake of its own (its reconnect) and asks for the
    /// token to put in it (handshake mode).
    HandshakeAuth,
    /// The namespace connected.
    Connected,
    /// The connection was lost (the transport reconnects by itself).
    ConnectionLost,
    /// The server closed the connection without `unauthorized` (a restart, the application's
    /// own disconnect): not a refusal; the machine connects again after a backoff.
    ServerClosed,
    /// The server refused the handshake (`connect_error`).
    ConnectRefused(AuthError),
    /// A new connection could not be opened (the server down, restarting): not a refusal.
    OpenFailed,
    /// `authenticated`.
    Authenticated(AuthenticatedPayload),
    /// `unauthorized`.
    Unauthorized(AuthError),
    /// `token_expiring`.
    TokenExpiring,
    /// The application asked for a refresh.
    RefreshRequested,
    /// The token source answered the request with this id ([`Effect::FetchToken`]'s).
    Token(TokenRequest, u64, Result<String, TokenError>),
    /// The server did not acknowledge a refresh's `authenticate` in time: another may go.
    RefreshUnanswered,
    /// A timer set by [`Effect::SetTimer`] ran out.
    TimerFired(Timer, u64),
    /// The application closed the client.
    Close,
}

/// The machine's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Time to refresh the token.
    Refresh,
    /// The backoff after `server_busy` is over.
    BusyRetry,
}

/// What the glue must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Ask the token source, then feed [`Input::Token`] with this id.
    FetchToken(TokenRequest, u64),
    /// Emit `authenticate` with this token.
    Authenticate(String),
    /// Emit `authenticate` with this fresh token and wait (bounded) for its ack: feed
    /// [`Input::RefreshUnanswered`] if none comes.
    SendRefresh(String),
    /// Close the current connection (if any) and open a new one; in handshake mode with this
    /// token in `auth`.
    Open(Option<String>),
    /// Give the transport's own handshake ([`Input::HandshakeAuth`]) this token.
    HandshakeToken(String),
    /// Feed [`Input::TimerFired`] with this timer and epoch after the delay.
    SetTimer(Timer, Duration, u64),
    /// Close the connection for good (no reconnect of the transport's own).
    Shutdown,
}

/// The time, as the machine reads it: passed in, so that tests choose it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// The monotonic clock (the rolling minute of refreshes).
    pub(crate) instant: Instant,
    /// The wall clock, in seconds since the epoch (only to read `exp` from servers that do not
    /// send `expires_in_ms`).
    pub(crate) unix: u64,
    /// A number in `[0, 1)` for the backoff's jitter.
    pub(crate) jitter: f64,
}
