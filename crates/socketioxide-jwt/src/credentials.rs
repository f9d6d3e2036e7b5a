//! Where a token comes from: the `authenticate` payload, or the handshake (its `auth` payload,
//! the `Authorization` header, a cookie, in the order the application chose
//! ([`CredentialSource`]), and only when enabled the query string).
//!
//! One reader and one rule for every source: the `{ token }` object of the `authenticate` event
//! and of the handshake `auth` are read by the same typed visitor, and a token string may carry a
//! `Bearer ` prefix, its scheme matched without regard to case (RFC 7235 §2.1), wherever it
//! comes from.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::AuthError;
use crate::protocol::{ErrorCode, TOKEN_FIELD};

/// A `{ "token": "<jwt>" }` payload (the `authenticate` event's, or the handshake `auth`) as
/// read off the wire: the token, or why there is none.
///
/// Deserialized straight from the packet (JSON or MessagePack, through socketioxide's parser):
/// the token is the one string kept; other fields are skipped without being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MessageCredentials {
    /// A non-empty `token` string, without a `Bearer ` prefix.
    Token(String),
    /// No payload, `null`, no `token` field, or a `null` or empty one.
    Missing,
    /// Any other shape: a bare string, a number, an array, a `token` that is not a string.
    BadFormat,
}

impl MessageCredentials {
    /// The token, or the contract's error for its absence or shape.
    pub(crate) fn token(&self) -> Result<&str, AuthError> {
        match self {
            Self::Token(token) => Ok(token),
            Self::Missing => Err(ErrorCode::CredentialsRequired.into()),
            Self::BadFormat => Err(ErrorCode::CredentialsBadFormat.into()),
        }
    }
}

impl<'de> Deserialize<'de> for MessageCredentials {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PayloadVisitor)
    }
}

/// The visitor methods shared by the payload and its `token` field: `null` or nothing is missing
/// credentials; a boolean, a number, bytes or an array is the wrong shape (an array is read to
/// its end first).
macro_rules! missing_or_bad_format {
    () => {
        fn visit_unit<E: de::Error>(self) -> Result<MessageCredentials, E> {
            Ok(MessageCredentials::Missing)
        }

        fn visit_none<E: de::Error>(self) -> Result<MessageCredentials, E> {
            Ok(MessageCredentials::Missing)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<MessageCredentials, E> {
            Ok(MessageCredentials::BadFormat)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<MessageCredentials, E> {
            Ok(MessageCredentials::BadFormat)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<MessageCredentials, E> {
            Ok(MessageCredentials::BadFormat)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<MessageCredentials, E> {
            Ok(MessageCredentials::BadFormat)
        }

        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<MessageCredentials, E> {
            Ok(MessageCredentials::BadFormat)
        }

        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<MessageCredentials, S::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(MessageCredentials::BadFormat)
        }

        /// A MessagePack extension value (a JS `Date` through some encoders, say).
        fn visit_newtype_struct<D: Deserializer<'de>>(
            self,
            inner: D,
        ) -> Result<MessageCredentials, D::Error> {
            IgnoredAny::deserialize(inner)?;
            Ok(MessageCredentials::BadFormat)
        }
    };
}

/// The payload as a whole: an object is read for its `token`; any other value is the wrong shape.
struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = MessageCredentials;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an authenticate payload")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        // A repeated `token` field: the last one counts (as in a JSON object read into a map).
        let mut found = MessageCredentials::Missing;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Token => found = map.next_value::<TokenValue>()?.0,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }

    missing_or_bad_format!();

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(MessageCredentials::BadFormat)
    }
}

/// A field name of the payload: `token`, or another one (skipped).
enum Field {
    Token,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(if name == TOKEN_FIELD {
                    Field::Token
                } else {
                    Field::Other
                })
            }
            fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Field, E> {
                Ok(if name == TOKEN_FIELD.as_bytes() {
                    Field::Token
                } else {
                    Field::Other
                })
            }
            // MessagePack map keys may be any value: none of these is `token`.
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                inner: D,
            ) -> Result<Field, D::Error> {
                IgnoredAny::deserialize(inner)?;
                Ok(Field::Other)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Field, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Field, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

/// The `token` field's value: a non-empty string is the token.
struct TokenValue(MessageCredentials);

impl<'de> Deserialize<'de> for TokenValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TokenVisitor;
        impl<'de> Visitor<'de> for TokenVisitor {
            type Value = MessageCredentials;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token")
            }
            fn visit_str<E: de::Error>(self, token: &str) -> Result<Self::Value, E> {
                let token = strip_bearer(token);
                Ok(if token.is_empty() {
                    MessageCredentials::Missing
                } else {
                    MessageCredentials::Token(token.to_owned())
                })
            }
            missing_or_bad_format!();
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MessageCredentials::BadFormat)
            }
        }
        deserializer.deserialize_any(TokenVisitor).map(TokenValue)
    }
}

/// Where a connection's (or a REST request's) token may come from. The handshake of a
/// handshake-mode or either-mode socket, and a REST request, try the configured sources in
/// order ([`JwtAuthBuilder::credential_sources`](crate::JwtAuthBuilder::credential_sources));
/// the first that has a token gives it. Message mode reads the `authenticate` event only.
///
/// # Example
/// ```
/// # use socketioxide_jwt::keys::Keys;
/// use socketioxide_jwt::{credentials::CredentialSource, AuthMode, JwtAuth};
/// // socketio-jwt's `auth_header_required`: the `Authorization` header only.
/// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
///     .mode(AuthMode::Handshake)
///     .credential_sources([CredentialSource::AuthorizationHeader])
///     .build()?;
/// # let _ = auth;
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The Socket.IO `auth` payload's `token` (handshakes only; REST has none).
    AuthPayload,
    /// `Authorization: Bearer <token>` on the handshake request, or the REST request.
    AuthorizationHeader,
    /// The cookie of this name: for a browser app that keeps its token in an `HttpOnly` cookie,
    /// out of reach of the page's JavaScript. Needs
    /// [`cookie_origins`](crate::JwtAuthBuilder::cookie_origins).
    Cookie(String),
}

/// The sources tried when the application chose none: the `auth` payload, then the header.
pub(crate) const DEFAULT_SOURCES: [CredentialSource; 2] = [
    CredentialSource::AuthPayload,
    CredentialSource::AuthorizationHeader,
];

/// How the gate and the REST extractor read a token: the sources in order, `?token=` last when
/// enabled, and the origins whose pages may use the cookie.
#[derive(Debug)]
pub(crate) struct CredentialRules {
    pub(crate) sources: Box<[CredentialSource]>,
    pub(crate) allow_query: bool,
    /// Normalized origins (see [`crate::layer::OriginLayer`]) whose requests may carry the token
    /// in a cookie; a request with another `Origin` may not.
    pub(crate) cookie_origins: HashSet<String>,
}

impl CredentialRules {
    /// The default sources (`auth`, then the header), `?token=` when `allow_query`, no cookie.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn defaults(allow_query: bool) -> Self {
        Self {
            sources: DEFAULT_SOURCES.to_vec().into_boxed_slice(),
            allow_query,
            cookie_origins: HashSet::new(),
        }
    }

    /// The handshake's token (`auth`, the request's headers and query), or `None` if no source
    /// has one.
    pub(crate) fn handshake_token(
        &self,
        mut auth: MessageCredentials,
        parts: &http::request::Parts,
    ) -> Result<Option<String>, AuthError> {
        for source in &*self.sources {
            if *source == CredentialSource::AuthPayload {
                match std::mem::replace(&mut auth, MessageCredentials::Missing) {
                    MessageCredentials::Token(token) => return Ok(Some(token)),
                    MessageCredentials::BadFormat => {
                        return Err(ErrorCode::CredentialsBadFormat.into())
                    }
                    MessageCredentials::Missing => continue,
                }
            }
            if let Some(token) = self.token_in_headers(source, &parts.headers)? {
                return Ok(Some(token.to_owned()));
            }
        }
        if self.allow_query {
            let query = parts.uri.query().unwrap_or_default();
            if let Some(token) = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find_map(|(k, v)| (k == TOKEN_FIELD).then_some(v))
            {
                return Ok(Some(strip_bearer(token).to_owned()));
            }
        }
        Ok(None)
    }

    /// A REST request's token: the sources that a request can carry (not `auth`), in order.
    #[cfg(feature = "axum")]
    pub(crate) fn request_token<'a>(
        &self,
        headers: &'a http::HeaderMap,
    ) -> Result<Option<&'a str>, AuthError> {
        for source in &*self.sources {
            if let Some(token) = self.token_in_headers(source, headers)? {
                return Ok(Some(token));
            }
        }
        Ok(None)
    }

    /// The token `source` finds in `headers` (none for the `auth` payload).
    fn token_in_headers<'a>(
        &self,
        source: &CredentialSource,
        headers: &'a http::HeaderMap,
    ) -> Result<Option<&'a str>, AuthError> {
        match source {
            CredentialSource::AuthPayload => Ok(None),
            CredentialSource::AuthorizationHeader => bearer_token(headers),
            CredentialSource::Cookie(name) => {
                let token = cookie_token(headers, name)?;
                if token.is_some() && !self.cookie_origin_allowed(headers) {
                    return Err(AuthError::forbidden(
                        "the token cookie is not accepted from this origin",
                    )
                    .with_source("cross-site request with the token cookie (cross-site WebSocket hijacking or CSRF)"));
                }
                Ok(token)
            }
        }
    }

    /// Whether the request may use the cookie: its `Origin` is one of
    /// [`Self::cookie_origins`]; or it has none (a same-origin `GET`, or not a browser) and
    /// the browser's `Sec-Fetch-Site`, when it sends one, says `same-origin` (or `none`: typed
    /// by the user). Browsers send no `Origin` with a cross-site `GET` (an image, a no-cors
    /// fetch), and an Engine.IO v3 polling `GET` connects `/` with no further request: without
    /// this, one `<img>` on another site would open an authenticated socket as the user.
    fn cookie_origin_allowed(&self, headers: &http::HeaderMap) -> bool {
        match headers.get(http::header::ORIGIN) {
            None => headers
                .get("sec-fetch-site")
                .is_none_or(|site| site == "same-origin" || site == "none"),
            Some(origin) => origin.to_str().is_ok_and(|origin| {
                self.cookie_origins
                    .contains(&crate::layer::normalize_origin(origin))
            }),
        }
    }
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
    let token = strip_bearer(value);
    if token.len() == value.trim().len() {
        // Another scheme (`Basic ...`), or none.
        return Err(AuthError::new(ErrorCode::CredentialsBadFormat));
    }
    Ok(Some(token))
}

/// The value of the cookie `name`.
///
/// A name sent twice is `credentials_bad_format`: a sibling subdomain can set a cookie of the
/// same name for the parent domain (cookie tossing), and taking the first or the last would let
/// it choose whose token the request carries. A `__Host-` name cannot be set that way.
pub(crate) fn cookie_token<'a>(
    headers: &'a http::HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, AuthError> {
    let mut found = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(AuthError::new(ErrorCode::CredentialsBadFormat)
            .with_source("the token cookie was sent more than once"));
    }
    Ok(first.and_then(|c| c.value_raw()).filter(|v| !v.is_empty()))
}

/// `s` without a leading `Bearer ` (any case, RFC 7235 §2.1), trimmed; `s` trimmed otherwise.
fn strip_bearer(s: &str) -> &str {
    let s = s.trim_start();
    match s.get(..BEARER.len()) {
        Some(scheme) if scheme.eq_ignore_ascii_case(BEARER) => s[BEARER.len()..].trim(),
        _ => s.trim_end(),
    }
}

/// The scheme and its separator.
const BEARER: &str = "bearer ";

#[cfg(test)]
mod tests;
