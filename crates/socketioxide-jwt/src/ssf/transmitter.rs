//! A transmitter: its issuer, its keys and how it delivers, from its SSF configuration
//! metadata (SSF 1.0 §7.2).

use serde::Deserialize;

use crate::issuer::same_issuer;
use crate::jwks::{check_url, discovery_document, Jwks, JwksError, JwksOptions};

/// How a transmitter delivers events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryMethod {
    /// RFC 8935: the transmitter `POST`s each SET to the receiver.
    Push,
    /// RFC 8936: the receiver polls the transmitter.
    Poll,
}

impl DeliveryMethod {
    /// The method's URN in SSF metadata and stream configurations.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::ssf::DeliveryMethod;
    /// assert_eq!(DeliveryMethod::Poll.urn(), "urn:ietf:rfc:8936");
    /// ```
    pub fn urn(self) -> &'static str {
        match self {
            Self::Push => "urn:ietf:rfc:8935",
            Self::Poll => "urn:ietf:rfc:8936",
        }
    }
}

/// A Shared Signals transmitter: the issuer of its SETs, the keys they are signed with, what
/// it offers, and the token issuers whose users it may name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SsfTransmitter {
    /// The `iss` of its SETs.
    pub issuer: String,
    /// Its signing keys (from its `jwks_uri`), refreshed and rotated as a JWKS is.
    pub jwks: Jwks,
    /// The delivery methods its metadata lists.
    pub delivery_methods: Vec<DeliveryMethod>,
    /// Where its streams are configured (`configuration_endpoint`), if it says.
    pub configuration_endpoint: Option<String>,
    /// The trusted token issuers whose users its events may name: its own issuer, and those
    /// added with [`speaks_for`](Self::speaks_for).
    pub(crate) speaks_for: Vec<String>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    delivery_methods_supported: Vec<String>,
    #[serde(default)]
    configuration_endpoint: Option<String>,
}

impl SsfTransmitter {
    /// Reads the transmitter's metadata (`/.well-known/ssf-configuration`, inserted between
    /// the issuer's host and path), checks that it names `issuer`, and loads its `jwks_uri`.
    /// https only (plain http for loopback hosts), as every key fetch.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::{jwks::JwksOptions, ssf::SsfTransmitter};
    /// let okta = SsfTransmitter::discover("https://example.okta.com", JwksOptions::default()).await?;
    /// # let _ = okta; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`JwksError`] if the metadata or the first key fetch fails, or names another issuer.
    pub async fn discover(issuer: &str, options: JwksOptions) -> Result<Self, JwksError> {
        let url = metadata_url(issuer)?;
        let doc = discovery_document(url, issuer, &options, |d: &Metadata| &d.issuer).await?;
        let jwks = Jwks::from_url(&doc.jwks_uri, options).await?;
        let delivery_methods = [DeliveryMethod::Push, DeliveryMethod::Poll]
            .into_iter()
            .filter(|m| doc.delivery_methods_supported.iter().any(|s| s == m.urn()))
            .collect();
        Ok(Self {
            speaks_for: vec![doc.issuer.clone()],
            issuer: doc.issuer,
            jwks,
            delivery_methods,
            configuration_endpoint: doc.configuration_endpoint,
        })
    }

    /// Its events may also name the users of the trusted token issuer `iss` (an identity
    /// provider whose SSF transmitter and token issuer differ, e.g. a custom authorization
    /// server's `iss`).
    pub fn speaks_for(mut self, iss: impl Into<String>) -> Self {
        self.speaks_for.push(iss.into());
        self
    }

    /// Its `speaks_for` issuers spelled as the configuration's trusted issuers spell them (a
    /// trailing `/` aside: revocations match a token's `iss` exactly); a warning for each that
    /// no trusted issuer has, whose users its events can never name.
    pub(crate) fn bound_to(mut self, trusted: &[&str]) -> Self {
        for iss in &mut self.speaks_for {
            match trusted.iter().find(|t| same_issuer(t, iss)) {
                Some(t) => *iss = (*t).to_owned(),
                None => {
                    tracing::warn!(transmitter = %self.issuer, %iss, "this SSF transmitter speaks for an issuer whose tokens are not trusted here: its events about those users will match no one")
                }
            }
        }
        self
    }

    /// Whether it delivers by `method`.
    pub fn offers(&self, method: DeliveryMethod) -> bool {
        self.delivery_methods.contains(&method)
    }
}

/// `https://host/.well-known/ssf-configuration/<path>` for the issuer `https://host/<path>`.
fn metadata_url(issuer: &str) -> Result<reqwest::Url, JwksError> {
    let mut url = check_url(issuer)?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("/.well-known/ssf-configuration{path}"));
    url.set_query(None);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_goes_between_host_and_path() {
        let url = |i: &str| metadata_url(i).map(|u| u.to_string());
        assert_eq!(
            url("https://tr.example").unwrap(),
            "https://tr.example/.well-known/ssf-configuration"
        );
        assert_eq!(
            url("https://tr.example/").unwrap(),
            "https://tr.example/.well-known/ssf-configuration"
        );
        assert_eq!(
            url("https://tr.example/tenant/1").unwrap(),
            "https://tr.example/.well-known/ssf-configuration/tenant/1"
        );
        assert!(url("http://tr.example").is_err(), "https only off loopback");
        assert!(url("http://127.0.0.1:9/").is_ok());
    }
}
