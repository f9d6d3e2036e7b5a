//! What can go wrong: [`Error`], and the server's [`AuthError`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::WireCode;
use crate::token::TokenError;

/// The contract's error object, as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthError {
    /// The code (`invalid_token`, `revoked`, ...).
    pub code: WireCode,
    /// Human-readable text.
    pub message: String,
}

impl AuthError {
    /// Reads an `unauthorized` payload (or an error ack): the contract's error object, whose
    /// `code` is at the top or under `data`. Anything else is a refusal all the same, with
    /// `invalid_token` (`protocol/scenarios.json`, "refusals").
    pub(crate) fn from_refusal(payload: &Value) -> Self {
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let data = payload.get("data").unwrap_or(&Value::Null);
        match text(payload, "code").or_else(|| text(data, "code")) {
            Some(code) => Self {
                message: text(payload, "message")
                    .or_else(|| text(data, "message"))
                    .unwrap_or_else(|| code.clone()),
                code: WireCode::parse(&code),
            },
            None => Self::new(
                "invalid_token",
                "the server refused without a readable reason",
            ),
        }
    }

    /// Reads a `connect_error` payload (`{ message, data }`): the error object in `data`, else
    /// the message, which is the code (`server_busy`), or another server's words, read as
    /// `invalid_token` ([`WireCode::from_connect_error_message`]).
    pub(crate) fn from_connect_error(payload: &Value) -> Self {
        let data = payload.get("data").unwrap_or(&Value::Null);
        if data.get("code").is_some() {
            return Self::from_refusal(data);
        }
        match payload.get("message").and_then(Value::as_str) {
            Some(message) if !message.is_empty() => Self {
                code: WireCode::from_connect_error_message(message),
                message: message.to_owned(),
            },
            _ => Self::from_refusal(payload),
        }
    }

    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: WireCode::parse(code),
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
    fn connect_errors_read_data_then_the_message() {
        let object = json!({"code": "revoked", "message": "the token has been revoked"});
        let connect_error = json!({"message": "invalid_token", "data": object});
        assert_eq!(
            AuthError::from_connect_error(&connect_error).code,
            "revoked"
        );
        let bare = json!({"message": "server_busy"});
        assert_eq!(AuthError::from_connect_error(&bare).code, "server_busy");
        assert_eq!(
            AuthError::from_connect_error(&json!("x")).code,
            "invalid_token"
        );
    }
}
