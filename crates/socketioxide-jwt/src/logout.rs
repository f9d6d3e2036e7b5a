//! OpenID Connect Back-Channel Logout: a provider tells the application that a login ended, and
//! the sockets of that login (or of that user) are disconnected on every instance.

use crate::auth::JwtAuth;
use crate::error::AuthError;
use crate::revocation::{RevocationError, RevocationList};
pub use crate::verify::{LogoutToken, BACKCHANNEL_LOGOUT_EVENT, MAX_LOGOUT_TOKEN_LIFETIME};

/// Why a logout token was not acted on. A back-channel logout endpoint answers `400` to
/// every one of them (Back-Channel Logout 1.0 §2.8), `503` to
/// [`LogoutError::Unavailable`] if it prefers the provider to retry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutError {
    /// Not a valid logout token of a trusted issuer for this client (signature, `aud`,
    /// `iss`, `exp`, `iat`, `events`, `sid`/`sub`, `jti`, no `nonce`).
    #[error("invalid logout token")]
    Invalid(#[source] AuthError),
    /// This logout token (its `iss` and `jti`) was received before.
    #[error("this logout token was received before")]
    Replayed,
    /// The logout could not be recorded: it applies in this process only.
    #[error("the logout could not be recorded")]
    Unavailable(#[source] RevocationError),
}

impl<C> JwtAuth<C> {
    /// Verifies a Back-Channel Logout token (the form field `logout_token` of the provider's
    /// `POST`) and ends what it names, on every instance sharing the revocation list:
    /// with a `sid`, every token of that login session at that issuer (refreshed ones too);
    /// with only a `sub`, every token of that user at that issuer issued until the logout
    /// token's `iat`. The matching sockets hear `unauthorized` / `revoked` and are
    /// disconnected. A replayed token (same `iss` and `jti`) is refused.
    ///
    /// Accepted from issuers configured with [`TrustedIssuer::client_id`](crate::TrustedIssuer::client_id).
    /// What a logout revokes depends only on the token (its `sid`, or its `sub` and `iat`), so
    /// a replay that got through while the store was unreachable revokes nothing new.
    ///
    /// # Errors
    /// [`LogoutError`]; the server keeps serving everyone else.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use socketioxide_jwt::{logout::LogoutError, JwtAuth, RevocationList, TrustedIssuer, VerificationKey};
    /// let idp = TrustedIssuer::new(
    ///     "https://idp.example",
    ///     Keys::hmac(b"the-provider's-32-byte-hs256-key").audience("chat-api"),
    /// );
    /// let auth = JwtAuth::builder(idp.client_id("chat-web"))
    ///     .revocations(RevocationList::in_memory())
    ///     .build()
    ///     .unwrap();
    /// let err = auth.backchannel_logout("not.a.token").await.unwrap_err();
    /// assert!(matches!(err, LogoutError::Invalid(_)));
    /// # });
    /// ```
    pub async fn backchannel_logout(&self, logout_token: &str) -> Result<LogoutToken, LogoutError> {
        let verifier = &self.inner.verifier;
        let Some(list) = verifier.revocations() else {
            let why = "back-channel logout needs a revocation list";
            return Err(LogoutError::Invalid(AuthError::forbidden(why)));
        };
        let logout = verifier
            .verify_logout(logout_token)
            .await
            .map_err(LogoutError::Invalid)?;
        // Remembered as long as the token could verify (its `exp` and the leeway).
        let until = logout.exp.saturating_add(verifier.leeway_secs());
        // Recorded and carried out in a task of its own: a provider that hangs up (dropping
        // this future) must not leave the logout recorded and not carried out.
        let carry_out = carry_out(list.clone(), logout.clone(), until);
        let outcome = crate::future::to_completion(carry_out)
            .await
            .unwrap_or_else(|e| {
                Err(LogoutError::Unavailable(RevocationError::Unavailable(
                    Box::new(e),
                )))
            });
        outcome?;
        tracing::info!(iss = %logout.iss, session = logout.sid.is_some(), "back-channel logout");
        Ok(logout)
    }
}

/// Records the logout token (a replay is refused), then revokes what it names; forgets it
/// again when the revocation could not be made, so that the provider's retry is no replay.
async fn carry_out(
    list: RevocationList,
    logout: LogoutToken,
    until: u64,
) -> Result<(), LogoutError> {
    let first = list
        .record_logout(&logout.iss, &logout.jti, until)
        .await
        .map_err(LogoutError::Unavailable)?;
    if !first {
        return Err(LogoutError::Replayed);
    }
    let iss = Some(logout.iss.as_str());
    let revoked = match (&logout.sid, &logout.sub) {
        (Some(sid), _) => list.revoke_session_at(iss, sid).await,
        (None, Some(sub)) => list.revoke_user_issued_before(iss, sub, logout.iat).await,
        (None, None) => Ok(()),
    };
    match revoked {
        // Applied here; sent to the other processes when the store is back.
        Ok(()) | Err(RevocationError::Queued(_)) => Ok(()),
        Err(e) => {
            list.forget_logout(&logout.iss, &logout.jti).await;
            Err(LogoutError::Unavailable(e))
        }
    }
}

#[cfg(test)]
mod tests;
