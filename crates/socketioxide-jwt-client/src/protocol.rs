//! The wire names this client uses, mirroring the server crate's `socketioxide_jwt::protocol`
//! (`e2e/tests/protocol_mirror.rs` compares the two).

/// Client → server event carrying `{ token }`.
pub const EVENT_AUTHENTICATE: &str = "authenticate";
/// Server → client event after a successful (re)authentication: `{ sub, exp, expires_in_ms }`.
pub const EVENT_AUTHENTICATED: &str = "authenticated";
/// Server → client event with the error object, right before a disconnect.
pub const EVENT_UNAUTHORIZED: &str = "unauthorized";
/// Server → client event once per token, shortly before it expires: `{ exp, expires_in_ms }`.
pub const EVENT_TOKEN_EXPIRING: &str = "token_expiring";
/// Codes after which a new token may succeed where the refused one cannot.
pub const RECOVERABLE_CODES: [&str; 2] = ["token_expired", "revoked"];
/// The field holding the token, in the `authenticate` payload and the handshake `auth`.
pub const TOKEN_FIELD: &str = "token";
/// The `connect_error` message of a server with too many pending sockets (retry later).
pub const SERVER_BUSY: &str = "server_busy";
/// Error codes of the wire contract, plus [`SERVER_BUSY`].
pub const ERROR_CODES: [&str; 8] = [
    "credentials_required",
    "credentials_bad_format",
    "invalid_token",
    "token_expired",
    "timeout",
    "revoked",
    "forbidden",
    SERVER_BUSY,
];

/// The names of the four protocol events, for a server that renamed them (the server crate's
/// `JwtAuthBuilder::event_names`, the same type there).
///
/// # Example
/// ```
/// use socketioxide_jwt_client::protocol::EventNames;
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
}

impl Default for EventNames {
    fn default() -> Self {
        Self {
            authenticate: EVENT_AUTHENTICATE.into(),
            authenticated: EVENT_AUTHENTICATED.into(),
            unauthorized: EVENT_UNAUTHORIZED.into(),
            token_expiring: EVENT_TOKEN_EXPIRING.into(),
        }
    }
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
}

/// What the server confirmed with `authenticated`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct AuthenticatedInfo {
    /// The subject.
    pub sub: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: Option<u64>,
    /// Milliseconds left until `exp` when the server sent it, by the server's clock (what the
    /// refresh is scheduled on: a wrong local clock cannot bend it).
    #[serde(default)]
    pub expires_in_ms: Option<u64>,
}

/// `{ "token": token }`: the `authenticate` payload and the handshake `auth`.
pub(crate) fn token_payload(token: String) -> serde_json::Value {
    let mut payload = serde_json::Map::new();
    payload.insert(TOKEN_FIELD.to_owned(), serde_json::Value::String(token));
    serde_json::Value::Object(payload)
}
