//! Several identity providers at once: each trusted issuer with its own keys and audience, and
//! the `iss` of a token read (not trusted) before its verification, to choose them.
//!
//! A key of one issuer never verifies a token that claims another: the token's `iss` selects
//! the issuer whose keys may verify it, and jsonwebtoken then requires that very `iss` of the
//! verified claims. Two providers that publish the same `kid` (a common `"1"`, or a provider
//! that copies another's key ids) stay apart, unlike a resolver that merges their key sets and
//! looks keys up by `kid` alone.

use std::sync::Arc;

use base64::Engine as _;
use serde::de::{self, Deserializer as _, IgnoredAny, MapAccess, Visitor};

use crate::error::AuthError;
use crate::keys::{KeyResolver, VerificationKey};
use crate::protocol::ErrorCode;

/// An identity provider whose tokens are accepted: its `iss`, where its keys come from, and the
/// audience its tokens must carry. Add each with
/// [`JwtAuthBuilder::trusted_issuer`](crate::JwtAuthBuilder::trusted_issuer).
///
/// # Example
/// ```
/// use socketioxide_jwt::{JwtAuth, TrustedIssuer, VerificationKey};
/// let auth = JwtAuth::builder()
///     // The application's own tokens (its REST login) ...
///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
///     .issuer("chat")
///     // ... and a partner's, each verified only with its own keys.
///     .trusted_issuer(
///         TrustedIssuer::new("https://idp.partner.example")
///             .key(VerificationKey::hmac(b"the-partner's-own-32-byte-secret"))
///             .audience("chat"),
///     )
///     .build()?;
/// # let _ = auth;
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct TrustedIssuer {
    pub(crate) iss: String,
    pub(crate) keys: Vec<VerificationKey>,
    pub(crate) resolver: Option<Arc<dyn KeyResolver>>,
    pub(crate) audiences: Vec<String>,
    pub(crate) any_audience: bool,
    pub(crate) client_id: Option<String>,
}

impl std::fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("iss", &self.iss)
            .field("keys", &self.keys.len())
            .field("resolver", &self.resolver.is_some())
            .field("audiences", &self.audiences)
            .field("any_audience", &self.any_audience)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl TrustedIssuer {
    /// The issuer whose tokens carry `iss` (compared exactly).
    pub fn new(iss: impl Into<String>) -> Self {
        Self {
            iss: iss.into(),
            keys: Vec::new(),
            resolver: None,
            audiences: Vec::new(),
            any_audience: false,
            client_id: None,
        }
    }

    /// An OpenID provider: its issuer and its JWKS, as discovery found them.
    #[cfg(feature = "jwks")]
    pub fn oidc(provider: crate::jwks::OidcProvider) -> Self {
        Self::new(provider.issuer).key_resolver(provider.jwks)
    }

    /// Adds a key of this issuer (several are selected by `kid`).
    #[must_use]
    pub fn key(mut self, key: VerificationKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Resolves this issuer's keys (JWKS, a database, ...) instead of static keys. It is asked
    /// for the keys of this issuer only ([`KeyResolver::resolve_for_issuer`]).
    #[must_use]
    pub fn key_resolver(mut self, resolver: impl KeyResolver) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Requires `aud` to contain `audience` (repeat for several accepted audiences).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts this issuer's tokens whatever their `aud` says: see
    /// [`JwtAuthBuilder::insecure_any_audience`](crate::JwtAuthBuilder::insecure_any_audience).
    #[must_use]
    pub fn insecure_any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// The application's client id at this provider: accepts its OpenID Connect Back-Channel
    /// Logout tokens (whose `aud` is the client id) in
    /// [`JwtAuth::backchannel_logout`](crate::JwtAuth::backchannel_logout). Needs a
    /// [`RevocationList`](crate::RevocationList) on the builder (where logouts are recorded).
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::{JwtAuth, RevocationList, TrustedIssuer, VerificationKey};
    /// let auth = JwtAuth::builder()
    ///     .trusted_issuer(
    ///         TrustedIssuer::new("https://idp.example")
    ///             .key(VerificationKey::hmac(b"the-provider's-32-byte-hs256-key"))
    ///             .audience("chat-api")
    ///             .client_id("chat-web"),
    ///     )
    ///     .revocations(RevocationList::in_memory())
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    #[must_use]
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The `iss` this issuer's tokens carry.
    pub fn iss(&self) -> &str {
        &self.iss
    }
}

/// The `iss` a token claims, read from its payload before anything is verified: it only
/// chooses whose keys may verify the token, and the verification then requires it.
///
/// A payload that is not base64url JSON, or that names `iss` twice, is `invalid_token`
/// (two readers of a duplicated member may disagree on which one counts).
pub(crate) fn claimed_issuer(token: &str) -> Result<Option<String>, AuthError> {
    let refuse = |why: &'static str| AuthError::new(ErrorCode::InvalidToken).with_source(why);
    let payload = token.split('.').nth(1).unwrap_or_default();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| refuse("the token's payload is not base64url"))?;
    let mut reader = serde_json::Deserializer::from_slice(&json);
    let claimed = reader
        .deserialize_map(IssVisitor)
        .and_then(|iss| reader.end().map(|()| iss))
        .map_err(|_| {
            refuse("the token's payload is not an object naming its issuer once, as a string")
        })?;
    Ok(claimed)
}

/// Reads the `iss` member of a JSON object (a string, `null` or absent; named at most once),
/// skipping the others.
struct IssVisitor;

impl<'de> Visitor<'de> for IssVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut iss = None;
        let mut seen = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "iss" {
                if seen {
                    return Err(de::Error::duplicate_field("iss"));
                }
                seen = true;
                iss = map.next_value::<Option<String>>()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(iss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
        format!("eyJhbGciOiJIUzI1NiJ9.{encoded}.c2ln")
    }

    #[test]
    fn the_claimed_issuer_is_read_once_as_a_string() {
        let read = |p: &str| claimed_issuer(&token(p)).map_err(|e| e.code());
        assert_eq!(read(r#"{"iss":"A","sub":"1"}"#), Ok(Some("A".into())));
        assert_eq!(read(r#"{"sub":"1"}"#), Ok(None));
        assert_eq!(read(r#"{"iss":null}"#), Ok(None));
        assert_eq!(
            read(r#"{"iss":"A","iss":"B"}"#),
            Err(ErrorCode::InvalidToken)
        );
        assert_eq!(read(r#"{"iss":5}"#), Err(ErrorCode::InvalidToken));
        assert_eq!(read(r#"["iss"]"#), Err(ErrorCode::InvalidToken));
        assert_eq!(
            claimed_issuer("a.!!!.c").map_err(|e| e.code()),
            Err(ErrorCode::InvalidToken)
        );
    }
}
