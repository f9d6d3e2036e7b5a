//! Who a token is about: its `sub`, and the trusted issuer that vouches for it.
//!
//! `sub` "42" at one identity provider is not `sub` "42" at another, so everything the library
//! keys by user (the per-user cap, the per-user room, a room grant's owner) uses the pair:
//! `<iss>#<sub>` for a token checked against a [`TrustedIssuer`](crate::TrustedIssuer), the
//! same whether one issuer is trusted or several (adding a second issuer changes no key of the
//! first). A configuration that checks no issuer (bare [`Keys`](crate::keys::Keys)) vouches for
//! no `iss`: whatever the token says there names nobody, and its users are keyed by `sub`.

use std::fmt;

/// The separator between `iss` and `sub` in a [`UserId::key`]. Trusted issuers may not
/// contain it (the builder refuses it; OpenID issuers have no fragment), so a key names one
/// pair.
pub const ISSUER_SEPARATOR: char = '#';

/// A verified token's user: `sub`, and the trusted issuer that checked the token, if any.
///
/// # Example
/// ```
/// use socketioxide_jwt::identity::UserId;
/// let user = UserId::new(Some("https://idp.example"), "42");
/// assert_eq!((user.issuer(), user.sub()), (Some("https://idp.example"), "42"));
/// assert_eq!(user.key(), "https://idp.example#42");
/// // Verified without a trusted issuer: the sub alone.
/// assert_eq!(UserId::new(None, "42").key(), "42");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserId {
    /// `iss#sub`, or `sub` without an issuer: the key, and both parts in one allocation.
    text: Box<str>,
    /// Where `sub` starts in `text` (0: no issuer).
    sub_at: usize,
}

impl UserId {
    /// The user `sub` of the trusted issuer `iss` (`None`: verified without one).
    pub fn new(iss: Option<&str>, sub: &str) -> Self {
        match iss {
            Some(iss) => Self {
                text: format!("{iss}{ISSUER_SEPARATOR}{sub}").into_boxed_str(),
                sub_at: iss.len() + ISSUER_SEPARATOR.len_utf8(),
            },
            None => Self::from_sub(sub.into()),
        }
    }

    /// From a verified token's `sub` and the trusted issuer that checked it, taking `sub`
    /// without a copy when there is no issuer.
    pub(crate) fn from_claims(iss: Option<&str>, sub: Option<String>) -> Option<Self> {
        let sub = sub?;
        Some(match iss {
            Some(iss) => Self::new(Some(iss), &sub),
            None => Self::from_sub(sub.into_boxed_str()),
        })
    }

    fn from_sub(sub: Box<str>) -> Self {
        Self {
            text: sub,
            sub_at: 0,
        }
    }

    /// The token's `sub`.
    pub fn sub(&self) -> &str {
        &self.text[self.sub_at..]
    }

    /// The token's `sub`, taken out (without a copy when there is no issuer).
    pub fn into_sub(self) -> String {
        match self.sub_at {
            0 => self.text.into_string(),
            at => self.text[at..].to_owned(),
        }
    }

    /// The trusted issuer that checked the token (its `iss`), if the configuration names one.
    pub fn issuer(&self) -> Option<&str> {
        (self.sub_at > 0).then(|| &self.text[..self.sub_at - ISSUER_SEPARATOR.len_utf8()])
    }

    /// What the library keys this user by (the per-user cap, the per-user room): `iss#sub`,
    /// or the `sub` alone when no trusted issuer checked the token.
    pub fn key(&self) -> &str {
        &self.text
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
        let id = UserId::new(Some("a"), "b#c");
        assert_eq!(
            (id.issuer(), id.sub(), id.key()),
            (Some("a"), "b#c", "a#b#c")
        );
        let id = UserId::new(Some(""), "");
        assert_eq!((id.issuer(), id.sub(), id.key()), (Some(""), "", "#"));
        let id = UserId::from_claims(None, Some("x".into())).unwrap();
        assert_eq!((id.issuer(), id.sub(), id.key()), (None, "x", "x"));
        assert!(UserId::from_claims(Some("i"), None).is_none());
        let id = UserId::new(Some("é"), "ü");
        assert_eq!((id.issuer(), id.sub(), id.key()), (Some("é"), "ü", "é#ü"));
        assert_eq!(id.clone().into_sub(), "ü");
    }
}
