//! Chat rooms granted by the token's `rooms` claim: which rooms the demo's own tokens grant, and
//! the socket room each one maps to.

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
        .filter(|room| !room.is_empty() && room.len() <= 64)
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
