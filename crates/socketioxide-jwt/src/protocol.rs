//! Protocol constants: the single source of truth for names that cross the wire or the adapter.
//!
//! `clients/` mirror these values; a test compares them.

/// Default name of the client → server event carrying `{ token }`.
pub const EVENT_AUTHENTICATE: &str = "authenticate";
/// Default name of the server → client event sent after a successful (re)authentication.
pub const EVENT_AUTHENTICATED: &str = "authenticated";
/// Default name of the server → client event carrying the error object before a disconnect.
pub const EVENT_UNAUTHORIZED: &str = "unauthorized";

/// The room every socket sits in until it is authenticated. [`JwtAdapter`](crate::JwtAdapter)
/// excludes it from every broadcast. Every server process of a cluster uses this same name.
pub const PENDING_ROOM: &str = "socketioxide-jwt:pending";
