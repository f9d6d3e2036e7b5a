//! Where a token comes from: the `authenticate` payload, or the handshake (its `auth` payload,
//! the `Authorization` header, and only when enabled the query string).
//!
//! One reader and one rule for every source: the `{ token }` object of the `authenticate` event
//! and of the handshake `auth` are read by the same typed visitor, and a token string may carry a
//! `Bearer ` prefix, its scheme matched without regard to case (RFC 7235 §2.1), wherever it
//! comes from.

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

/// Reads the handshake token: the `auth` payload's `token`, then the `Authorization: Bearer`
/// header, then, only when enabled, the `token` query parameter.
///
/// `Ok(None)` means no credentials were offered at all.
pub(crate) fn token_from_handshake(
    auth: MessageCredentials,
    parts: &http::request::Parts,
    allow_query: bool,
) -> Result<Option<String>, AuthError> {
    match auth {
        MessageCredentials::Token(token) => return Ok(Some(token)),
        MessageCredentials::BadFormat => return Err(ErrorCode::CredentialsBadFormat.into()),
        MessageCredentials::Missing => {}
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
            return Ok(Some(strip_bearer(token).to_owned()));
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
    let token = strip_bearer(value);
    if token.len() == value.trim().len() {
        // Another scheme (`Basic ...`), or none.
        return Err(AuthError::new(ErrorCode::CredentialsBadFormat));
    }
    Ok(Some(token))
}

/// The value of the cookie `name` (REST requests only: browsers send cookies cross-site too).
///
/// A name sent twice is `credentials_bad_format`: a sibling subdomain can set a cookie of the
/// same name for the parent domain (cookie tossing), and taking the first or the last would let
/// it choose whose token the request carries. A `__Host-` name cannot be set that way.
#[cfg(feature = "axum")]
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
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// MessagePack payloads (socketioxide's `msgpack` parser reads them with rmp-serde): the same
    /// codes as JSON, whatever msgpack can hold that JSON cannot (non-string keys, extension
    /// values, binary).
    #[test]
    fn msgpack_payload_shapes() {
        let code = |bytes: &[u8]| {
            rmp_serde::from_slice::<MessageCredentials>(bytes)
                .expect("any msgpack value reads")
                .token()
                .map(str::to_owned)
                .map_err(|e| e.code())
        };
        let token = b"\xa5token";
        // {"token": "a.b.c"}
        let plain = [&b"\x81"[..], token, b"\xa5a.b.c"].concat();
        assert_eq!(code(&plain), Ok("a.b.c".to_owned()));
        // {1: "x", [1]: {}, true: null, <timestamp>: 1, "token": "a.b.c"}: other keys of any
        // type are skipped, extension values included.
        let odd_keys = [
            &b"\x85\x01\xa1x\x91\x01\x80\xc3\xc0\xd6\xff\x00\x00\x00\x01\x01"[..],
            token,
            b"\xa5a.b.c",
        ]
        .concat();
        assert_eq!(code(&odd_keys), Ok("a.b.c".to_owned()));
        // {"token": <fixext4 -1: a timestamp>}
        let ext = [&b"\x81"[..], token, b"\xd6\xff\x00\x00\x00\x01"].concat();
        assert_eq!(code(&ext), Err(ErrorCode::CredentialsBadFormat));
        // A timestamp as the whole payload.
        assert_eq!(
            code(b"\xd6\xff\x00\x00\x00\x01"),
            Err(ErrorCode::CredentialsBadFormat)
        );
        // {"token": <bin "a.b.c">}
        let bin = [&b"\x81"[..], token, b"\xc4\x05a.b.c"].concat();
        assert_eq!(code(&bin), Err(ErrorCode::CredentialsBadFormat));
        // nil, and {"token": nil}
        assert_eq!(code(b"\xc0"), Err(ErrorCode::CredentialsRequired));
        let nil = [&b"\x81"[..], token, b"\xc0"].concat();
        assert_eq!(code(&nil), Err(ErrorCode::CredentialsRequired));
    }

    #[test]
    fn message_payload_shapes() {
        let code = |v: Option<Value>| {
            let read = match v {
                Some(v) => serde_json::from_value::<MessageCredentials>(v).expect("any JSON value"),
                None => MessageCredentials::Missing,
            };
            read.token().map(str::to_owned).map_err(|e| e.code())
        };
        assert_eq!(
            code(Some(json!({"token": "a.b.c"}))),
            Ok("a.b.c".to_owned())
        );
        assert_eq!(
            code(Some(
                json!({"other": {"token": 1}, "token": "a.b.c", "more": [null]})
            )),
            Ok("a.b.c".to_owned()),
            "other fields are skipped, nested ones too"
        );
        assert_eq!(code(None), Err(ErrorCode::CredentialsRequired));
        assert_eq!(code(Some(Value::Null)), Err(ErrorCode::CredentialsRequired));
        assert_eq!(code(Some(json!({}))), Err(ErrorCode::CredentialsRequired));
        assert_eq!(
            code(Some(json!({"token": null}))),
            Err(ErrorCode::CredentialsRequired)
        );
        assert_eq!(
            code(Some(json!({"token": ""}))),
            Err(ErrorCode::CredentialsRequired)
        );
        for bad in [
            json!({"token": 1}),
            json!({"token": -1}),
            json!({"token": 1.5}),
            json!({"token": true}),
            json!({"token": [1]}),
            json!({"token": {}}),
            json!("a.b.c"),
            json!(1),
            json!(false),
            json!(["a.b.c"]),
        ] {
            assert_eq!(
                code(Some(bad.clone())),
                Err(ErrorCode::CredentialsBadFormat),
                "{bad}"
            );
        }
    }

    #[test]
    fn message_payload_text() {
        // Escapes in the token and in field names are read as JSON reads them.
        let read: MessageCredentials =
            serde_json::from_str(r#"{"tok\u0065n": "a.b\u002ec", "token": "x.y.z"}"#)
                .expect("valid JSON");
        assert_eq!(
            read,
            MessageCredentials::Token("x.y.z".into()),
            "the last token counts"
        );
        let read: MessageCredentials =
            serde_json::from_str(r#"{"tok\u0065n": "a.b\u002ec"}"#).expect("valid JSON");
        assert_eq!(read, MessageCredentials::Token("a.b.c".into()));
    }

    #[test]
    fn handshake_sources() {
        let read = |v: Value| serde_json::from_value::<MessageCredentials>(v).expect("any JSON");
        let (parts, _) = http::Request::builder()
            .uri("/socket.io/?EIO=4&token=q.q.q")
            .header("authorization", "Bearer h.h.h")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(
            token_from_handshake(read(json!({"token": "Bearer a.a.a"})), &parts, false)
                .unwrap()
                .as_deref(),
            Some("a.a.a")
        );
        assert_eq!(
            token_from_handshake(MessageCredentials::Missing, &parts, false)
                .unwrap()
                .as_deref(),
            Some("h.h.h")
        );
        let (parts, _) = http::Request::builder()
            .uri("/socket.io/?EIO=4&token=q.q.q")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(
            token_from_handshake(MessageCredentials::Missing, &parts, false).unwrap(),
            None
        );
        assert_eq!(
            token_from_handshake(MessageCredentials::Missing, &parts, true)
                .unwrap()
                .as_deref(),
            Some("q.q.q")
        );
        for bad in [json!({"token": 42}), json!("a.b.c")] {
            assert_eq!(
                token_from_handshake(read(bad), &parts, false)
                    .unwrap_err()
                    .code(),
                ErrorCode::CredentialsBadFormat
            );
        }
    }

    /// One rule everywhere: a `Bearer` prefix, in any case, is accepted in the `authenticate`
    /// payload, the handshake `auth`, the header and the query; another scheme is not a token.
    #[test]
    fn bearer_prefix_is_one_rule_everywhere() {
        for prefixed in ["Bearer a.b.c", "bearer a.b.c", "BEARER  a.b.c ", " a.b.c"] {
            assert_eq!(
                serde_json::from_value::<MessageCredentials>(json!({ "token": prefixed })).unwrap(),
                MessageCredentials::Token("a.b.c".into()),
                "{prefixed:?}"
            );
        }
        for (header, expected) in [
            ("Bearer h.h.h", Ok(Some("h.h.h"))),
            ("bearer h.h.h", Ok(Some("h.h.h"))),
            ("BeArEr   h.h.h  ", Ok(Some("h.h.h"))),
            ("Basic dXNlcjpwYXNz", Err(ErrorCode::CredentialsBadFormat)),
            ("h.h.h", Err(ErrorCode::CredentialsBadFormat)),
            ("Bearerh.h.h", Err(ErrorCode::CredentialsBadFormat)),
        ] {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, header.parse().unwrap());
            assert_eq!(
                bearer_token(&headers).map_err(|e| e.code()),
                expected,
                "{header:?}"
            );
        }
        assert_eq!(
            serde_json::from_value::<MessageCredentials>(json!({ "token": "Bearer " })).unwrap(),
            MessageCredentials::Missing,
            "a prefix and nothing else is no token"
        );
    }
}
