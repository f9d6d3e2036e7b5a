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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date::optional"
    )]
    pub exp: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date::optional"
    )]
    pub iat: Option<u64>,
    /// Not before, seconds since the Unix epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date::optional"
    )]
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

/// RFC 7519's NumericDate, read as jsonwebtoken reads `exp` and `nbf`: an integer, or a finite
/// non-negative float rounded to whole seconds; anything else (a negative number, a string, a
/// float beyond `u64`) does not parse, and the token is refused with `invalid_token`.
pub(crate) mod numeric_date {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    /// `u64` from a NumericDate that must be there.
    pub(crate) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        optional(d)?.ok_or_else(|| de::Error::custom("a NumericDate is required"))
    }

    /// `Option<u64>` from a NumericDate or `null`.
    pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_option(OptionalVisitor)
    }

    struct OptionalVisitor;

    impl<'de> Visitor<'de> for OptionalVisitor {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a NumericDate (seconds since the epoch, not negative)")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom("a NumericDate must not be negative"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // The same bounds as jsonwebtoken's, so both read a claim alike.
            if v.is_finite() && v >= 0.0 && v < u64::MAX as f64 {
                Ok(Some(v.round() as u64))
            } else {
                Err(E::custom(
                    "a NumericDate must be a finite, non-negative number",
                ))
            }
        }
    }
}

impl TryFrom<&StandardClaims> for RegisteredClaims {
    type Error = serde_json::Error;

    /// The registered claims of `claims`; the ones [`StandardClaims`] keeps in `extra` (`sid`,
    /// `auth_time`) must have the type they have in [`RegisteredClaims`].
    fn try_from(claims: &StandardClaims) -> Result<Self, Self::Error> {
        let extra = |name: &str| claims.extra.get(name).unwrap_or(&Value::Null);
        Ok(Self {
            sub: claims.sub.clone(),
            iss: claims.iss.clone(),
            exp: claims.exp,
            iat: claims.iat,
            nbf: claims.nbf,
            jti: claims.jti.clone(),
            sid: Option::<String>::deserialize(extra("sid"))?,
            auth_time: numeric_date::optional(extra("auth_time"))?,
            has_events: claims.extra.contains_key("events"),
        })
    }
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
#[non_exhaustive]
pub struct RegisteredClaims {
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default, deserialize_with = "numeric_date::optional")]
    pub exp: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, deserialize_with = "numeric_date::optional")]
    pub iat: Option<u64>,
    /// Not before, seconds since the Unix epoch.
    #[serde(default, deserialize_with = "numeric_date::optional")]
    pub nbf: Option<u64>,
    /// Token id.
    #[serde(default)]
    pub jti: Option<String>,
    /// The login session at the identity provider (OpenID Connect's `sid`): the tokens of one
    /// login, refreshed or not, share it.
    #[serde(default)]
    pub sid: Option<String>,
    /// When the user authenticated at the provider (OpenID Connect's `auth_time`).
    #[serde(default, deserialize_with = "numeric_date::optional")]
    pub auth_time: Option<u64>,
    /// Whether the token has an `events` claim: a Security Event Token (RFC 8417), such as an
    /// OpenID Connect logout token, which is never a credential.
    #[serde(
        default,
        rename = "events",
        deserialize_with = "present",
        skip_serializing
    )]
    pub has_events: bool,
}

impl RegisteredClaims {
    /// Registered claims with this `sub` (the others empty).
    ///
    /// # Example
    /// ```
    /// let claims = socketioxide_jwt::claims::RegisteredClaims::for_sub("alice");
    /// assert_eq!(claims.sub.as_deref(), Some("alice"));
    /// ```
    pub fn for_sub(sub: impl Into<String>) -> Self {
        Self {
            sub: Some(sub.into()),
            ..Self::default()
        }
    }
}

/// `true` for a claim that is there, whatever its value (`null` included).
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}
