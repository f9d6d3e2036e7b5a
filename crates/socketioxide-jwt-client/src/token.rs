//! Where tokens come from: [`TokenSource`], asked with a [`TokenRequest`], failing with a
//! [`TokenError`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Why a token is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRequest {
    /// The first connection.
    Connect,
    /// A reconnection after the connection was lost.
    Reconnect,
    /// An in-band refresh before `exp` (on the client's timer, the server's `token_expiring`, or
    /// [`AuthClient::refresh`](crate::AuthClient::refresh)).
    Refresh,
    /// The server refused the last token because it expired: return a *new* token, or an
    /// error. The client never retries the refused token.
    Expired,
    /// The server refused the last token because it (or its user) was revoked: as
    /// [`TokenRequest::Expired`].
    Revoked,
}

/// A token source's failure: any error (`?` converts it), or a message.
///
/// Like `anyhow::Error`, it is not itself a `std::error::Error` (so that every error converts
/// into it); [`TokenError::get_ref`] reaches the cause.
///
/// # Example
/// ```
/// use socketioxide_jwt_client::TokenError;
/// let from_io: TokenError = std::io::Error::other("the login server is down").into();
/// assert_eq!(from_io.to_string(), "the login server is down");
/// assert_eq!(TokenError::msg("no session").to_string(), "no session");
/// ```
///
/// Clones share the cause, and are equal to each other (the same failure).
#[derive(Clone)]
pub struct TokenError(Arc<dyn std::error::Error + Send + Sync>);

impl TokenError {
    /// A failure described by `message`.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        let boxed: Box<dyn std::error::Error + Send + Sync> = message.to_string().into();
        Self(boxed.into())
    }

    /// The cause.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TokenError {
    fn from(error: E) -> Self {
        Self(Arc::new(error))
    }
}

impl PartialEq for TokenError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TokenError {}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

type TokenFuture = Pin<Box<dyn Future<Output = Result<String, TokenError>> + Send>>;

/// Where tokens come from.
///
/// # Example
/// ```
/// use socketioxide_jwt_client::{TokenError, TokenRequest, TokenSource};
/// let source = TokenSource::from_fn(|request: TokenRequest| async move {
///     if request == TokenRequest::Revoked {
///         return Err(TokenError::msg("signed out"));
///     }
///     Ok(String::from("header.payload.signature"))
/// });
/// # let _ = source;
/// ```
#[derive(Clone)]
pub enum TokenSource {
    /// Always the same token (no refresh possible beyond its `exp`).
    Static(String),
    /// An async function asked for each (re)connect and refresh.
    Fn(Arc<dyn Fn(TokenRequest) -> TokenFuture + Send + Sync>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Static(_) => f.write_str("TokenSource::Static(..)"),
            TokenSource::Fn(_) => f.write_str("TokenSource::Fn(..)"),
        }
    }
}

impl TokenSource {
    /// A token source from an async function.
    pub fn from_fn<F, Fut>(f: F) -> Self
    where
        F: Fn(TokenRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, TokenError>> + Send + 'static,
    {
        TokenSource::Fn(Arc::new(move |req| Box::pin(f(req))))
    }

    pub(crate) async fn get(&self, request: TokenRequest) -> Result<String, TokenError> {
        match self {
            TokenSource::Static(t) => Ok(t.clone()),
            TokenSource::Fn(f) => f(request).await,
        }
    }
}
