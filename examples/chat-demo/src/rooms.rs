//! Chat rooms granted by the token's `rooms` claim: which rooms the demo's own tokens grant, and
//! the socket room each one maps to.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use socketioxide_jwt::StandardClaims;

/// The prefix of the socket rooms that chat rooms map to (kept apart from the per-user rooms).
pub const ROOM_PREFIX: &str = "room:";

/// The rooms `/login` and `/token/refresh` grant each demo user; any other user gets `general`.
pub fn granted_to(username: &str, role: &str) -> Vec<&'static str> {
    match (username, role) {
        (_, "admin") => vec!["general", "tea-party", "workshop"],
        ("alice", _) => vec!["general", "tea-party"],
        ("bob", _) => vec!["general", "workshop"],
        _ => vec!["general"],
    }
}

/// Rooms an admin granted (`POST /admin/rooms`), replacing a user's defaults; kept in this
/// instance's memory.
#[derive(Clone, Default)]
pub struct RoomGrants(Arc<RwLock<HashMap<String, Vec<String>>>>);

/// At most this many rooms per grant, each at most [`MAX_ROOM_LEN`] bytes.
pub const MAX_ROOMS: usize = 32;
/// The longest room name (what `in_claims` accepts).
pub const MAX_ROOM_LEN: usize = 64;

impl RoomGrants {
    /// The rooms `username` gets in its next token.
    pub fn of(&self, username: &str, role: &str) -> Vec<String> {
        let grants = self.0.read().unwrap_or_else(|e| e.into_inner());
        match grants.get(username) {
            Some(rooms) => rooms.clone(),
            None => granted_to(username, role)
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }

    /// Replaces the rooms of `username`.
    pub fn set(&self, username: &str, rooms: Vec<String>) {
        let mut grants = self.0.write().unwrap_or_else(|e| e.into_inner());
        grants.insert(username.to_owned(), rooms);
    }
}

/// The chat rooms a token grants: its `rooms` claim (an array of strings; anything else grants
/// none). Tokens of other issuers bring their own.
pub fn in_claims(claims: &StandardClaims) -> impl Iterator<Item = &str> {
    claims
        .extra
        .get("rooms")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .filter(|room| !room.is_empty() && room.len() <= MAX_ROOM_LEN)
}

/// The socket room of chat room `room`.
pub fn socket_room(room: &str) -> String {
    format!("{ROOM_PREFIX}{room}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_come_from_the_rooms_claim_only_when_it_is_an_array_of_strings() {
        let claims: StandardClaims =
            serde_json::from_value(serde_json::json!({ "rooms": ["a", 3, "", "b"] })).unwrap();
        assert_eq!(in_claims(&claims).collect::<Vec<_>>(), ["a", "b"]);
        let claims: StandardClaims =
            serde_json::from_value(serde_json::json!({ "rooms": "a" })).unwrap();
        assert_eq!(in_claims(&claims).count(), 0);
        assert_eq!(socket_room("a"), "room:a");
    }
}
