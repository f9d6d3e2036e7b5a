//! Where the client is ([`State`], each state with what only it needs), why it stopped
//! ([`Refusal`]), and how its token travels ([`Mode`]).

use crate::error::AuthError;
use crate::protocol::{AuthenticatedPayload, ErrorCode, WireCode};
use crate::token::TokenError;

/// How the token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Connect, then emit `authenticate` with `{ token }` (the default).
    #[default]
    Message,
    /// In the handshake's `auth` payload.
    Handshake,
}

/// Why the client stopped for good.
///
/// # Example
/// ```
/// use socketioxide_jwt_client::{Refusal, TokenError};
/// let refusal = Refusal::Token(TokenError::msg("signed out"));
/// assert_eq!(refusal.code(), "credentials_required");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The server refused: its error object (after the recoveries it allows, if its code is
    /// one a new token can fix).
    Server(AuthError),
    /// The token source failed when a connection needed a token.
    Token(TokenError),
}

impl Refusal {
    /// The code: the server's, or `credentials_required` when the source had no token.
    pub fn code(&self) -> WireCode {
        match self {
            Refusal::Server(err) => err.code.clone(),
            Refusal::Token(_) => WireCode::Contract(ErrorCode::CredentialsRequired),
        }
    }
}

/// Where the client is; each state holds what only it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Connecting or authenticating (again); after a recoverable refusal, with it while a new
    /// token is fetched.
    Connecting { recovering: Option<AuthError> },
    /// The server said `authenticated`; a refresh may be under way (its token fetched or sent,
    /// until the server answers).
    Authenticated {
        info: AuthenticatedPayload,
        refreshing: bool,
    },
    /// The server was busy, could not be reached or closed the connection: connecting again
    /// after a backoff.
    Waiting,
    /// Refused for good.
    Refused(Refusal),
    /// Closed by the application.
    Closed,
}

impl State {
    pub(super) const CONNECTING: State = State::Connecting { recovering: None };
}
