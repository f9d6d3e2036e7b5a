//! Several identity providers at once: each trusted issuer with its own keys and audience, and
//! the `iss` of a token read (not trusted) before its verification, to choose them.
//!
//! A key of one issuer never verifies a token that claims another: the token's `iss` selects
//! the issuer whose keys may verify it, and jsonwebtoken then requires that very `iss` of the
//! verified claims. Two providers that publish the same `kid` (a common `"1"`, or a provider
//! that copies another's key ids) stay apart, unlike a resolver that merges their key sets and
//! looks keys up by `kid` alone.

use base64::Engine as _;
use serde::de::{self, Deserializer as _, IgnoredAny, MapAccess, Visitor};

use crate::error::AuthError;
use crate::keys::Keys;
use crate::protocol::ErrorCode;

/// An identity provider whose tokens are accepted: its `iss` and the [`Keys`] (with their
/// audience rule) that verify its tokens, and only its tokens. Give one, or several, to
/// [`JwtAuth::builder`](crate::JwtAuth::builder): a token's `iss` then chooses whose keys verify
/// it, and a token without `iss`, or with one no issuer has, is refused (`invalid_token`).
///
/// # Example
/// ```
/// use socketioxide_jwt::{keys::Keys, JwtAuth, TrustedIssuer};
/// let auth = JwtAuth::builder([
///     // The application's own tokens (its REST login) ...
///     TrustedIssuer::new("chat", Keys::hmac(b"a-32-byte-long-secret-for-hs256!")),
///     // ... and a partner's, each verified only with its own keys.
///     TrustedIssuer::new(
///         "https://idp.partner.example",
///         Keys::hmac(b"the-partner's-own-32-byte-secret").audience("chat"),
///     ),
/// ])
/// .build()?;
/// # let _ = auth;
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct TrustedIssuer {
    pub(crate) iss: String,
    pub(crate) keys: Keys,
    pub(crate) client_id: Option<String>,
}

impl std::fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("iss", &self.iss)
            .field("keys", &self.keys)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl TrustedIssuer {
    /// The issuer whose tokens carry `iss` (compared exactly), verified with `keys`.
    pub fn new(iss: impl Into<String>, keys: impl Into<Keys>) -> Self {
        Self {
            iss: iss.into(),
            keys: keys.into(),
            client_id: None,
        }
    }

    /// An OpenID provider, as discovery found it (its issuer and JWKS), for tokens whose `aud`
    /// contains `audience`.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::{jwks::{JwksOptions, OidcProvider}, JwtAuth, TrustedIssuer};
    /// let keycloak = OidcProvider::discover("https://sso.example.com/realms/chat", JwksOptions::default()).await?;
    /// let auth = JwtAuth::builder(TrustedIssuer::oidc(keycloak, "chat")).build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    #[cfg(feature = "jwks")]
    pub fn oidc(provider: crate::jwks::OidcProvider, audience: impl Into<String>) -> Self {
        Self::new(provider.issuer, Keys::resolver(provider.jwks, audience))
    }

    /// The application's client id at this provider: accepts its OpenID Connect Back-Channel
    /// Logout tokens (whose `aud` is the client id) in
    /// [`JwtAuth::backchannel_logout`](crate::JwtAuth::backchannel_logout). Logouts are recorded
    /// in the builder's [`revocations`](crate::JwtAuthBuilder::revocations) (shared by every
    /// instance), or, without one, in a list of this process.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::{keys::Keys, JwtAuth, RevocationList, TrustedIssuer};
    /// let idp = TrustedIssuer::new(
    ///     "https://idp.example",
    ///     Keys::hmac(b"the-provider's-32-byte-hs256-key").audience("chat-api"),
    /// )
    /// .client_id("chat-web");
    /// let auth = JwtAuth::builder(idp).revocations(RevocationList::in_memory()).build()?;
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

/// Whose tokens a configuration accepts: one set of [`Keys`] (any `iss`), or
/// [`TrustedIssuer`]s, each verified with its own keys only. Made from either (`From`), for
/// [`JwtAuth::builder`](crate::JwtAuth::builder).
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Tokens verified with these keys, whatever their `iss`.
    Keys(Keys),
    /// Tokens of these issuers (at least one), each verified with its own keys.
    Issuers(Vec<TrustedIssuer>),
}

impl From<Keys> for KeySource {
    fn from(keys: Keys) -> Self {
        KeySource::Keys(keys)
    }
}

impl From<TrustedIssuer> for KeySource {
    fn from(issuer: TrustedIssuer) -> Self {
        KeySource::Issuers(vec![issuer])
    }
}

impl From<Vec<TrustedIssuer>> for KeySource {
    fn from(issuers: Vec<TrustedIssuer>) -> Self {
        KeySource::Issuers(issuers)
    }
}

impl<const N: usize> From<[TrustedIssuer; N]> for KeySource {
    fn from(issuers: [TrustedIssuer; N]) -> Self {
        KeySource::Issuers(issuers.into())
    }
}

/// The `iss` a token claims, read from its payload before anything is verified: it only
/// chooses whose keys may verify the token, and the verification then requires it.
///
/// A payload that is not base64url JSON, or that names `iss` twice, is `invalid_token`
/// (two readers of a duplicated member may disagree on which one counts).
/// Whether two spellings name the same issuer: equal but for a trailing `/` (providers
/// publish `https://idp/` and sign `https://idp`, or the other way round).
#[cfg(feature = "jwks")]
pub(crate) fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

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
