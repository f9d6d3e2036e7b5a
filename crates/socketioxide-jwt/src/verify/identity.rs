//! The user named by a claim other than `sub` ([`JwtAuthBuilder::identity_claim`]): read from
//! the claims' JSON without building anything but that one value.
//!
//! [`JwtAuthBuilder::identity_claim`]: crate::JwtAuthBuilder::identity_claim

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::error::AuthError;
use crate::protocol::ErrorCode;

/// The longest identity a claim may give, in bytes (as long as a `sub` can be in practice:
/// RFC 7519 sets no bound, providers stay under 255).
pub(crate) const MAX_IDENTITY_LEN: usize = 255;

/// The string (or integer, written in decimal) value of `claim` in the claims object `json`;
/// `None` if it is absent or `null`. Another type, an empty string or one longer than
/// [`MAX_IDENTITY_LEN`] is `invalid_token`: the user would be unnamed, or named by something no
/// one meant as a name.
pub(crate) fn read_claim(json: &str, claim: &str) -> Result<Option<String>, AuthError> {
    let mut reader = serde_json::Deserializer::from_str(json);
    let value = ClaimOf(claim)
        .deserialize(&mut reader)
        .map_err(|e| AuthError::new(ErrorCode::InvalidToken).with_source(e))?;
    match value {
        Some(id) if id.is_empty() || id.len() > MAX_IDENTITY_LEN => {
            Err(AuthError::new(ErrorCode::InvalidToken)
                .with_source("the identity claim is empty or too long"))
        }
        id => Ok(id),
    }
}

/// Reads one member of an object (the last, if repeated), skipping the others.
struct ClaimOf<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for ClaimOf<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimOf<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claims object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut found = None;
        while let Some(is_claim) = map.next_key_seed(KeyIs(self.0))? {
            if is_claim {
                found = map.next_value::<Option<Identity>>()?.map(|Identity(id)| id);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a member's name is the claim's (compared as read, without a copy).
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

/// An identity value: a string, or an integer written in decimal.
struct Identity(String);

impl<'de> de::Deserialize<'de> for Identity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdentityVisitor;
        impl Visitor<'_> for IdentityVisitor {
            type Value = Identity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Identity, E> {
                Ok(Identity(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Identity, E> {
                Ok(Identity(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Identity, E> {
                Ok(Identity(v.to_string()))
            }
        }
        deserializer.deserialize_any(IdentityVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_claim_and_refuses_what_cannot_name_a_user() {
        let read = |json: &str| read_claim(json, "oid").map_err(|e| e.code());
        assert_eq!(read(r#"{"sub":"s","oid":"o-1"}"#), Ok(Some("o-1".into())));
        assert_eq!(read(r#"{"oid":42}"#), Ok(Some("42".into())));
        assert_eq!(read(r#"{"oid":-7}"#), Ok(Some("-7".into())));
        assert_eq!(read(r#"{"sub":"s"}"#), Ok(None), "absent");
        assert_eq!(read(r#"{"oid":null}"#), Ok(None));
        assert_eq!(
            read(r#"{"oid":"a","oid":"b"}"#),
            Ok(Some("b".into())),
            "the last, as serde_json's maps"
        );
        assert_eq!(
            read(r#"{"o\u0069d":"escaped"}"#),
            Ok(Some("escaped".into()))
        );
        for bad in [
            r#"{"oid":""}"#,
            r#"{"oid":1.5}"#,
            r#"{"oid":true}"#,
            r#"{"oid":["a"]}"#,
            r#"{"oid":{"a":1}}"#,
            r#"{"oid":18446744073709551616}"#,
        ] {
            assert_eq!(read(bad), Err(ErrorCode::InvalidToken), "{bad}");
        }
        let long = format!(r#"{{"oid":"{}"}}"#, "x".repeat(MAX_IDENTITY_LEN + 1));
        assert_eq!(read(&long), Err(ErrorCode::InvalidToken));
        let longest = format!(r#"{{"oid":"{}"}}"#, "x".repeat(MAX_IDENTITY_LEN));
        assert!(read(&longest).is_ok());
        // Nested objects named like the claim do not count.
        assert_eq!(read(r#"{"x":{"oid":"inner"}}"#), Ok(None));
    }
}
