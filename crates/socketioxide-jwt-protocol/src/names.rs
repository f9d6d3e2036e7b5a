//! The names that travel: events, the token's field, the error object's `type`, the busy
//! signal, and the room token's `typ`.

/// Default name of the client → server event carrying `{ token }`.
pub const EVENT_AUTHENTICATE: &str = "authenticate";
/// Default name of the server → client event sent after a successful (re)authentication,
/// carrying an [`AuthenticatedPayload`](crate::AuthenticatedPayload).
pub const EVENT_AUTHENTICATED: &str = "authenticated";
/// Default name of the server → client event carrying the
/// [`ErrorObject`](crate::ErrorObject) before a disconnect.
pub const EVENT_UNAUTHORIZED: &str = "unauthorized";
/// Default name of the server → client event sent once per token shortly before it expires,
/// carrying a [`TokenExpiringPayload`](crate::TokenExpiringPayload).
pub const EVENT_TOKEN_EXPIRING: &str = "token_expiring";
/// Default name of the server → client event sent before a room joined with a room token is
/// left, carrying a [`RoomExpiringPayload`](crate::RoomExpiringPayload).
pub const EVENT_ROOM_EXPIRING: &str = "room_expiring";

/// The field holding the token, in the `authenticate` payload (`{ "token": "<jwt>" }`) and in the
/// handshake's `auth` payload.
pub const TOKEN_FIELD: &str = "token";

/// The `type` field of every [`ErrorObject`](crate::ErrorObject), as in Node's `socketio-jwt`.
pub const ERROR_TYPE: &str = "UnauthorizedError";

/// The `connect_error` message of a connection refused because too many sockets are pending.
/// Not an authentication failure: retry later ([`busy_backoff`](crate::rules::busy_backoff)).
pub const SERVER_BUSY: &str = "server_busy";

/// The `typ` header of a room token (RFC 8725 §3.11: explicitly typed, so that a room token is
/// never taken for a login token, nor the other way round).
pub const ROOM_TOKEN_TYPE: &str = "room+jwt";

/// Whether a `typ` header names a room token (`room+jwt`, or `application/room+jwt`, in any
/// case: RFC 7515 §4.1.9).
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::is_room_token_type;
/// assert!(is_room_token_type("application/Room+JWT"));
/// assert!(!is_room_token_type("JWT"));
/// ```
pub fn is_room_token_type(typ: &str) -> bool {
    let typ = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    typ.eq_ignore_ascii_case(ROOM_TOKEN_TYPE)
}

/// Event names Socket.IO reserves; none of the protocol events may take one.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The names of the protocol events, for a server that renames them (and the clients that talk
/// to it).
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::EventNames;
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
    ///
    /// # Example
    /// ```
    /// let names = socketioxide_jwt_protocol::EventNames::default();
    /// assert_eq!(names.all()[0], "authenticate");
    /// ```
    pub fn all(&self) -> [&str; 5] {
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
