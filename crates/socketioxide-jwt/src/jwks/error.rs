//! [`JwksError`]: why a key set could not be loaded.

use super::fetch::RefusedRedirect;

/// Why a key set could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The URL is not `https://` (plain `http://` is accepted for loopback hosts only:
    /// `127.0.0.0/8`, `[::1]`, `localhost`).
    #[error(
        "key URLs must use https: {0} (plain http only for a loopback host: 127.0.0.1, [::1] or \
         localhost; in a compose file or a cluster, reach the provider through https, e.g. its \
         TLS port or a TLS-terminating proxy, or give the key set as a file)"
    )]
    InsecureUrl(String),
    /// The URL does not parse.
    #[error("invalid URL {0}")]
    InvalidUrl(String),
    /// A redirect left `https` (or went from loopback `http` elsewhere), or there were too many.
    #[error("{0}")]
    InsecureRedirect(String),
    /// The options contradict each other.
    #[error("invalid JwksOptions: {0}")]
    InvalidOptions(&'static str),
    /// The request failed or timed out.
    #[error("the request failed")]
    Http(#[source] reqwest::Error),
    /// The provider answered with an error status.
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    /// The response exceeds [`JwksOptions::max_bytes`](super::JwksOptions::max_bytes).
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// The file could not be read.
    #[error("the file could not be read")]
    Io(#[from] std::io::Error),
    /// The document is not a JWKS (or not an OIDC discovery document).
    #[error("the document is not valid JSON of the expected shape")]
    Parse(#[from] serde_json::Error),
    /// The set holds no key usable for signature verification.
    #[error("the key set holds no usable signature key")]
    NoUsableKey,
    /// The discovery document names another issuer.
    #[error("the discovery document's issuer {found:?} is not {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
}

impl From<reqwest::Error> for JwksError {
    /// A redirect the policy refused becomes [`JwksError::InsecureRedirect`], naming the URL.
    fn from(e: reqwest::Error) -> Self {
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<RefusedRedirect>() {
                return Self::InsecureRedirect(refused.to_string());
            }
            source = cause.source();
        }
        Self::Http(e)
    }
}
