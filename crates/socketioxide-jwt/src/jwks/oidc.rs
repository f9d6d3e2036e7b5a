//! [`OidcProvider`]: an issuer and its JWKS, found by OpenID Connect discovery.

use serde::Deserialize;

use super::fetch::{check_url, fetch_bounded, http_client};
use super::{Jwks, JwksError, JwksOptions};

/// An OpenID Connect provider: its issuer and its JWKS, found by discovery.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// The issuer, required in tokens.
    pub issuer: String,
    /// The provider's keys.
    pub jwks: Jwks,
}

#[derive(Deserialize)]
pub(super) struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcProvider {
    /// Reads `<issuer>/.well-known/openid-configuration`, checks its `issuer`, and loads its
    /// `jwks_uri`.
    ///
    /// # Example
    /// ```no_run
    /// # use socketioxide_jwt::TrustedIssuer;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::{jwks::{JwksOptions, OidcProvider}, JwtAuth};
    /// let keycloak = OidcProvider::discover("https://sso.example.com/realms/chat", JwksOptions::default()).await?;
    /// let auth = JwtAuth::builder(TrustedIssuer::oidc(keycloak, "chat")).build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`JwksError`] if discovery or the first key fetch fails.
    pub async fn discover(issuer: &str, options: JwksOptions) -> Result<Self, JwksError> {
        let base = issuer.trim_end_matches('/');
        let url = check_url(&format!("{base}/.well-known/openid-configuration"))?;
        let client = http_client(options.timeout)?;
        let (body, _) = fetch_bounded(&client, &url, options.max_bytes).await?;
        let doc: Discovery = serde_json::from_slice(&body)?;
        if doc.issuer.trim_end_matches('/') != base {
            return Err(JwksError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: doc.issuer,
            });
        }
        let jwks = Jwks::from_url(&doc.jwks_uri, options).await?;
        Ok(Self {
            issuer: doc.issuer,
            jwks,
        })
    }
}
