//! Which tokens are accepted: keys, issuer, audience, lifetimes, sizes.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::JwtAuthBuilder;
use crate::keys::{KeyResolver, VerificationKey};

impl<C> JwtAuthBuilder<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Adds a verification key. Several keys are selected by the token's `kid`; several keys
    /// without a `kid` (and none with one) are a rotation: a token is tried against each, in
    /// the order given, until one's signature matches (see [`hmac_secret`](Self::hmac_secret)).
    pub fn key(mut self, key: VerificationKey) -> Self {
        self.settings.keys.push(key);
        self
    }

    /// Shorthand for `key(VerificationKey::hmac(secret))`: HS256 with a shared secret.
    ///
    /// Call it again to rotate secrets without a `kid`: the current secret first, then the ones
    /// it replaces, kept until the last token they signed has expired. Every secret verifies;
    /// the order only saves work (a token is tried against each in turn, so a forged one costs
    /// one HMAC per secret).
    ///
    /// # Example
    /// ```
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"the-current-secret-32-bytes-long")
    ///     .hmac_secret(b"the-previous-secret-still-valid!")
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn hmac_secret(self, secret: impl AsRef<[u8]>) -> Self {
        self.key(VerificationKey::hmac(secret))
    }

    /// Resolves keys asynchronously from the token header (JWKS, database, ...), instead of
    /// static keys. Multiple calls override.
    pub fn key_resolver(mut self, resolver: impl KeyResolver) -> Self {
        self.settings.resolver = Some(Arc::new(resolver));
        self
    }

    /// Names users by this claim instead of `sub`: its value (a string, or an integer written
    /// in decimal) is the user id for everything the library keys by user: the per-user cap
    /// and room, revocations by user (`revoke_user`), `authenticated`'s `sub`, and logs. For
    /// Azure AD's `oid` (its `sub` differs per application), or an `email`. A token without the
    /// claim has no user (as one without `sub` today); one whose claim is empty, longer than
    /// 255 bytes or of another type is refused (`invalid_token`). The application's claims
    /// type keeps every claim as it was. Defaults to `sub`. Multiple calls override.
    ///
    /// Back-channel logouts name the user by `sub`: another identity claim beside a trusted
    /// issuer's `client_id` is refused by `build()`
    /// ([`ConfigError::IdentityClaimWithLogout`](crate::ConfigError::IdentityClaimWithLogout)),
    /// so that a logout never silently misses.
    ///
    /// <div class="warning">The claim must name one account for good, at each issuer: an
    /// `email` a user can change, or that the provider does not verify, lets two accounts be
    /// one user here (caps, rooms, revocations). Prefer an immutable id (`oid`).</div>
    ///
    /// # Example
    /// ```
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
    ///     .identity_claim("oid")
    ///     .user_rooms()
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn identity_claim(mut self, claim: impl Into<String>) -> Self {
        self.settings.identity_claim = claim.into();
        self
    }

    /// Requires `iss` to be present and equal to `issuer`. Multiple calls override.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuers = vec![issuer.into()];
        self
    }

    /// Also accepts the tokens of `issuer`, verified with its keys only (repeat for each
    /// provider). A token's `iss` then chooses whose keys verify it, and a token without `iss`,
    /// or with one that no configured issuer has, is refused (`invalid_token`). Keys given with
    /// [`key`](Self::key) or [`key_resolver`](Self::key_resolver) beside trusted issuers form one
    /// more issuer, named with [`issuer`](Self::issuer) (required then), with
    /// [`audience`](Self::audience).
    ///
    /// See [`TrustedIssuer`](crate::TrustedIssuer) for an example.
    pub fn trusted_issuer(mut self, issuer: crate::issuer::TrustedIssuer) -> Self {
        self.settings.trusted_issuers.push(issuer);
        self
    }

    /// Requires `aud` to be present and to contain `audience`. Multiple calls override.
    ///
    /// Without an audience, a token that carries `aud` is refused (`invalid_token`): it was
    /// minted for someone else (RFC 8725 §3.9). Keys from a resolver (JWKS, OIDC) need an
    /// audience, or [`insecure_any_audience`](Self::insecure_any_audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.settings.audiences = vec![audience.into()];
        self
    }

    /// Accepts tokens whatever their `aud` says, and tokens without one.
    ///
    /// <div class="warning">An identity provider signs the tokens of all its clients with the
    /// same keys: with this, a token it issued for another application (another API, a
    /// partner's app) authenticates here. Set an <code>audience</code> instead wherever the
    /// issuer puts one in its tokens.</div>
    pub fn insecure_any_audience(mut self) -> Self {
        self.settings.any_audience = true;
        self
    }

    /// Refuses tokens that live longer than `max`: whose `exp` is more than `max` ahead (beyond
    /// the `iat` skew allowance), or whose `exp - iat` exceeds it, and tokens without `exp`.
    /// Off by default: long-lived tokens (service keys, some providers' anonymous keys) are
    /// accepted, and their expiry is enforced however far it lies.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
    ///     .max_token_lifetime(Duration::from_secs(24 * 3600))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn max_token_lifetime(mut self, max: Duration) -> Self {
        self.settings.max_token_lifetime = Some(max);
        self
    }

    /// Ends login sessions older than `max`: a token whose `auth_time` (when the user logged
    /// in at the identity provider) is older is refused with `token_expired`, on sockets and
    /// REST alike; for a token without `auth_time`, the session is counted from the socket's
    /// first authentication, and a refresh on that socket after `max` is refused (and the
    /// socket with it). A refreshed token with a later `auth_time` (a new login) starts a new
    /// session. Off by default.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
    ///     .max_session_age(Duration::from_secs(12 * 3600))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn max_session_age(mut self, max: Duration) -> Self {
        self.settings.max_session_age = Some(max);
        self
    }

    /// Clock-skew leeway applied to `exp` (at authentication and while connected) and `nbf`,
    /// to the sub-second. At most a day (`build()` refuses more). Defaults to 0.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.settings.leeway = leeway;
        self
    }

    /// Tokens longer than this (in bytes) are refused before any parsing. Defaults to 8 KiB.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.settings.max_token_len = len;
        self
    }

    /// Minimum HMAC secret length in bytes. Defaults to 32.
    pub fn min_hmac_secret_len(mut self, len: usize) -> Self {
        self.settings.min_hmac_secret_len = len;
        self
    }

    /// Accepts tokens without `exp`. Such a socket stays authenticated until it disconnects.
    ///
    /// <div class="warning">A token without expiry is valid forever once leaked.</div>
    pub fn insecure_allow_missing_exp(mut self) -> Self {
        self.settings.require_exp = false;
        self
    }

    /// Verifies with an OIDC provider's keys and requires its issuer (feature `jwks`). An
    /// [`audience`](Self::audience) is required too: the provider signs the tokens of all its
    /// clients with the same keys.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::{jwks::{JwksOptions, OidcProvider}, JwtAuth};
    /// let keycloak = OidcProvider::discover("https://sso.example.com/realms/chat", JwksOptions::default()).await?;
    /// let auth = JwtAuth::builder().oidc(keycloak).audience("chat").build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    #[cfg(feature = "jwks")]
    pub fn oidc(self, provider: crate::jwks::OidcProvider) -> Self {
        self.key_resolver(provider.jwks).issuer(provider.issuer)
    }
}
