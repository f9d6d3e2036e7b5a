//! Push delivery (RFC 8935): the request's content type, and (with axum) a refused SET as the
//! RFC's answer.

#[cfg(feature = "axum")]
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

#[cfg(feature = "axum")]
use super::error::SetError;

/// `400` with `{ "err", "description" }` (RFC 8935 §2.3), or `503` when the SET could not be
/// recorded (the transmitter should send it again).
#[cfg(feature = "axum")]
impl IntoResponse for SetError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, axum::Json(self.to_json())).into_response()
    }
}

/// Whether a request's `Content-Type` is `application/secevent+jwt` (RFC 8935 §2), parameters
/// aside.
///
/// # Example
/// ```
/// use socketioxide_jwt::ssf::is_secevent_content_type;
/// assert!(is_secevent_content_type(Some("application/secevent+jwt")));
/// assert!(!is_secevent_content_type(Some("application/json")));
/// ```
pub fn is_secevent_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/secevent+jwt"))
}
