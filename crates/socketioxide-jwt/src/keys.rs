//! Verification keys and the key-resolver seam.
//!
//! A [`VerificationKey`] is a public key (or an HMAC secret) together with the algorithms it may
//! verify. The algorithm list comes from the server's configuration, never from the token: a token
//! whose header names an algorithm outside that list is refused before any cryptography runs.
//!
//! Static keys are selected by the token's `kid`; a [`KeyResolver`] lets the application (or the
//! JWKS provider) pick the key asynchronously from the token header. [`Keys`] says which of the
//! two a configuration uses, with the audience rule that goes with it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Header};

use crate::error::{AuthError, ConfigError};
use crate::protocol::ErrorCode;

use crate::future::BoxFuture;

/// The algorithm a key of `family` verifies when none is set.
fn default_algorithm(family: AlgorithmFamily) -> Algorithm {
    match family {
        AlgorithmFamily::Hmac => Algorithm::HS256,
        AlgorithmFamily::Rsa => Algorithm::RS256,
        AlgorithmFamily::Ec => Algorithm::ES256,
        AlgorithmFamily::Ed => Algorithm::EdDSA,
    }
}

/// A key that verifies token signatures, with the algorithms it accepts and an optional `kid`.
///
/// Each constructor sets one default algorithm (HS256, RS256, ES256, EdDSA);
/// [`VerificationKey::algorithms`] replaces the list. Algorithms outside the key's family are
/// refused when the configuration is built.
///
/// # Example
/// ```
/// use socketioxide_jwt::{Algorithm, VerificationKey};
/// let hmac = VerificationKey::hmac(b"a-32-byte-long-secret-for-hs256!");
/// assert_eq!(hmac.allowed_algorithms(), &[Algorithm::HS256]);
/// let both = VerificationKey::hmac(b"a-32-byte-long-secret-for-hs256!")
///     .algorithms([Algorithm::HS256, Algorithm::HS512])
///     .kid("2026-11");
/// assert_eq!(both.key_id(), Some("2026-11"));
/// ```
#[derive(Clone)]
pub struct VerificationKey {
    /// `None` only for an empty HMAC secret, which can never verify anything.
    key: Option<DecodingKey>,
    family: AlgorithmFamily,
    algorithms: Vec<Algorithm>,
    kid: Option<String>,
    secret_len: Option<usize>,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("VerificationKey")
            .field("family", &self.family)
            .field("algorithms", &self.algorithms)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// A key already decoded by jsonwebtoken (for example from a JWK); its family is the
    /// decoding key's, and it verifies that family's default algorithm until
    /// [`algorithms`](Self::algorithms) says otherwise.
    pub fn from_decoding_key(key: DecodingKey) -> Self {
        let family = key.family();
        Self {
            key: Some(key),
            family,
            algorithms: vec![default_algorithm(family)],
            kid: None,
            secret_len: None,
        }
    }

    /// An HMAC shared secret (HS256 by default). Secrets shorter than
    /// 32 bytes ([`JwtAuthBuilder::insecure_min_hmac_secret_len`](crate::JwtAuthBuilder::insecure_min_hmac_secret_len)) (and
    /// empty ones, always) are refused when the configuration is built.
    pub fn hmac(secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        Self {
            key: DecodingKey::from_secret(secret).ok(),
            family: AlgorithmFamily::Hmac,
            algorithms: vec![Algorithm::HS256],
            kid: None,
            secret_len: Some(secret.len()),
        }
    }

    /// An RSA public key in PEM (RS256 by default; add PS* with [`VerificationKey::algorithms`]).
    ///
    /// # Errors
    /// [`ConfigError::InvalidPem`] when the PEM is not an RSA public key.
    pub fn rsa_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        DecodingKey::from_rsa_pem(pem.as_ref())
            .map(Self::from_decoding_key)
            .map_err(|source| ConfigError::InvalidPem {
                kind: "RSA",
                source,
            })
    }

    /// An EC public key in PEM (ES256 by default; use `ES384` for a P-384 key).
    ///
    /// # Errors
    /// [`ConfigError::InvalidPem`] when the PEM is not an EC public key.
    pub fn ec_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        DecodingKey::from_ec_pem(pem.as_ref())
            .map(Self::from_decoding_key)
            .map_err(|source| ConfigError::InvalidPem { kind: "EC", source })
    }

    /// An Ed25519 public key in PEM (EdDSA).
    ///
    /// # Errors
    /// [`ConfigError::InvalidPem`] when the PEM is not an Ed25519 public key.
    pub fn ed_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        DecodingKey::from_ed_pem(pem.as_ref())
            .map(Self::from_decoding_key)
            .map_err(|source| ConfigError::InvalidPem {
                kind: "EdDSA",
                source,
            })
    }

    /// Sets the accepted algorithms. Multiple calls override. They must all belong to the key's
    /// family, which [`JwtAuthBuilder::build`](crate::JwtAuthBuilder::build) checks.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Sets the key id matched against the token header's `kid`.
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The accepted algorithms.
    pub fn allowed_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The key id, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's family (jsonwebtoken's).
    pub fn family(&self) -> AlgorithmFamily {
        self.family
    }

    pub(crate) fn decoding_key(&self) -> Option<&DecodingKey> {
        self.key.as_ref()
    }

    /// Checks the algorithm list against the family (and, for HMAC, the secret length).
    pub(crate) fn validate(&self, min_hmac_secret_len: usize) -> Result<(), ConfigError> {
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        if let Some(algorithm) = self
            .algorithms
            .iter()
            .copied()
            .find(|a| a.family() != self.family)
        {
            return Err(ConfigError::AlgorithmFamilyMismatch {
                algorithm,
                family: self.family,
            });
        }
        match self.secret_len {
            Some(len) if len == 0 || len < min_hmac_secret_len => Err(ConfigError::WeakSecret {
                len,
                min: min_hmac_secret_len,
            }),
            _ => Ok(()),
        }
    }
}

/// Picks the key that verifies a token, from the token's (unverified) header.
///
/// This is the seam for key sources other than static keys (JWKS, a database, a KMS). The
/// returned key's algorithm list is what the token is checked against: a resolver must not derive
/// it from `header.alg`.
///
/// # Example
/// ```
/// # use socketioxide_jwt::keys::Keys;
/// use std::sync::Arc;
/// use socketioxide_jwt::{keys::KeyResolver, BoxFuture};
/// use socketioxide_jwt::{AuthError, ErrorCode, VerificationKey};
/// use socketioxide_jwt::jsonwebtoken::Header;
///
/// struct OneKey(Arc<VerificationKey>);
/// impl KeyResolver for OneKey {
///     fn resolve<'a>(&'a self, header: &'a Header)
///         -> BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>> {
///         Box::pin(async move {
///             match header.kid.as_deref() {
///                 Some("main") | None => Ok(self.0.clone()),
///                 Some(_) => Err(AuthError::new(ErrorCode::InvalidToken)),
///             }
///         })
///     }
/// }
/// let resolver = OneKey(Arc::new(VerificationKey::hmac(b"a-32-byte-long-secret-for-hs256!")));
/// let auth = socketioxide_jwt::JwtAuth::builder(Keys::resolver(resolver, "https://chat.example.com"))
///     .build()
///     .unwrap();
/// # let _ = auth;
/// ```
pub trait KeyResolver: Send + Sync + 'static {
    /// Returns the key for this header, or an error (normally [`ErrorCode::InvalidToken`]).
    fn resolve<'a>(
        &'a self,
        header: &'a Header,
    ) -> BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>>;

    /// Returns the key for this header of a token that claims `issuer` (the configured issuer
    /// whose keys this resolver gives, a [`TrustedIssuer`](crate::TrustedIssuer); `None` when
    /// no issuer is required: [`Keys`] alone). The claim is not verified yet: the verification then requires it.
    ///
    /// By default, [`resolve`](Self::resolve). A resolver that serves the keys of several
    /// issuers must look a key up by issuer *and* `kid`, never by `kid` alone: two issuers may
    /// publish the same `kid`.
    fn resolve_for_issuer<'a>(
        &'a self,
        issuer: Option<&'a str>,
        header: &'a Header,
    ) -> BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>> {
        let _ = issuer;
        self.resolve(header)
    }
}

/// Static keys selected by `kid`: what [`Keys::new`] builds.
///
/// A token with a `kid` must name one of the keys that have that `kid`, unless every key was
/// configured without a `kid` (then the single kid-less key is used). A token without a `kid` uses
/// the kid-less key, if there is one.
#[derive(Debug, Default)]
pub(crate) struct StaticKeys {
    default: Option<Arc<VerificationKey>>,
    by_kid: HashMap<String, Arc<VerificationKey>>,
}

impl StaticKeys {
    pub(crate) fn insert(&mut self, key: VerificationKey) -> Result<(), ConfigError> {
        let key = Arc::new(key);
        match key.kid.clone() {
            None if self.default.is_some() => Err(ConfigError::DuplicateKid(None)),
            None => {
                self.default = Some(key);
                Ok(())
            }
            Some(kid) if self.by_kid.contains_key(&kid) => {
                Err(ConfigError::DuplicateKid(Some(kid)))
            }
            Some(kid) => {
                self.by_kid.insert(kid, key);
                Ok(())
            }
        }
    }

    #[cfg(feature = "jwks")]
    pub(crate) fn len(&self) -> usize {
        self.by_kid.len() + usize::from(self.default.is_some())
    }

    #[cfg(feature = "jwks")]
    pub(crate) fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<_> = self.by_kid.keys().cloned().collect();
        ids.sort();
        ids
    }

    #[cfg(feature = "jwks")]
    pub(crate) fn is_empty(&self) -> bool {
        self.default.is_none() && self.by_kid.is_empty()
    }

    /// The one key, when there is one and it has no `kid`: every token goes to it, whatever its
    /// header says.
    pub(crate) fn only_key(&self) -> Option<&Arc<VerificationKey>> {
        self.default.as_ref().filter(|_| self.by_kid.is_empty())
    }

    pub(crate) fn select(&self, kid: Option<&str>) -> Option<Arc<VerificationKey>> {
        match kid {
            Some(kid) if !self.by_kid.is_empty() => self.by_kid.get(kid).cloned(),
            _ => self.default.clone(),
        }
    }
}

impl KeyResolver for StaticKeys {
    fn resolve<'a>(
        &'a self,
        header: &'a Header,
    ) -> BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>> {
        let found = self.select(header.kid.as_deref()).ok_or_else(|| {
            AuthError::new(ErrorCode::InvalidToken).with_source("no key matches the token's kid")
        });
        Box::pin(std::future::ready(found))
    }
}

mod source;
pub use source::Keys;
pub(crate) use source::{Audience, KeysKind};

#[cfg(test)]
mod tests;
