//! Why a Security Event Token was refused: the error codes of RFC 8935 §2.3 (push) and
//! RFC 8936 §2.4 (poll), which a transmitter understands.

use std::borrow::Cow;

/// An RFC 8935 §2.3 / RFC 8936 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SetErrorCode {
    /// The request body cannot be parsed as a SET, or the SET is malformed or out of date.
    InvalidRequest,
    /// The SET's signature does not verify with the transmitter's keys (or its key is unknown).
    InvalidKey,
    /// The SET's issuer is not a configured transmitter.
    InvalidIssuer,
    /// The SET's audience is not this receiver's.
    InvalidAudience,
    /// The request was not authenticated (a push without the agreed bearer token).
    AuthenticationFailed,
    /// The transmitter may not send this SET here.
    AccessDenied,
}

impl SetErrorCode {
    /// The code as RFC 8935 spells it (`invalid_request`, `invalid_key`, ...).
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::ssf::SetErrorCode;
    /// assert_eq!(SetErrorCode::InvalidAudience.as_str(), "invalid_audience");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidKey => "invalid_key",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::AuthenticationFailed => "authentication_failed",
            Self::AccessDenied => "access_denied",
        }
    }
}

/// Why a SET was not applied.
///
/// # Example
/// ```
/// use socketioxide_jwt::ssf::{SetError, SetErrorCode};
/// let err = SetError::new(SetErrorCode::InvalidRequest, "not a JWT");
/// assert_eq!(err.code(), Some(SetErrorCode::InvalidRequest));
/// assert_eq!(err.description(), "not a JWT");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetError {
    /// The SET is refused: the transmitter should not send it again (`400` on push, a
    /// `setErrs` entry on poll).
    #[error("{}: {description}", code.as_str())]
    Refused {
        /// The RFC's error code.
        code: SetErrorCode,
        /// A human-readable reason (never the SET).
        description: Cow<'static, str>,
    },
    /// This SET (its `iss` and `jti`) was received before, here or on another instance:
    /// `invalid_request` to a push; acknowledged when polling (it was applied).
    #[error("this SET (its iss and jti) was received before")]
    Replayed,
    /// The SET is valid but could not be recorded (the revocation store is unreachable): the
    /// transmitter should send it again (`503` on push; not acknowledged on poll).
    #[error("the event could not be recorded: {0}")]
    Unavailable(#[source] crate::revocation::RevocationError),
}

impl SetError {
    /// A refusal with `code` and `description`.
    pub fn new(code: SetErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self::Refused {
            code,
            description: description.into(),
        }
    }

    /// `invalid_request` with `description`.
    pub(crate) fn request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(SetErrorCode::InvalidRequest, description)
    }

    /// The RFC error code; `None` for [`SetError::Unavailable`].
    pub fn code(&self) -> Option<SetErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            Self::Replayed => Some(SetErrorCode::InvalidRequest),
            Self::Unavailable(_) => None,
        }
    }

    /// The description sent to the transmitter.
    pub fn description(&self) -> &str {
        match self {
            Self::Refused { description, .. } => description,
            Self::Replayed => "this SET (its iss and jti) was received before: a replay",
            Self::Unavailable(_) => "the event could not be recorded; send it again",
        }
    }

    /// The RFC 8935 error object: `{ "err": code, "description": text }`.
    pub fn to_json(&self) -> serde_json::Value {
        let err = self
            .code()
            .map_or("temporarily_unavailable", SetErrorCode::as_str);
        serde_json::json!({ "err": err, "description": self.description() })
    }
}
