//! The wire contract of [socketioxide-jwt](https://docs.rs/socketioxide-jwt), defined once.
//!
//! Every event name, error code, payload shape and client rule (which codes a new token can
//! fix, when to refresh, how long to wait after `server_busy`) lives here. The server
//! (`socketioxide_jwt::protocol` re-exports it), the Rust client (`socketioxide-jwt-client`) and
//! the TypeScript helper (its `protocol.ts` is [`typescript::module`], checked by a test that
//! regenerates it) all take theirs from this crate. The contract itself is described in
//! `docs/CONTRACT.md`; the client rules are checked against `protocol/scenarios.json`.
//!
//! # Example
//! ```
//! use socketioxide_jwt_protocol::{ErrorCode, ErrorObject, WireCode};
//! // The server refuses...
//! let sent = serde_json::to_value(ErrorObject::from(ErrorCode::TokenExpired)).unwrap();
//! // ...and a client reads the code, and whether a new token can help.
//! let code = WireCode::parse(sent["code"].as_str().unwrap());
//! assert_eq!(code, WireCode::Contract(ErrorCode::TokenExpired));
//! assert!(code.is_recoverable());
//! ```

mod codes;
mod names;
mod payloads;
pub mod rules;
pub mod typescript;

pub use codes::{
    CustomCode, ErrorCode, ErrorData, ErrorObject, InvalidCustomCode, WireCode, MAX_CUSTOM_CODE_LEN,
};
pub use names::{
    is_room_token_type, EventNames, ERROR_TYPE, EVENT_AUTHENTICATE, EVENT_AUTHENTICATED,
    EVENT_ROOM_EXPIRING, EVENT_TOKEN_EXPIRING, EVENT_UNAUTHORIZED, RESERVED_EVENTS,
    ROOM_TOKEN_TYPE, SERVER_BUSY, TOKEN_FIELD,
};
pub use payloads::{
    AuthenticateAck, AuthenticatedPayload, RoomExpiringPayload, TokenExpiringPayload,
    AUTHENTICATED_FIELDS, TOKEN_EXPIRING_FIELDS,
};
