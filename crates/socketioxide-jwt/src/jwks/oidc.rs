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
        let doc: Discovery =
            discovery_document(url, issuer, &options, |d: &Discovery| &d.issuer).await?;
        let jwks = Jwks::from_url(&doc.jwks_uri, options).await?;
        Ok(Self {
            issuer: doc.issuer,
            jwks,
        })
    }
}

/// The discovery document at `url` (bounded by the options, JSON), which must name `issuer`
/// (`named`: the issuer it names).
pub(crate) async fn discovery_document<T: serde::de::DeserializeOwned>(
    url: reqwest::Url,
    issuer: &str,
    options: &JwksOptions,
    named: impl Fn(&T) -> &str,
) -> Result<T, JwksError> {
    let client = http_client(options.timeout)?;
    let (body, _) = fetch_bounded(&client, &url, options.max_bytes).await?;
    let doc: T = serde_json::from_slice(&body)?;
    if !crate::issuer::same_issuer(named(&doc), issuer) {
        return Err(JwksError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: named(&doc).to_owned(),
        });
    }
    Ok(doc)
}
