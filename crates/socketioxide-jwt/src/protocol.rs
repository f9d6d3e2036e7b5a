//! The wire contract: every name, code and payload shape that crosses the wire or the adapter.
//!
//! Defined once, in the `socketioxide-jwt-protocol` crate, re-exported here: the Rust client
//! takes the same definitions, and the JS client's `protocol.ts` is generated from them. The
//! contract itself is described in `docs/CONTRACT.md`.

pub use socketioxide_jwt_protocol::{
    is_room_token_type, AuthenticateAck, AuthenticatedPayload, CustomCode, ErrorCode, ErrorData,
    ErrorObject, EventNames, InvalidCustomCode, RoomExpiringPayload, TokenExpiringPayload,
    WireCode, ERROR_TYPE, EVENT_AUTHENTICATE, EVENT_AUTHENTICATED, EVENT_ROOM_EXPIRING,
    EVENT_TOKEN_EXPIRING, EVENT_UNAUTHORIZED, MAX_CUSTOM_CODE_LEN, RESERVED_EVENTS,
    ROOM_TOKEN_TYPE, SERVER_BUSY, TOKEN_FIELD,
};

/// The room every socket sits in until it is authenticated. [`JwtAdapter`](crate::JwtAdapter)
/// excludes it from every broadcast. Every server process of a cluster uses this same name.
pub const PENDING_ROOM: &str = "socketioxide-jwt:pending";

/// The room of guests: sockets of a namespace that admits them
/// ([`OnAuthenticated::or_guest`](crate::handler::OnAuthenticated::or_guest)) and that have not
/// authenticated. [`JwtAdapter`](crate::JwtAdapter) keeps them out of every broadcast to
/// everyone; a broadcast to rooms reaches the guests the application put in those rooms.
pub const GUEST_ROOM: &str = "socketioxide-jwt:guest";
