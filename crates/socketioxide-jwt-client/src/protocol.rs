//! The wire contract, from `socketioxide-jwt-protocol` (the server's definitions): this client
//! copies no name, code or rule.

pub use socketioxide_jwt_protocol::*;

/// `{ "token": token }`: the `authenticate` payload and the handshake `auth`.
pub(crate) fn token_payload(token: String) -> serde_json::Value {
    let mut payload = serde_json::Map::new();
    payload.insert(TOKEN_FIELD.to_owned(), serde_json::Value::String(token));
    serde_json::Value::Object(payload)
}
