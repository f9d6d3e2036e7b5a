//! Subjects of security events: RFC 9493 subject identifiers (`iss_sub`, `email`, `opaque`,
//! `phone_number`, `aliases`, ...) and SSF 1.0 §3.3 complex subjects (`user`, `session`, ...),
//! matched to the identity the library keys users by.

use serde_json::{Map, Value};

use super::error::SetError;

/// The longest identifier member read, in bytes (as a token's identity claim).
const MAX_ID_LEN: usize = crate::verify::MAX_IDENTITY_LEN;
/// The most identifiers an `aliases` subject may list.
const MAX_ALIASES: usize = 8;

/// One subject identifier (RFC 9493 §3).
///
/// # Example
/// ```
/// use socketioxide_jwt::ssf::Subject;
/// let subject = Subject::IssSub { iss: "https://idp.example".into(), sub: "42".into() };
/// assert_eq!(subject.format(), "iss_sub");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Subject {
    /// `iss_sub`: a `sub` at an issuer.
    IssSub {
        /// The issuer.
        iss: String,
        /// The subject at that issuer.
        sub: String,
    },
    /// `email`.
    Email(String),
    /// `phone_number`.
    PhoneNumber(String),
    /// `opaque`: an identifier only the transmitter understands (as a session, its id).
    Opaque(String),
    /// Another format (`account`, `did`, `uri`, ...): acknowledged, never matched.
    Other(String),
}

impl Subject {
    /// The format's name.
    pub fn format(&self) -> &str {
        match self {
            Self::IssSub { .. } => "iss_sub",
            Self::Email(_) => "email",
            Self::PhoneNumber(_) => "phone_number",
            Self::Opaque(_) => "opaque",
            Self::Other(format) => format,
        }
    }
}

/// What a SET is about: the user's identifiers (several with `aliases`) and the session.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Subjects {
    pub(crate) user: Vec<Subject>,
    pub(crate) session: Option<Subject>,
}

impl Subjects {
    /// Reads a subject: a simple one (with `format`) names the user; a complex one (with
    /// `format: "complex"` as SSF 1.0 has it, or without a format as its drafts had it) names
    /// the user in `user` and the session in `session` (its other members are not read).
    pub(crate) fn read(value: &Value) -> Result<Self, SetError> {
        let Value::Object(object) = value else {
            return Err(SetError::request("a subject is a JSON object"));
        };
        let format = object.get("format");
        if format.is_some() && format.and_then(Value::as_str) != Some("complex") {
            return Ok(Self {
                user: simple_or_aliases(object)?,
                session: None,
            });
        }
        let member = |name: &str| match object.get(name) {
            Some(Value::Object(simple)) => simple_or_aliases(simple).map(Some),
            Some(_) => Err(SetError::request(format!(
                "the complex subject's {name} is not a subject"
            ))),
            None => Ok(None),
        };
        let user = member("user")?.unwrap_or_default();
        let session = member("session")?.and_then(|mut session| session.pop());
        Ok(Self { user, session })
    }

    /// The ids of the user in the trusted issuer `iss`'s key (`sub`, or the identity claim
    /// `identity_claim`), as this subject names them. `speaks_for`: the token issuers whose
    /// users this transmitter may name.
    pub(crate) fn users_at<'a>(
        &'a self,
        identity_claim: Option<&'a str>,
        speaks_for: &'a [String],
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.user.iter().flat_map(move |subject| {
            let named: Vec<(&str, &str)> = match (subject, identity_claim) {
                // The issuer as the configuration spells it (a trailing `/` aside).
                (Subject::IssSub { iss, sub }, None) => speaks_for
                    .iter()
                    .find(|s| crate::issuer::same_issuer(s, iss))
                    .map(|s| vec![(s.as_str(), sub.as_str())])
                    .unwrap_or_default(),
                (Subject::Email(id), Some("email"))
                | (Subject::PhoneNumber(id), Some("phone_number")) => speaks_for
                    .iter()
                    .map(|iss| (iss.as_str(), id.as_str()))
                    .collect(),
                _ => Vec::new(),
            };
            named
        })
    }

    /// The session's id (an `opaque` session subject).
    pub(crate) fn session_id(&self) -> Option<&str> {
        match &self.session {
            Some(Subject::Opaque(id)) => Some(id),
            _ => None,
        }
    }
}

/// A simple subject, or each identifier of an `aliases` one.
fn simple_or_aliases(object: &Map<String, Value>) -> Result<Vec<Subject>, SetError> {
    if object.get("format").and_then(Value::as_str) != Some("aliases") {
        return simple(object).map(|subject| vec![subject]);
    }
    let Some(Value::Array(identifiers)) = object.get("identifiers") else {
        return Err(SetError::request(
            "an aliases subject lists its identifiers",
        ));
    };
    if identifiers.len() > MAX_ALIASES {
        return Err(SetError::request(
            "an aliases subject lists at most 8 identifiers",
        ));
    }
    identifiers
        .iter()
        .map(|identifier| match identifier {
            Value::Object(o) if o.get("format").and_then(Value::as_str) != Some("aliases") => {
                simple(o)
            }
            _ => Err(SetError::request("an alias is a simple subject")),
        })
        .collect()
}

/// A simple subject identifier: its `format` and the members that format requires.
fn simple(object: &Map<String, Value>) -> Result<Subject, SetError> {
    let format = object
        .get("format")
        .and_then(Value::as_str)
        .ok_or_else(|| SetError::request("a subject identifier has a format"))?;
    let member = |name: &'static str| -> Result<String, SetError> {
        match object.get(name).and_then(Value::as_str) {
            Some(id) if !id.is_empty() && id.len() <= MAX_ID_LEN => Ok(id.to_owned()),
            _ => Err(SetError::request(format!(
                "a {format} subject has a {name} of 1 to {MAX_ID_LEN} bytes"
            ))),
        }
    };
    Ok(match format {
        "iss_sub" => Subject::IssSub {
            iss: member("iss")?,
            sub: member("sub")?,
        },
        "email" => Subject::Email(member("email")?),
        "phone_number" => Subject::PhoneNumber(member("phone_number")?),
        "opaque" => Subject::Opaque(member("id")?),
        other if other.len() <= 64 => Subject::Other(other.to_owned()),
        _ => return Err(SetError::request("a subject format has at most 64 bytes")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Subjects {
        Subjects::read(&v).unwrap()
    }

    #[test]
    fn simple_complex_and_aliases_subjects() {
        let iss_sub = json!({ "format": "iss_sub", "iss": "https://a", "sub": "42" });
        let s = read(iss_sub.clone());
        let a = vec!["https://a".to_owned()];
        assert_eq!(
            s.users_at(None, &a).collect::<Vec<_>>(),
            [("https://a", "42")]
        );
        assert_eq!(s.session_id(), None);
        // Another issuer's user is nobody here; with an identity claim, a sub names no one.
        let b = vec!["https://b".to_owned()];
        assert_eq!(s.users_at(None, &b).count(), 0);
        assert_eq!(s.users_at(Some("email"), &a).count(), 0);
        let s = read(json!({ "user": iss_sub, "session": { "format": "opaque", "id": "s1" } }));
        assert_eq!(s.session_id(), Some("s1"));
        assert_eq!(s.users_at(None, &a).count(), 1);
        let s = read(
            json!({ "format": "complex", "user": iss_sub, "session": { "format": "opaque", "id": "s2" } }),
        );
        assert_eq!(s.session_id(), Some("s2"));
        assert_eq!(s.users_at(None, &a).count(), 1);
        let s = read(json!({ "format": "aliases", "identifiers": [
            { "format": "email", "email": "x@y" }, { "format": "iss_sub", "iss": "https://a", "sub": "7" }
        ] }));
        assert_eq!(
            s.users_at(None, &a).collect::<Vec<_>>(),
            [("https://a", "7")]
        );
        assert_eq!(
            s.users_at(Some("email"), &a).collect::<Vec<_>>(),
            [("https://a", "x@y")]
        );
        // Unknown formats are kept, never matched.
        let s = read(json!({ "format": "did", "url": "did:x" }));
        assert_eq!(s.user, [Subject::Other("did".into())]);
        assert_eq!(s.users_at(None, &a).count(), 0);
    }

    #[test]
    fn malformed_subjects_are_invalid_requests() {
        let long = "x".repeat(MAX_ID_LEN + 1);
        for bad in [
            json!("42"),
            json!({ "format": "iss_sub", "iss": "https://a" }),
            json!({ "format": "iss_sub", "iss": "https://a", "sub": 42 }),
            json!({ "format": "iss_sub", "iss": "https://a", "sub": "" }),
            json!({ "format": "email", "email": long }),
            json!({ "format": 7 }),
            json!({ "user": "42" }),
            json!({ "format": "aliases", "identifiers": [{ "format": "aliases", "identifiers": [] }] }),
            json!({ "format": "aliases", "identifiers": vec![json!({ "format": "opaque", "id": "1" }); 9] }),
            json!({ "format": "x".repeat(65) }),
        ] {
            let err = Subjects::read(&bad).unwrap_err();
            assert_eq!(
                err.code(),
                Some(super::super::SetErrorCode::InvalidRequest),
                "{bad}"
            );
        }
    }
}
