//! The payloads of the protocol's events and acks.

use serde::{Deserialize, Serialize};

/// The payload of `authenticated`: who the socket is, and until when: the token's `exp`, and how
/// long until then by the server's clock (`expires_in_ms`), so that a client whose own clock is
/// wrong still schedules its refresh right.
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::AuthenticatedPayload;
/// let p = AuthenticatedPayload::new(Some("alice".into()), Some(2_000_000_000)).expires_in_ms(600_000);
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"sub":"alice","exp":2000000000,"expires_in_ms":600000}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthenticatedPayload {
    /// The token's `sub`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The token's `exp` (seconds since the Unix epoch), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Milliseconds from now until `exp`, by the server's clock, when the token has an `exp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_ms: Option<u64>,
}

impl AuthenticatedPayload {
    /// The payload for a token with this `sub` and `exp`.
    pub fn new(sub: Option<String>, exp: Option<u64>) -> Self {
        Self {
            sub,
            exp,
            expires_in_ms: None,
        }
    }

    /// With the time left until `exp`, by the server's clock.
    #[must_use]
    pub fn expires_in_ms(mut self, ms: u64) -> Self {
        self.expires_in_ms = Some(ms);
        self
    }
}

/// The payload of `token_expiring`: the token's `exp`, and how long until then by the server's
/// clock (so a client with a wrong clock still knows how much time it has).
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::TokenExpiringPayload;
/// let p = TokenExpiringPayload::new(2_000_000_000, 59_500);
/// assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"exp":2000000000,"expires_in_ms":59500}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenExpiringPayload {
    /// The token's `exp` (seconds since the Unix epoch).
    pub exp: u64,
    /// Milliseconds until `exp` when the event was sent (0 if it has passed and only the
    /// leeway keeps the socket).
    pub expires_in_ms: u64,
}

impl TokenExpiringPayload {
    /// The payload for a token expiring at `exp`, `expires_in_ms` from now.
    pub fn new(exp: u64, expires_in_ms: u64) -> Self {
        Self { exp, expires_in_ms }
    }
}

/// The payload of `room_expiring`: the room, and how long until the socket leaves it by the
/// server's clock (`0`: it left, its grant revoked).
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::RoomExpiringPayload;
/// let p = RoomExpiringPayload::new("room:48113", std::time::Duration::from_millis(15_000));
/// assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"room":"room:48113","expires_in_ms":15000}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RoomExpiringPayload {
    /// The room.
    pub room: String,
    /// Milliseconds until the socket leaves it.
    pub expires_in_ms: u64,
}

impl RoomExpiringPayload {
    /// The payload for `room`, left in `expires_in`.
    pub fn new(room: &str, expires_in: std::time::Duration) -> Self {
        Self {
            room: room.to_owned(),
            expires_in_ms: u64::try_from(expires_in.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The ack of a successful `authenticate`: `{ "ok": true }` (a refused one acks the
/// [`ErrorObject`](crate::ErrorObject)).
///
/// # Example
/// ```
/// let ack = socketioxide_jwt_protocol::AuthenticateAck::OK;
/// assert_eq!(serde_json::to_string(&ack).unwrap(), r#"{"ok":true}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticateAck {
    /// Always `true`.
    pub ok: bool,
}

impl AuthenticateAck {
    /// The only value sent.
    pub const OK: Self = Self { ok: true };
}

/// The fields of an [`AuthenticatedPayload`] on the wire (each present when the token has it).
pub const AUTHENTICATED_FIELDS: &[&str] = &["sub", "exp", "expires_in_ms"];

/// The fields of a [`TokenExpiringPayload`] on the wire.
pub const TOKEN_EXPIRING_FIELDS: &[&str] = &["exp", "expires_in_ms"];

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(value: serde_json::Value) -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn the_field_lists_are_what_serde_writes() {
        let full = AuthenticatedPayload::new(Some("a".into()), Some(1)).expires_in_ms(2);
        let mut want: Vec<String> = AUTHENTICATED_FIELDS.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(keys(serde_json::to_value(full).unwrap()), want);
        let mut want: Vec<String> = TOKEN_EXPIRING_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect();
        want.sort();
        let expiring = serde_json::to_value(TokenExpiringPayload::new(1, 2)).unwrap();
        assert_eq!(keys(expiring), want);
    }
}
