//! [`Keys`]: where the keys that verify tokens come from, with the audience rule each source
//! needs.

use std::sync::Arc;

use super::{KeyResolver, VerificationKey};

/// Where the keys that verify tokens come from, and which `aud` the tokens must carry.
///
/// Each constructor takes what its source needs: static keys (one HMAC secret, a key set chosen
/// by `kid`, or secrets in rotation) accept tokens without `aud` unless an
/// [`audience`](Keys::audience) is set; a resolver (JWKS, OIDC, a database) needs an audience,
/// because a provider signs the tokens of all its clients with the same keys.
///
/// Give it to [`JwtAuth::builder`](crate::JwtAuth::builder) (any `iss`), or to a
/// [`TrustedIssuer`](crate::TrustedIssuer) (tokens of that `iss` only).
///
/// # Example
/// ```
/// use socketioxide_jwt::{keys::Keys, Algorithm, JwtAuth, VerificationKey};
/// // One HS256 secret.
/// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
/// // Secrets in rotation (no `kid`): the current one first, then the ones it replaces.
/// let rotation = Keys::new([
///     VerificationKey::hmac(b"the-current-secret-32-bytes-long"),
///     VerificationKey::hmac(b"the-previous-secret-still-valid!"),
/// ]);
/// // Tokens must name this audience.
/// let for_chat = Keys::hmac(b"a-32-byte-long-secret-for-hs256!").audience("chat");
/// # let _ = (auth, rotation, for_chat);
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Keys {
    pub(crate) kind: KeysKind,
    pub(crate) audience: Audience,
}

/// The keys themselves.
#[derive(Clone)]
pub(crate) enum KeysKind {
    /// Static keys, checked when the configuration is built.
    Static(Vec<VerificationKey>),
    /// Keys resolved from each token's header.
    Resolver(Arc<dyn KeyResolver>),
}

/// What `aud` must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Absent: a token naming an audience was minted for someone else (RFC 8725 §3.9).
    NoneExpected,
    /// One of these.
    OneOf(Vec<String>),
    /// Anything, or absent.
    Any,
}

impl Keys {
    /// One HS256 secret (at least 32 bytes, checked when the configuration is built).
    pub fn hmac(secret: impl AsRef<[u8]>) -> Self {
        Self::new([VerificationKey::hmac(secret)])
    }

    /// Static keys: several are chosen by the token's `kid`; several without a `kid` (and none
    /// with one) are a rotation, tried in the order given until one's signature matches (the
    /// current secret first, then the ones it replaces, kept until the last token they signed
    /// has expired; a forged token costs one verification per key).
    pub fn new(keys: impl IntoIterator<Item = VerificationKey>) -> Self {
        Self {
            kind: KeysKind::Static(keys.into_iter().collect()),
            audience: Audience::NoneExpected,
        }
    }

    /// Keys resolved from each token's header (JWKS, a database, ...), for tokens that must
    /// carry `audience` in their `aud`.
    ///
    /// # Example
    /// ```no_run
    /// # #[cfg(feature = "jwks")]
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::{jwks::{Jwks, JwksOptions}, keys::Keys, JwtAuth};
    /// let jwks = Jwks::from_url("https://sso.example.com/jwks.json", JwksOptions::default()).await?;
    /// let auth = JwtAuth::builder(Keys::resolver(jwks, "chat")).build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn resolver(resolver: impl KeyResolver, audience: impl Into<String>) -> Self {
        Self {
            kind: KeysKind::Resolver(Arc::new(resolver)),
            audience: Audience::OneOf(vec![audience.into()]),
        }
    }

    /// Keys resolved from each token's header, for tokens whatever their `aud` says.
    ///
    /// <div class="warning">An identity provider signs the tokens of all its clients with the
    /// same keys: with this, a token it issued for another application authenticates here.
    /// Prefer <code>Keys::resolver(resolver, audience)</code> wherever the issuer puts an
    /// audience in its tokens.</div>
    pub fn insecure_resolver_any_audience(resolver: impl KeyResolver) -> Self {
        Self {
            kind: KeysKind::Resolver(Arc::new(resolver)),
            audience: Audience::Any,
        }
    }

    /// Also accepts tokens whose `aud` contains `audience` (the first call makes `aud`
    /// required).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        match &mut self.audience {
            Audience::OneOf(list) => list.push(audience.into()),
            other => *other = Audience::OneOf(vec![audience.into()]),
        }
        self
    }

    /// Accepts tokens whatever their `aud` says, and tokens without one (replacing the
    /// audiences set before).
    ///
    /// <div class="warning">A token minted for another application with the same keys
    /// authenticates here. Set an <code>audience</code> wherever the issuer puts one.</div>
    #[must_use]
    pub fn insecure_any_audience(mut self) -> Self {
        self.audience = Audience::Any;
        self
    }
}

impl From<VerificationKey> for Keys {
    fn from(key: VerificationKey) -> Self {
        Self::new([key])
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Keys");
        match &self.kind {
            KeysKind::Static(keys) => s.field("static_keys", &keys.len()),
            KeysKind::Resolver(_) => s.field("resolver", &true),
        };
        s.field("audience", &self.audience).finish()
    }
}
