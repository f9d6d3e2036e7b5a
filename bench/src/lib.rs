//! Shared by the benchmark binaries: the HS256 secret and token minting.

use std::time::{SystemTime, UNIX_EPOCH};

/// The secret both the servers and the load generator use.
pub const SECRET: &[u8] = b"benchmark-secret-0123456789abcdef";

/// An HS256 token for `sub`, valid for an hour (or `BENCH_TOKEN_TTL_SECS`).
pub fn token(sub: &str) -> String {
    let ttl = std::env::var("BENCH_TOKEN_TTL_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3600);
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        + ttl;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({ "sub": sub, "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET).expect("hmac key"),
    )
    .expect("signing")
}
