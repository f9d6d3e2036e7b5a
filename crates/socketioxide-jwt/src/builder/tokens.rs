//! Which tokens are accepted, beyond the key source: the user's claim, lifetimes, sizes.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::JwtAuthBuilder;

impl<C> JwtAuthBuilder<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
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
    /// let auth = socketioxide_jwt::JwtAuth::builder(socketioxide_jwt::keys::Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
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

    /// Refuses tokens that live longer than `max`: whose `exp` is more than `max` ahead (beyond
    /// the `iat` skew allowance), or whose `exp - iat` exceeds it, and tokens without `exp`.
    /// Off by default: long-lived tokens (service keys, some providers' anonymous keys) are
    /// accepted, and their expiry is enforced however far it lies.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// let auth = socketioxide_jwt::JwtAuth::builder(socketioxide_jwt::keys::Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
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
    /// let auth = socketioxide_jwt::JwtAuth::builder(socketioxide_jwt::keys::Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
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

    /// Accepts HMAC secrets shorter than 32 bytes (down to `len`).
    ///
    /// <div class="warning">A short secret can be found by brute force, and then anyone can
    /// sign tokens: RFC 7518 asks for at least 256 bits for HS256.</div>
    pub fn insecure_min_hmac_secret_len(mut self, len: usize) -> Self {
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
}
