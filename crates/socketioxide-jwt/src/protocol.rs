//! The wire contract: every name, code and payload shape that crosses the wire or the adapter.
//!
//! The single source of truth: the JS client (`clients/js/src/protocol.ts`) and the Rust client
//! (`socketioxide_jwt_client::protocol`) mirror these values, and a test compares them. The
//! contract itself is described in `docs/CONTRACT.md`.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Default name of the client → server event carrying `{ token }`.
pub const EVENT_AUTHENTICATE: &str = "authenticate";
/// Default name of the server → client event sent after a successful (re)authentication,
/// carrying an [`AuthenticatedPayload`].
pub const EVENT_AUTHENTICATED: &str = "authenticated";
/// Default name of the server → client event carrying the [`ErrorObject`] before a disconnect.
pub const EVENT_UNAUTHORIZED: &str = "unauthorized";
/// Default name of the server → client event sent once per token shortly before it expires,
/// carrying a [`TokenExpiringPayload`] (see `JwtAuthBuilder::expiry_warning`).
pub const EVENT_TOKEN_EXPIRING: &str = "token_expiring";

/// The `typ` header of a room token (RFC 8725 §3.11: explicitly typed, so that a room token is
/// never taken for a login token, nor the other way round).
pub const ROOM_TOKEN_TYPE: &str = "room+jwt";

/// Whether a `typ` header names a room token (`room+jwt`, or `application/room+jwt`, in any
/// case: RFC 7515 §4.1.9).
pub(crate) fn is_room_token_type(typ: &str) -> bool {
    let typ = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    typ.eq_ignore_ascii_case(ROOM_TOKEN_TYPE)
}

/// Default name of the server → client event sent before a room joined with a room token is
/// left, carrying a [`RoomExpiringPayload`] (see [`JwtAuth::join_room`](crate::JwtAuth::join_room)).
pub const EVENT_ROOM_EXPIRING: &str = "room_expiring";

/// The field holding the token, in the `authenticate` payload (`{ "token": "<jwt>" }`) and in the
/// handshake's `auth` payload.
pub const TOKEN_FIELD: &str = "token";

/// The room every socket sits in until it is authenticated. [`JwtAdapter`](crate::JwtAdapter)
/// excludes it from every broadcast. Every server process of a cluster uses this same name.
pub const PENDING_ROOM: &str = "socketioxide-jwt:pending";

/// The room of guests: sockets of a namespace that admits them
/// ([`OnAuthenticated::or_guest`](crate::handler::OnAuthenticated::or_guest)) and that have not
/// authenticated. [`JwtAdapter`](crate::JwtAdapter) keeps them out of every broadcast to
/// everyone; a broadcast to rooms reaches the guests the application put in those rooms.
pub const GUEST_ROOM: &str = "socketioxide-jwt:guest";

/// The `type` field of every [`ErrorObject`], as in Node's `socketio-jwt`.
pub const ERROR_TYPE: &str = "UnauthorizedError";

/// The `connect_error` message of a connection refused because too many sockets are pending
/// (see `JwtAuthBuilder::max_pending`). Not an authentication failure: retry later.
pub const SERVER_BUSY: &str = "server_busy";

/// Event names Socket.IO reserves; none of the protocol events may take one.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The names of the four protocol events, for
/// [`JwtAuthBuilder::event_names`](crate::JwtAuthBuilder::event_names).
///
/// # Example
/// ```
/// use socketioxide_jwt::protocol::EventNames;
/// let names = EventNames::default().authenticate("login");
/// assert_eq!(names.authenticate, "login");
/// assert_eq!(names.authenticated, "authenticated");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventNames {
    /// Client → server: `{ token }`. Defaults to [`EVENT_AUTHENTICATE`].
    pub authenticate: String,
    /// Server → client on success. Defaults to [`EVENT_AUTHENTICATED`].
    pub authenticated: String,
    /// Server → client with the error object before a disconnect. Defaults to
    /// [`EVENT_UNAUTHORIZED`].
    pub unauthorized: String,
    /// Server → client shortly before the token expires. Defaults to [`EVENT_TOKEN_EXPIRING`].
    pub token_expiring: String,
    /// Server → client shortly before a room joined with a room token is left (and, with
    /// `expires_in_ms: 0`, when it is left early: revoked). Defaults to [`EVENT_ROOM_EXPIRING`].
    pub room_expiring: String,
}

impl EventNames {
    /// Renames the client → server `authenticate` event.
    #[must_use]
    pub fn authenticate(mut self, name: impl Into<String>) -> Self {
        self.authenticate = name.into();
        self
    }

    /// Renames the server → client `authenticated` event.
    #[must_use]
    pub fn authenticated(mut self, name: impl Into<String>) -> Self {
        self.authenticated = name.into();
        self
    }

    /// Renames the server → client `unauthorized` event.
    #[must_use]
    pub fn unauthorized(mut self, name: impl Into<String>) -> Self {
        self.unauthorized = name.into();
        self
    }

    /// Renames the server → client `token_expiring` event.
    #[must_use]
    pub fn token_expiring(mut self, name: impl Into<String>) -> Self {
        self.token_expiring = name.into();
        self
    }

    /// Renames the server → client `room_expiring` event.
    #[must_use]
    pub fn room_expiring(mut self, name: impl Into<String>) -> Self {
        self.room_expiring = name.into();
        self
    }

    /// Every name, in the order of the fields.
    pub(crate) fn all(&self) -> [&String; 5] {
        [
            &self.authenticate,
            &self.authenticated,
            &self.unauthorized,
            &self.token_expiring,
            &self.room_expiring,
        ]
    }
}

impl Default for EventNames {
    fn default() -> Self {
        Self {
            authenticate: EVENT_AUTHENTICATE.into(),
            authenticated: EVENT_AUTHENTICATED.into(),
            unauthorized: EVENT_UNAUTHORIZED.into(),
            token_expiring: EVENT_TOKEN_EXPIRING.into(),
            room_expiring: EVENT_ROOM_EXPIRING.into(),
        }
    }
}

/// The payload of `authenticated`: who the socket is, and until when: the token's `exp`, and how
/// long until then by the server's clock (`expires_in_ms`), so that a client whose own clock is
/// wrong still schedules its refresh right.
///
/// # Example
/// ```
/// use socketioxide_jwt::protocol::AuthenticatedPayload;
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
/// use socketioxide_jwt::protocol::TokenExpiringPayload;
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
/// use socketioxide_jwt::protocol::RoomExpiringPayload;
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
/// [`ErrorObject`]).
///
/// # Example
/// ```
/// let ack = socketioxide_jwt::protocol::AuthenticateAck::OK;
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

/// Why an authentication (or an authorization) was refused.
///
/// The string form ([`ErrorCode::as_str`]) is part of the wire contract and never changes.
///
/// # Example
/// ```
/// use socketioxide_jwt::ErrorCode;
/// assert_eq!(ErrorCode::TokenExpired.as_str(), "token_expired");
/// assert_eq!(ErrorCode::TokenExpired.to_string(), "token_expired");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No token was sent (missing field, empty payload).
    CredentialsRequired,
    /// The token is not a string, or not `header.payload.signature`.
    CredentialsBadFormat,
    /// Bad signature, wrong algorithm, wrong `iss`/`aud`, `nbf` in the future, unknown `kid`,
    /// too long, or claims that do not have the expected shape.
    InvalidToken,
    /// `exp` has passed, at authentication or later while connected.
    TokenExpired,
    /// Message mode: no `authenticate` arrived in time.
    Timeout,
    /// The token or its user was revoked.
    Revoked,
    /// An application check refused an otherwise valid token, or a handler needs a claim the
    /// socket does not have.
    Forbidden,
    /// The application's own code ([`AuthError::custom`](crate::AuthError::custom)): a final
    /// refusal to the client helpers, as every code they do not know.
    Custom(CustomCode),
}

impl ErrorCode {
    /// Every code, in the order of the contract's table.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::CredentialsRequired,
        ErrorCode::CredentialsBadFormat,
        ErrorCode::InvalidToken,
        ErrorCode::TokenExpired,
        ErrorCode::Timeout,
        ErrorCode::Revoked,
        ErrorCode::Forbidden,
    ];

    /// The code as it appears on the wire (`code` field, and the `connect_error` message).
    ///
    /// # Example
    /// ```
    /// assert_eq!(socketioxide_jwt::ErrorCode::InvalidToken.as_str(), "invalid_token");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::CredentialsRequired => "credentials_required",
            ErrorCode::CredentialsBadFormat => "credentials_bad_format",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Revoked => "revoked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Custom(code) => code.as_str(),
        }
    }

    /// The default human-readable message sent with this code.
    ///
    /// # Example
    /// ```
    /// assert_eq!(socketioxide_jwt::ErrorCode::Timeout.default_message(), "authentication timed out");
    /// ```
    pub const fn default_message(self) -> &'static str {
        match self {
            ErrorCode::CredentialsRequired => "no token was provided",
            ErrorCode::CredentialsBadFormat => {
                "the token must be a string of the form header.payload.signature"
            }
            ErrorCode::InvalidToken => "the token is invalid",
            ErrorCode::TokenExpired => "the token has expired",
            ErrorCode::Timeout => "authentication timed out",
            ErrorCode::Revoked => "the token has been revoked",
            ErrorCode::Forbidden | ErrorCode::Custom(_) => "access is forbidden",
        }
    }

    /// Parses a wire code back into one of the contract's codes ([`ErrorCode::ALL`]); an
    /// application's own code is `None`.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::ErrorCode;
    /// assert_eq!(ErrorCode::from_wire("revoked"), Some(ErrorCode::Revoked));
    /// assert_eq!(ErrorCode::from_wire("nope"), None);
    /// ```
    pub fn from_wire(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// An application's own refusal code, sent as the contract's codes are (`code`, `data.code`, a
/// handshake's `connect_error` message): lowercase ASCII letters, digits and `_`, starting with
/// a letter, at most 64 bytes, and none of the contract's codes (nor `server_busy`), which it
/// must not shadow.
///
/// A constant checks it when the program is compiled:
/// ```
/// use socketioxide_jwt::{protocol::CustomCode, AuthError};
/// const ACCOUNT_LOCKED: CustomCode = CustomCode::new("account_locked");
/// let err = AuthError::custom(ACCOUNT_LOCKED, "too many failed logins: try again in an hour");
/// assert_eq!(err.to_string(), "account_locked");
/// assert_eq!(err.to_object().data.code, "account_locked");
/// ```
/// ```compile_fail
/// # use socketioxide_jwt::protocol::CustomCode;
/// const SHADOW: CustomCode = CustomCode::new("revoked"); // a contract code: does not compile
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomCode(&'static str);

/// The longest [`CustomCode`], in bytes.
pub const MAX_CUSTOM_CODE_LEN: usize = 64;

impl CustomCode {
    /// The code `code`.
    ///
    /// # Panics
    /// If `code` is not a valid custom code ([`CustomCode::try_new`] says why): in a `const`, the
    /// program does not compile.
    pub const fn new(code: &'static str) -> Self {
        match Self::try_new(code) {
            Ok(code) => code,
            Err(InvalidCustomCode::Shape) => {
                panic!("a custom code is 1 to 64 of a-z, 0-9 and _, starting with a letter")
            }
            Err(InvalidCustomCode::ContractCode) => {
                panic!("a custom code must not be one of the contract's codes")
            }
        }
    }

    /// The code `code`, or why it cannot be one.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::protocol::{CustomCode, InvalidCustomCode};
    /// assert!(CustomCode::try_new("plan_expired").is_ok());
    /// assert_eq!(CustomCode::try_new("forbidden"), Err(InvalidCustomCode::ContractCode));
    /// assert_eq!(CustomCode::try_new("server_busy"), Err(InvalidCustomCode::ContractCode));
    /// assert_eq!(CustomCode::try_new("Plan Expired"), Err(InvalidCustomCode::Shape));
    /// assert_eq!(CustomCode::try_new(""), Err(InvalidCustomCode::Shape));
    /// ```
    pub const fn try_new(code: &'static str) -> Result<Self, InvalidCustomCode> {
        let bytes = code.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_CUSTOM_CODE_LEN || !bytes[0].is_ascii_lowercase() {
            return Err(InvalidCustomCode::Shape);
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return Err(InvalidCustomCode::Shape);
            }
            i += 1;
        }
        let mut c = 0;
        while c < ErrorCode::ALL.len() {
            if const_eq(bytes, ErrorCode::ALL[c].as_str().as_bytes()) {
                return Err(InvalidCustomCode::ContractCode);
            }
            c += 1;
        }
        if const_eq(bytes, SERVER_BUSY.as_bytes()) {
            return Err(InvalidCustomCode::ContractCode);
        }
        Ok(Self(code))
    }

    /// The code as sent.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

/// Why a string cannot be a [`CustomCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCustomCode {
    /// Not 1 to 64 of `a-z`, `0-9` and `_`, starting with a letter.
    #[error("a custom code is 1 to 64 of a-z, 0-9 and _, starting with a letter")]
    Shape,
    /// One of the contract's codes, or `server_busy`.
    #[error("a custom code must not be one of the contract's codes")]
    ContractCode,
}

/// `a == b`, in a `const fn`.
const fn const_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error object of the wire contract, sent with `unauthorized`, through acks, and as the
/// body of a refused REST request.
///
/// `data` repeats the fields so that code written for Node's `socketio-jwt` (`err.data.code`)
/// keeps working.
///
/// # Example
/// ```
/// use socketioxide_jwt::{protocol::ErrorObject, ErrorCode};
/// let obj = ErrorObject::from(ErrorCode::Timeout);
/// let json = serde_json::to_value(&obj).unwrap();
/// assert_eq!(json["code"], "timeout");
/// assert_eq!(json["type"], "UnauthorizedError");
/// assert_eq!(json["data"]["message"], json["message"]);
/// ```
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorObject {
    /// Human-readable, public text.
    pub message: Cow<'static, str>,
    /// The wire code.
    pub code: &'static str,
    /// Always [`ERROR_TYPE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The same fields again.
    pub data: ErrorData,
}

/// The `data` member of an [`ErrorObject`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorData {
    /// Same as [`ErrorObject::message`].
    pub message: Cow<'static, str>,
    /// Same as [`ErrorObject::code`].
    pub code: &'static str,
    /// Same as [`ErrorObject::kind`].
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl ErrorObject {
    /// Builds the object for a code and a public message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        let message = message.into();
        Self {
            data: ErrorData {
                message: message.clone(),
                code: code.as_str(),
                kind: ERROR_TYPE,
            },
            message,
            code: code.as_str(),
            kind: ERROR_TYPE,
        }
    }
}

impl From<ErrorCode> for ErrorObject {
    fn from(code: ErrorCode) -> Self {
        ErrorObject::new(code, code.default_message())
    }
}
