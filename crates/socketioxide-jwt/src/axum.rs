//! REST with the same verifier as the sockets (feature `axum`): [`Claims`] as an axum extractor,
//! and [`AuthError`] as an RFC 6750 response.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::auth::JwtAuth;
use crate::error::AuthError;
use crate::extract::Claims;
use crate::protocol::ErrorCode;

/// The request's token, from the configured sources (by default `Authorization: Bearer`).
fn request_token<'a, C>(parts: &'a Parts, auth: &JwtAuth<C>) -> Result<Option<&'a str>, AuthError> {
    auth.inner.gate.credentials.request_token(&parts.headers)
}

/// The verified claims of a REST request, from `Authorization: Bearer <token>` (or the cookie
/// named by `JwtAuthBuilder::token_cookie`), checked exactly as a socket's token: the same keys,
/// claim rules, revocation list and application check.
///
/// Needs the [`JwtAuth`] in the router's state (`JwtAuth<C>: FromRef<S>`). Refusals are
/// [`AuthError`]s, answered per RFC 6750: `401` with `WWW-Authenticate: Bearer` (and
/// `error="invalid_token"` unless the token was missing), `403` for `forbidden`, the contract's
/// error object as the JSON body. `Option<Claims<C>>` accepts a request without credentials
/// (`None`), and still refuses a bad token.
///
/// # Example
/// ```
/// # use socketioxide_jwt::keys::Keys;
/// use axum::{routing::get, Json, Router};
/// use socketioxide_jwt::{Claims, JwtAuth, StandardClaims};
///
/// async fn me(Claims(me): Claims<StandardClaims>) -> Json<StandardClaims> {
///     Json((*me).clone())
/// }
/// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
/// let app: Router = Router::new().route("/api/me", get(me)).with_state(auth);
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
impl<S, C> FromRequestParts<S> for Claims<C>
where
    JwtAuth<C>: FromRef<S>,
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = JwtAuth::<C>::from_ref(state);
        let token = request_token(parts, &auth)?
            .ok_or_else(|| AuthError::new(ErrorCode::CredentialsRequired))?;
        let claims = auth.verify(token).await;
        if let Err(e) = &claims {
            let reason = std::error::Error::source(e).map(ToString::to_string);
            tracing::info!(code = %e.code(), reason, path = parts.uri.path(), "request refused");
        }
        claims.map(Claims)
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    JwtAuth<C>: FromRef<S>,
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = JwtAuth::<C>::from_ref(state);
        if request_token(parts, &auth)?.is_none() {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// RFC 6750 §3: `403` for [`ErrorCode::Forbidden`], else `401` with
/// `WWW-Authenticate: Bearer` (with `error="invalid_token"` unless credentials were missing);
/// the body is the contract's error object. The internal reason is never in it.
///
/// # Example
/// ```
/// use axum::response::IntoResponse;
/// use socketioxide_jwt::{AuthError, ErrorCode};
/// let res = AuthError::new(ErrorCode::TokenExpired).into_response();
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers()["www-authenticate"], r#"Bearer error="invalid_token", error_description="the token has expired""#);
/// ```
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match self.code() {
            ErrorCode::Forbidden | ErrorCode::Custom(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        };
        let mut response = (status, Json(self.to_object())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self.code() {
                ErrorCode::CredentialsRequired => "Bearer".to_owned(),
                _ => format!(
                    r#"Bearer error="invalid_token", error_description="{}""#,
                    quotable(self.message())
                ),
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// `error_description` allows printable ASCII without `"` and `\` (RFC 6750 §3): anything else
/// is dropped.
fn quotable(message: &str) -> String {
    message
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}
