//! Shared by the benchmark binaries: the HS256 secret and token minting.

use std::time::{SystemTime, UNIX_EPOCH};

/// The secret both the servers and the load generator use.
pub const SECRET: &[u8] = b"benchmark-secret-0123456789abcdef";

/// An HS256 token for `sub`, valid for an hour.
pub fn token(sub: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        + 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({ "sub": sub, "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET).expect("hmac key"),
    )
    .expect("signing")
}
