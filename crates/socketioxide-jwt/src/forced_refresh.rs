//! Claims that change now: [`JwtAuth::request_refresh`] asks open sockets for a fresh token.

use crate::auth::JwtAuth;
use crate::revocation::{RefreshTarget, RevocationError};

impl<C> JwtAuth<C> {
    /// Asks the matching authenticated sockets, on every instance sharing the revocation
    /// list, for a fresh token now: claims changed (roles, rooms) and should reach open
    /// sockets without waiting for their token's expiry. Each hears `token_expiring` with
    /// `expires_in_ms: 0` (the client helpers refresh on it; so does any client that refreshes
    /// on the expiry warning); one that does not send a token issued since the request (`iat`)
    /// within [`refresh_grace`](crate::JwtAuthBuilder::refresh_grace) is refused with
    /// `token_expired`. The fresh token's claims apply as any refresh's do (rooms re-granted).
    ///
    /// Carried to the other instances by the revocation list's channel, not stored: an
    /// instance that cannot hear Redis at that moment does not ask its sockets.
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] without a revocation list on the builder, or when the
    /// other instances could not be told (this one's sockets were asked).
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use socketioxide_jwt::{revocation::RefreshTarget, JwtAuth, RevocationList};
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .revocations(RevocationList::in_memory())
    ///     .build()
    ///     .unwrap();
    /// // After changing alice's roles:
    /// auth.request_refresh(RefreshTarget::user("alice")).await.unwrap();
    /// # });
    /// ```
    pub async fn request_refresh(&self, target: RefreshTarget) -> Result<(), RevocationError> {
        match self.inner.verifier.revocations() {
            Some(list) => list.request_refresh(target).await,
            None => Err(RevocationError::Unavailable(
                "request_refresh needs a revocation list (JwtAuthBuilder::revocations)".into(),
            )),
        }
    }
}
