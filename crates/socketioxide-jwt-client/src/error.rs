//! What can go wrong: [`Error`], and the server's [`AuthError`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::token::TokenError;

/// The contract's error object, as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthError {
    /// The code (`invalid_token`, `revoked`, ...).
    pub code: String,
    /// Human-readable text.
    pub message: String,
}

impl AuthError {
    /// Reads an `unauthorized` payload or a `connect_error`'s: the contract's error object, or
    /// socket.io's `{ message, data }` whose `data` is one (or whose `message` is the bare code).
    /// `None` when it is neither: the caller decides what an unreadable refusal means.
    pub(crate) fn from_payload(payload: &Value) -> Option<Self> {
        let object = payload
            .get("data")
            .filter(|data| data.get("code").is_some())
            .unwrap_or(payload);
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        match (text("code"), text("message")) {
            (Some(code), message) => Some(Self {
                message: message.unwrap_or_else(|| code.clone()),
                code,
            }),
            (None, Some(message)) if !message.is_empty() => Some(Self {
                code: message.clone(),
                message,
            }),
            _ => None,
        }
    }

    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the token (or the connection), with the contract's code.
    #[error("refused by the server: {} ({})", .0.code, .0.message)]
    Refused(AuthError),
    /// No answer in time.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The token source failed.
    #[error("the token source failed: {0}")]
    Token(TokenError),
    /// The ack did not have the expected shape.
    #[error("unexpected ack payload")]
    Ack(#[source] serde_json::Error),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// rust_socketio's own error.
    #[error(transparent)]
    Socket(#[from] rust_socketio::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_are_read_from_every_shape_the_server_sends() {
        let object = json!({"code": "revoked", "message": "the token has been revoked", "type": "UnauthorizedError"});
        assert_eq!(AuthError::from_payload(&object).unwrap().code, "revoked");
        let connect_error = json!({"message": "invalid_token", "data": object});
        assert_eq!(
            AuthError::from_payload(&connect_error).unwrap().code,
            "revoked"
        );
        let bare = json!({"message": "server_busy"});
        assert_eq!(AuthError::from_payload(&bare).unwrap().code, "server_busy");
        assert_eq!(AuthError::from_payload(&json!("text")), None);
        assert_eq!(AuthError::from_payload(&json!({"message": ""})), None);
    }
}
