//! Who a token is about: its `sub`, and the `iss` that vouches for it.
//!
//! `sub` "42" at one identity provider is not `sub` "42" at another. With several trusted
//! issuers, everything the library keys by user (the per-user cap, the per-user room, logs)
//! uses the pair; with one (or none), the `sub` alone, as before issuers could be several: a
//! one-issuer deployment's room names, cap keys and stored revocations stay what they were.

use std::fmt;

/// The separator between `iss` and `sub` in a [`UserId::key`]. Configured issuers may not
/// contain it when several are trusted (the builder refuses it), so the key names one pair.
pub const ISSUER_SEPARATOR: char = '#';

/// A verified token's user: `sub`, and `iss` when the token has one.
///
/// # Example
/// ```
/// use socketioxide_jwt::identity::UserId;
/// let one = UserId::new(Some("https://idp.example"), "42", false);
/// assert_eq!((one.issuer(), one.sub()), (Some("https://idp.example"), "42"));
/// assert_eq!(one.key(), "42"); // one trusted issuer: the sub alone
/// let several = UserId::new(Some("https://idp.example"), "42", true);
/// assert_eq!(several.key(), "https://idp.example#42");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserId {
    /// `iss#sub`, or `sub` without an issuer: one allocation for both.
    text: Box<str>,
    /// Where `sub` starts in `text` (0: no issuer).
    sub_at: usize,
    /// Whether the key is the pair (several issuers are trusted) or the `sub` alone.
    qualified: bool,
}

impl UserId {
    /// The user `sub` of `iss`; `qualified`: whether [`key`](Self::key) names the pair
    /// (several trusted issuers) or the `sub` alone.
    pub fn new(iss: Option<&str>, sub: &str, qualified: bool) -> Self {
        match iss {
            Some(iss) => Self {
                text: format!("{iss}{ISSUER_SEPARATOR}{sub}").into_boxed_str(),
                sub_at: iss.len() + ISSUER_SEPARATOR.len_utf8(),
                qualified,
            },
            None => Self::from_sub(sub.into()),
        }
    }

    /// From a token's claims, taking `sub` without a copy when there is no `iss`.
    pub(crate) fn from_claims(
        iss: Option<&str>,
        sub: Option<String>,
        qualified: bool,
    ) -> Option<Self> {
        let sub = sub?;
        Some(match iss {
            Some(iss) => Self::new(Some(iss), &sub, qualified),
            None => Self::from_sub(sub.into_boxed_str()),
        })
    }

    fn from_sub(sub: Box<str>) -> Self {
        Self {
            text: sub,
            sub_at: 0,
            qualified: false,
        }
    }

    /// The token's `sub`.
    pub fn sub(&self) -> &str {
        &self.text[self.sub_at..]
    }

    /// The token's `sub`, taken out (without a copy when there is no `iss`).
    pub fn into_sub(self) -> String {
        match self.sub_at {
            0 => self.text.into_string(),
            at => self.text[at..].to_owned(),
        }
    }

    /// The token's `iss`, if it has one.
    pub fn issuer(&self) -> Option<&str> {
        (self.sub_at > 0).then(|| &self.text[..self.sub_at - ISSUER_SEPARATOR.len_utf8()])
    }

    /// What the library keys this user by (the per-user cap, the per-user room): `iss#sub`
    /// with several trusted issuers, the `sub` alone otherwise.
    pub fn key(&self) -> &str {
        if self.qualified {
            &self.text
        } else {
            self.sub()
        }
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserId")
            .field("iss", &self.issuer())
            .field("sub", &self.sub())
            .finish()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// `iss` and `sub` as log fields.
pub(crate) fn log_fields(user: Option<&UserId>) -> (Option<&str>, Option<&str>) {
    (user.and_then(UserId::issuer), user.map(UserId::sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_survive_separators_in_sub_and_empty_parts() {
        let id = UserId::new(Some("a"), "b#c", true);
        assert_eq!(
            (id.issuer(), id.sub(), id.key()),
            (Some("a"), "b#c", "a#b#c")
        );
        let id = UserId::new(Some(""), "", true);
        assert_eq!((id.issuer(), id.sub(), id.key()), (Some(""), "", "#"));
        let id = UserId::from_claims(None, Some("x".into()), true).unwrap();
        assert_eq!((id.issuer(), id.sub(), id.key()), (None, "x", "x"));
        assert!(UserId::from_claims(Some("i"), None, true).is_none());
        let id = UserId::new(Some("é"), "ü", false);
        assert_eq!((id.issuer(), id.sub(), id.key()), (Some("é"), "ü", "ü"));
    }
}
