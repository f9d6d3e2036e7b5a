//! Claim types: the default [`StandardClaims`] and the registered claims the library itself reads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A claims type for applications that do not define their own: the registered claims, plus every
/// other claim in [`StandardClaims::extra`].
///
/// # Example
/// ```
/// use socketioxide_jwt::StandardClaims;
/// let claims: StandardClaims = serde_json::from_value(serde_json::json!({
///     "sub": "alice", "exp": 2000000000, "scope": "chat:read chat:write", "roles": ["admin"]
/// })).unwrap();
/// assert_eq!(claims.sub.as_deref(), Some("alice"));
/// assert!(claims.has_scope("chat:write"));
/// assert!(claims.has_role("admin"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StandardClaims {
    /// Subject: who the token is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience: a string or an array of strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StandardClaims {
    /// Whether the space-separated `scope` claim (or the `scp` array) contains `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        let in_scope_string = self
            .extra
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(' ').any(|s| s == scope));
        in_scope_string || contains_str(self.extra.get("scp"), scope)
    }

    /// Whether the `role` claim equals `role` or the `roles` array contains it.
    pub fn has_role(&self, role: &str) -> bool {
        self.extra.get("role").and_then(Value::as_str) == Some(role)
            || contains_str(self.extra.get("roles"), role)
    }
}

fn contains_str(value: Option<&Value>, needle: &str) -> bool {
    value
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(needle)))
}

/// The registered claims the library needs for its own decisions (identity, expiry, revocation).
///
/// # Example
/// ```
/// use socketioxide_jwt::claims::RegisteredClaims;
/// let reg: RegisteredClaims = serde_json::from_str(r#"{"sub":"bob","exp":10,"extra":1}"#).unwrap();
/// assert_eq!(reg.sub.as_deref(), Some("bob"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClaims {
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default)]
    pub exp: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: Option<u64>,
    /// Token id.
    #[serde(default)]
    pub jti: Option<String>,
}
