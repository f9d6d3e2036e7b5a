//! Where a token comes from: the `authenticate` payload, or the handshake (its `auth` payload,
//! the `Authorization` header, and only when enabled the query string).

use serde_json::Value;

use crate::error::AuthError;
use crate::protocol::{ErrorCode, TOKEN_FIELD};

/// Reads the token out of an `authenticate` payload: `{ "token": "<jwt>" }`.
pub(crate) fn token_from_message(payload: Option<&Value>) -> Result<&str, AuthError> {
    let field = match payload {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => map.get(TOKEN_FIELD),
        // Anything else (a bare string, a number, an array) is not the contract's shape.
        Some(_) => return Err(ErrorCode::CredentialsBadFormat.into()),
    };
    match field {
        None | Some(Value::Null) => Err(ErrorCode::CredentialsRequired.into()),
        Some(Value::String(s)) if s.is_empty() => Err(ErrorCode::CredentialsRequired.into()),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ErrorCode::CredentialsBadFormat.into()),
    }
}

/// Reads the handshake token: the `auth` payload's `token` (with or without `Bearer `), then the
/// `Authorization: Bearer` header, then, only when enabled, the `token` query parameter.
///
/// `Ok(None)` means no credentials were offered at all.
pub(crate) fn token_from_handshake(
    auth: Option<&Value>,
    parts: &http::request::Parts,
    allow_query: bool,
) -> Result<Option<String>, AuthError> {
    if let Some(Value::Object(map)) = auth {
        match map.get(TOKEN_FIELD) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => return Ok(Some(strip_bearer(s).to_owned())),
            Some(_) => return Err(ErrorCode::CredentialsBadFormat.into()),
        }
    }
    if let Some(token) = bearer_token(&parts.headers)? {
        return Ok(Some(token.to_owned()));
    }
    if allow_query {
        let query = parts.uri.query().unwrap_or_default();
        if let Some(token) = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find_map(|(k, v)| (k == TOKEN_FIELD).then_some(v))
        {
            return Ok(Some(token.to_owned()));
        }
    }
    Ok(None)
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), if there is one.
/// Another scheme, or a value that is not text, is `credentials_bad_format`.
pub(crate) fn bearer_token(headers: &http::HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(header) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = header
        .to_str()
        .map_err(|_| AuthError::new(ErrorCode::CredentialsBadFormat))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| AuthError::new(ErrorCode::CredentialsBadFormat))?;
    Ok(Some(token.trim()))
}

/// The value of the cookie `name` (REST requests only: browsers send cookies cross-site too).
#[cfg(feature = "axum")]
pub(crate) fn cookie_token<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
        .filter(|v| !v.is_empty())
}

fn strip_bearer(s: &str) -> &str {
    s.strip_prefix("Bearer ").unwrap_or(s).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_payload_shapes() {
        let code = |v: Option<Value>| {
            token_from_message(v.as_ref())
                .map(str::to_owned)
                .map_err(|e| e.code())
        };
        assert_eq!(
            code(Some(json!({"token": "a.b.c"}))),
            Ok("a.b.c".to_owned())
        );
        assert_eq!(code(None), Err(ErrorCode::CredentialsRequired));
        assert_eq!(code(Some(json!({}))), Err(ErrorCode::CredentialsRequired));
        assert_eq!(
            code(Some(json!({"token": null}))),
            Err(ErrorCode::CredentialsRequired)
        );
        assert_eq!(
            code(Some(json!({"token": ""}))),
            Err(ErrorCode::CredentialsRequired)
        );
        assert_eq!(
            code(Some(json!({"token": 1}))),
            Err(ErrorCode::CredentialsBadFormat)
        );
        assert_eq!(
            code(Some(json!({"token": [1]}))),
            Err(ErrorCode::CredentialsBadFormat)
        );
        assert_eq!(
            code(Some(json!({"token": {}}))),
            Err(ErrorCode::CredentialsBadFormat)
        );
        assert_eq!(
            code(Some(json!("a.b.c"))),
            Err(ErrorCode::CredentialsBadFormat)
        );
    }

    #[test]
    fn handshake_sources() {
        let (parts, _) = http::Request::builder()
            .uri("/socket.io/?EIO=4&token=q.q.q")
            .header("authorization", "Bearer h.h.h")
            .body(())
            .unwrap()
            .into_parts();
        let auth = json!({"token": "Bearer a.a.a"});
        assert_eq!(
            token_from_handshake(Some(&auth), &parts, false)
                .unwrap()
                .as_deref(),
            Some("a.a.a")
        );
        assert_eq!(
            token_from_handshake(None, &parts, false)
                .unwrap()
                .as_deref(),
            Some("h.h.h")
        );
        let (parts, _) = http::Request::builder()
            .uri("/socket.io/?EIO=4&token=q.q.q")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(token_from_handshake(None, &parts, false).unwrap(), None);
        assert_eq!(
            token_from_handshake(None, &parts, true).unwrap().as_deref(),
            Some("q.q.q")
        );
        let bad = json!({"token": 42});
        assert_eq!(
            token_from_handshake(Some(&bad), &parts, false)
                .unwrap_err()
                .code(),
            ErrorCode::CredentialsBadFormat
        );
    }
}
