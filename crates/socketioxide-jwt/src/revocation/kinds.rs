//! What can be revoked ([`Revocation`]), how many are held, and why one could not be recorded.

use serde::{Deserialize, Serialize};

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Revocation {
    /// The token with this `jti`, until `until` (its `exp`; seconds since the epoch).
    Token {
        /// The token id.
        jti: String,
        /// When the entry may be forgotten.
        until: u64,
    },
    /// Every token of `sub` issued at or before `issued_before` (`iat`), until `until`.
    User {
        /// The subject.
        sub: String,
        /// Tokens of this issuer only; `None`: of every issuer (and tokens without `iss`).
        /// Absent from revocations stored before issuers could be several: they keep meaning
        /// every token of that `sub`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iss: Option<String>,
        /// Tokens with `iat` ≤ this are revoked (a token without `iat` is too).
        issued_before: u64,
        /// When the entry may be forgotten.
        until: u64,
    },
    /// Every token carrying this login session's `sid` (issued before or after), until `until`.
    Session {
        /// The session id (OpenID Connect's `sid`).
        sid: String,
        /// Tokens of this issuer only; `None`: of every issuer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iss: Option<String>,
        /// When the entry may be forgotten.
        until: u64,
    },
}

/// A [`Revocation`] as stored and sent, read without serde's buffering of internally tagged
/// enums (several times faster when a million are loaded).
#[derive(Deserialize)]
struct Flat {
    kind: FlatKind,
    jti: Option<String>,
    sub: Option<String>,
    sid: Option<String>,
    iss: Option<String>,
    issued_before: Option<u64>,
    until: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum FlatKind {
    Token,
    User,
    Session,
}

impl Revocation {
    /// The latest `until` a list holds (the last second of year 9999): `until` comes from a
    /// token's `exp`, which may be any `u64`; Redis refuses an `EXAT` near `i64::MAX / 1000`
    /// and Lua reads numbers as doubles. An entry kept this long is kept for good; holding the
    /// same cap in memory and in a store lets a process tell whether the store holds what it
    /// holds.
    pub const MAX_UNTIL: u64 = 253_402_300_799;

    /// Reads a revocation's JSON: whatever [`Revocation`]'s `Deserialize` accepts, several times
    /// faster for the JSON a list writes (an object with the fields of its kind): what a
    /// backend loading a million stored revocations wants. `None` when it is not one.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::revocation::Revocation;
    /// let json = br#"{"kind":"token","jti":"abc","until":1700000000}"#;
    /// let parsed = Revocation::from_json(json).unwrap();
    /// assert_eq!(parsed, serde_json::from_slice(json).unwrap());
    /// assert!(Revocation::from_json(br#"{"kind":"token","until":1}"#).is_none());
    /// ```
    pub fn from_json(json: &[u8]) -> Option<Self> {
        Self::from_flat_json(json).or_else(|| serde_json::from_slice(json).ok())
    }

    /// The fast path of [`from_json`](Self::from_json): one pass, no buffering, stricter than
    /// `Deserialize` (a field of another kind must still have its type; no array form).
    fn from_flat_json(json: &[u8]) -> Option<Self> {
        let flat: Flat = serde_json::from_slice(json).ok()?;
        Some(match flat.kind {
            FlatKind::Token => Revocation::Token {
                jti: flat.jti?,
                until: flat.until,
            },
            FlatKind::User => Revocation::User {
                sub: flat.sub?,
                iss: flat.iss,
                issued_before: flat.issued_before?,
                until: flat.until,
            },
            FlatKind::Session => Revocation::Session {
                sid: flat.sid?,
                iss: flat.iss,
                until: flat.until,
            },
        })
    }
}

/// The part of a store key naming issuer `iss`: `iss:<length>:<iss>:`, whose length makes a key
/// name one (`iss`, `sub` / `sid` / `jti`) pair whatever either contains.
pub(crate) fn issuer_key_part(iss: &str) -> String {
    format!("iss:{}:{iss}:", iss.len())
}

impl Revocation {
    /// What this revokes, as a name: `jti:<jti>`, `sub:<sub>`, `sid:<sid>`, with
    /// `iss:<length>:<iss>:` in front for a user or session at one issuer. Two revocations of
    /// the same token, user or session have the same key, and no two others do (the length
    /// makes the name one (`iss`, `sub`) pair whatever either contains): what a store files
    /// them under.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::revocation::Revocation;
    /// let user: Revocation = serde_json::from_str(
    ///     r#"{"kind":"user","sub":"42","iss":"https://a","issued_before":1,"until":2}"#,
    /// ).unwrap();
    /// assert_eq!(user.key(), "iss:9:https://a:sub:42");
    /// ```
    pub fn key(&self) -> String {
        let issuer = |iss: &Option<String>| iss.as_deref().map(issuer_key_part).unwrap_or_default();
        match self {
            Revocation::Token { jti, .. } => format!("jti:{jti}"),
            Revocation::User { sub, iss, .. } => format!("{}sub:{sub}", issuer(iss)),
            Revocation::Session { sid, iss, .. } => format!("{}sid:{sid}", issuer(iss)),
        }
    }

    /// `token`, `user` or `session` (a metrics label, a log field).
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::revocation::Revocation;
    /// let token: Revocation = serde_json::from_str(r#"{"kind":"token","jti":"a","until":1}"#).unwrap();
    /// assert_eq!(token.kind_label(), "token");
    /// ```
    pub fn kind_label(&self) -> &'static str {
        match self {
            Revocation::Token { .. } => "token",
            Revocation::User { .. } => "user",
            Revocation::Session { .. } => "session",
        }
    }

    /// The same, kept at most until `max` (seconds since the epoch).
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::revocation::Revocation;
    /// let far: Revocation = serde_json::from_str(r#"{"kind":"token","jti":"a","until":18446744073709551615}"#).unwrap();
    /// assert_eq!(far.with_until_at_most(Revocation::MAX_UNTIL).until(), Revocation::MAX_UNTIL);
    /// ```
    #[must_use]
    pub fn with_until_at_most(mut self, max: u64) -> Self {
        match &mut self {
            Revocation::Token { until, .. }
            | Revocation::User { until, .. }
            | Revocation::Session { until, .. } => *until = (*until).min(max),
        }
        self
    }

    /// The same, kept at least until `min`.
    pub(crate) fn with_until_at_least(mut self, min: u64) -> Self {
        match &mut self {
            Revocation::Token { until, .. }
            | Revocation::User { until, .. }
            | Revocation::Session { until, .. } => *until = (*until).max(min),
        }
        self
    }

    /// When the entry may be forgotten (seconds since the epoch).
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::revocation::Revocation;
    /// let token: Revocation = serde_json::from_str(r#"{"kind":"token","jti":"a","until":7}"#).unwrap();
    /// assert_eq!(token.until(), 7);
    /// ```
    pub fn until(&self) -> u64 {
        match self {
            Revocation::Token { until, .. }
            | Revocation::User { until, .. }
            | Revocation::Session { until, .. } => *until,
        }
    }
}

/// How many revocations a [`RevocationList`](super::RevocationList) holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationCounts {
    /// Revoked tokens (by `jti`).
    pub tokens: usize,
    /// Revoked users (by `sub`, or by `iss` and `sub`).
    pub users: usize,
    /// Revoked login sessions (by `sid`).
    pub sessions: usize,
}

/// Why a revocation could not be recorded (the local list is updated anyway).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The shared store could not be reached; the revocation applies in this process only.
    #[error("the revocation store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The shared store could not be reached: the revocation applies in this process now, and is
    /// sent to the others as soon as the store is back (in order, after those queued before it).
    #[error("the revocation store is unavailable: applied here, queued for the other processes")]
    Queued(#[source] Box<dyn std::error::Error + Send + Sync>),
}
