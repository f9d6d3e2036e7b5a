//! Issuing tokens (HS256 with the demo's secret).

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use serde::Serialize;

use crate::rooms::RoomGrants;

/// Signs the tokens `/login` and `/token/refresh` hand out.
pub struct TokenIssuer {
    key: EncodingKey,
    ttl: Duration,
    issuer: String,
    audience: Option<String>,
    /// The rooms each user's tokens grant.
    pub grants: RoomGrants,
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
    /// When the user logged in (kept by `/token/refresh`): `--max-session-age-secs` counts
    /// from it.
    auth_time: u64,
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    /// The chat rooms the holder may read and write (see `rooms`).
    rooms: Vec<String>,
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
            grants: RoomGrants::default(),
        })
    }

    /// How long its tokens live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The `iss` of every token this issuer signs.
    pub fn name(&self) -> &str {
        &self.issuer
    }

    /// A fresh token for `sub` with `role` in login session `login`, granting the user's chat
    /// rooms.
    pub fn issue(
        &self,
        sub: &str,
        role: &str,
        login: &LoginSession,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = DemoClaims {
            sub,
            role,
            iat: now,
            exp: now.saturating_add(self.ttl.as_secs()),
            jti: random_id(),
            sid: &login.sid,
            auth_time: login.auth_time,
            iss: &self.issuer,
            aud: self.audience.as_deref(),
            rooms: self.grants.of(sub, role),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
    }
}

/// A room token's claims (see `socketioxide_jwt::room_grant`).
#[derive(Serialize)]
struct RoomClaims<'a> {
    sub: &'a str,
    /// The socket room it lets the holder into.
    room: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    /// The claim that names users, when it is not `sub` (`--identity-claim`), copied from
    /// the holder's token so that the room token names the same user.
    #[serde(flatten)]
    identity: serde_json::Map<String, serde_json::Value>,
}

impl TokenIssuer {
    /// A room token (typed `room+jwt`) for `sub` and socket room `room`, living `ttl`;
    /// `identity`: the holder's identity claim, when not `sub`.
    pub fn issue_room_token(
        &self,
        sub: &str,
        room: &str,
        ttl: Duration,
        identity: Option<(&str, serde_json::Value)>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = RoomClaims {
            sub,
            room,
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
            jti: random_id(),
            iss: &self.issuer,
            aud: self.audience.as_deref(),
            identity: identity
                .map(|(claim, value)| (claim.to_owned(), value))
                .into_iter()
                .collect(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(socketioxide_jwt::protocol::ROOM_TOKEN_TYPE.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// One login: its id (`sid`) and when it happened (`auth_time`), the same in every token
/// refreshed from it.
pub struct LoginSession {
    pub sid: String,
    pub auth_time: u64,
}

impl LoginSession {
    /// A login now.
    pub fn new() -> Self {
        Self {
            sid: random_id(),
            auth_time: jsonwebtoken::get_current_timestamp(),
        }
    }

    /// The login a token belongs to (a token from before logins had ids starts one).
    pub fn of(claims: &socketioxide_jwt::StandardClaims) -> Self {
        let sid = claims.extra.get("sid").and_then(serde_json::Value::as_str);
        let auth_time = claims
            .extra
            .get("auth_time")
            .and_then(serde_json::Value::as_u64);
        match (sid, auth_time) {
            (Some(sid), Some(auth_time)) => Self {
                sid: sid.to_owned(),
                auth_time,
            },
            _ => Self::new(),
        }
    }
}

/// 128 random bits, hex: a token id or a login session id.
pub fn random_id() -> String {
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    hex::encode(id)
}
