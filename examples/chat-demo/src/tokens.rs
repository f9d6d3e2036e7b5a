//! Issuing tokens (HS256 with the demo's secret).

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use serde::Serialize;

/// Signs the tokens `/login` and `/token/refresh` hand out.
pub struct TokenIssuer {
    key: EncodingKey,
    ttl: Duration,
    issuer: String,
    audience: Option<String>,
}

#[derive(Serialize)]
struct DemoClaims<'a> {
    sub: &'a str,
    role: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
    /// The login session: one per `/login`, kept by `/token/refresh`, so revoking it (by
    /// `sid`) ends every token refreshed from that login too.
    sid: &'a str,
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    /// The chat rooms the holder may read and write (see `rooms`).
    rooms: Vec<&'a str>,
}

impl TokenIssuer {
    /// Signs with `secret`; every token carries `issuer` as its `iss` (how the demo recognises
    /// its own tokens, see `identity`).
    pub fn new(
        secret: &[u8],
        ttl: Duration,
        issuer: String,
        audience: Option<String>,
    ) -> Option<Self> {
        Some(Self {
            key: EncodingKey::from_secret(secret).ok()?,
            ttl,
            issuer,
            audience,
        })
    }

    /// The `iss` of every token this issuer signs.
    pub fn name(&self) -> &str {
        &self.issuer
    }

    /// A fresh token for `sub` with `role` in login session `sid`, granting the user's chat
    /// rooms.
    pub fn issue(
        &self,
        sub: &str,
        role: &str,
        sid: &str,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = DemoClaims {
            sub,
            role,
            iat: now,
            exp: now.saturating_add(self.ttl.as_secs()),
            jti: random_id(),
            sid,
            iss: &self.issuer,
            aud: self.audience.as_deref(),
            rooms: crate::rooms::granted_to(sub, role),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
    }
}

/// 128 random bits, hex: a token id or a login session id.
pub fn random_id() -> String {
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    hex::encode(id)
}
