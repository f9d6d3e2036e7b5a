//! Where a token comes from, and how it is verified.
//!
//! Verification order, cheapest first: length bound, shape, header, key selection, algorithm
//! allow-list, signature and claims (jsonwebtoken), the application's check.

use std::sync::Arc;

use jsonwebtoken::{decode, decode_header, errors::ErrorKind};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::claims::RegisteredClaims;
use crate::config::Settings;
use crate::error::{AuthError, ErrorCode};

/// A token whose signature and claims were verified.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: Arc<C>,
    pub(crate) registered: RegisteredClaims,
}

/// Reads the token out of an `authenticate` payload: `{ "token": "<jwt>" }`.
pub(crate) fn token_from_message(payload: Option<&Value>) -> Result<&str, AuthError> {
    let field = match payload {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => map.get("token"),
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
        match map.get("token") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => return Ok(Some(strip_bearer(s).to_owned())),
            Some(_) => return Err(ErrorCode::CredentialsBadFormat.into()),
        }
    }
    if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
        let value = header
            .to_str()
            .map_err(|_| AuthError::new(ErrorCode::CredentialsBadFormat))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| AuthError::new(ErrorCode::CredentialsBadFormat))?;
        return Ok(Some(token.trim().to_owned()));
    }
    if allow_query {
        let query = parts.uri.query().unwrap_or_default();
        if let Some(token) = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find_map(|(k, v)| (k == "token").then_some(v))
        {
            return Ok(Some(token.to_owned()));
        }
    }
    Ok(None)
}

fn strip_bearer(s: &str) -> &str {
    s.strip_prefix("Bearer ").unwrap_or(s).trim()
}

/// `header.payload.signature`, each part base64url (the signature may be empty: `alg: none`
/// tokens have that shape and are refused later as `invalid_token`).
pub(crate) fn has_jws_shape(token: &str) -> bool {
    let mut parts = 0;
    for (i, part) in token.split('.').enumerate() {
        parts += 1;
        let b64url = part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !b64url || (i < 2 && part.is_empty()) {
            return false;
        }
    }
    parts == 3
}

/// Verifies a token against the settings: everything except the application's check.
pub(crate) async fn verify<C: DeserializeOwned>(
    settings: &Settings,
    token: &str,
) -> Result<Verified<C>, AuthError> {
    if token.len() > settings.max_token_len {
        return Err(AuthError::new(ErrorCode::InvalidToken).with_source("token exceeds max length"));
    }
    if !has_jws_shape(token) {
        return Err(ErrorCode::CredentialsBadFormat.into());
    }
    let header = decode_header(token).map_err(jwt_error)?;
    let key = settings.keys.resolve(&header).await?;
    if !key.allowed_algorithms().contains(&header.alg) {
        return Err(AuthError::new(ErrorCode::InvalidToken)
            .with_source("the token's algorithm is not allowed for this key"));
    }
    let validation = settings.validations.for_family(key.family());
    let decoding_key = key.decoding_key().ok_or_else(|| {
        AuthError::new(ErrorCode::InvalidToken).with_source("the resolved key is an empty secret")
    })?;
    // The claims stay JSON text, read twice (registered claims, the application's type): no
    // `Value` tree is built.
    let data = decode::<Box<RawValue>>(token, decoding_key, validation).map_err(jwt_error)?;
    let claims_json = data.claims.get();
    let registered: RegisteredClaims = serde_json::from_str(claims_json).map_err(claims_shape)?;
    if settings
        .revocations
        .as_ref()
        .is_some_and(|list| list.is_revoked(&registered))
    {
        return Err(AuthError::revoked());
    }
    let claims: C = serde_json::from_str(claims_json).map_err(claims_shape)?;
    Ok(Verified {
        claims: Arc::new(claims),
        registered,
    })
}

fn claims_shape(e: serde_json::Error) -> AuthError {
    AuthError::new(ErrorCode::InvalidToken).with_source(e)
}

/// Maps jsonwebtoken's error kinds to the contract's codes.
fn jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    let code = match e.kind() {
        ErrorKind::ExpiredSignature => ErrorCode::TokenExpired,
        _ => ErrorCode::InvalidToken,
    };
    AuthError::new(code).with_source(e)
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
    fn jws_shape() {
        assert!(has_jws_shape("aGVh.cGF5.c2ln"));
        assert!(
            has_jws_shape("aGVh.cGF5."),
            "alg none shape is left to the verifier"
        );
        assert!(!has_jws_shape("aGVh.cGF5"));
        assert!(!has_jws_shape("a.b.c.d"));
        assert!(!has_jws_shape(".b.c"));
        assert!(!has_jws_shape("a b.c.d"));
        assert!(!has_jws_shape("garbage"));
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
