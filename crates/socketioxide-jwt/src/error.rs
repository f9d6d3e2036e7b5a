//! Public error codes and the wire error object.
//!
//! Everything that goes over the wire is fixed, public text: the [`ErrorCode`] and a message chosen
//! by this crate (or, for [`ErrorCode::Forbidden`] and [`ErrorCode::Revoked`], by the application).
//! Library internals (jsonwebtoken's reasons, key ids, algorithms) are kept in
//! [`std::error::Error::source`] and in `tracing`, never sent to the client.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// The `type` field of every [`ErrorObject`], as in Node's `socketio-jwt`.
pub const ERROR_TYPE: &str = "UnauthorizedError";

/// Why an authentication (or an authorization) was refused.
///
/// The string form ([`ErrorCode::as_str`]) is part of the wire contract and never changes.
///
/// # Example
/// ```
/// use socketioxide_jwt::ErrorCode;
/// assert_eq!(ErrorCode::TokenExpired.as_str(), "token_expired");
/// assert_eq!(ErrorCode::TokenExpired.to_string(), "token_expired");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No token was sent (missing field, empty payload).
    CredentialsRequired,
    /// The token is not a string, or not `header.payload.signature`.
    CredentialsBadFormat,
    /// Bad signature, wrong algorithm, wrong `iss`/`aud`, `nbf` in the future, unknown `kid`,
    /// too long, or claims that do not have the expected shape.
    InvalidToken,
    /// `exp` has passed, at authentication or later while connected.
    TokenExpired,
    /// Message mode: no `authenticate` arrived in time.
    Timeout,
    /// The token or its user was revoked.
    Revoked,
    /// An application check refused an otherwise valid token, or a handler needs a claim the
    /// socket does not have.
    Forbidden,
}

impl ErrorCode {
    /// Every code, in the order of the contract's table.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::CredentialsRequired,
        ErrorCode::CredentialsBadFormat,
        ErrorCode::InvalidToken,
        ErrorCode::TokenExpired,
        ErrorCode::Timeout,
        ErrorCode::Revoked,
        ErrorCode::Forbidden,
    ];

    /// The code as it appears on the wire (`code` field, and the `connect_error` message).
    ///
    /// # Example
    /// ```
    /// assert_eq!(socketioxide_jwt::ErrorCode::InvalidToken.as_str(), "invalid_token");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::CredentialsRequired => "credentials_required",
            ErrorCode::CredentialsBadFormat => "credentials_bad_format",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Revoked => "revoked",
            ErrorCode::Forbidden => "forbidden",
        }
    }

    /// The default human-readable message sent with this code.
    ///
    /// # Example
    /// ```
    /// assert_eq!(socketioxide_jwt::ErrorCode::Timeout.default_message(), "authentication timed out");
    /// ```
    pub const fn default_message(self) -> &'static str {
        match self {
            ErrorCode::CredentialsRequired => "no token was provided",
            ErrorCode::CredentialsBadFormat => {
                "the token must be a string of the form header.payload.signature"
            }
            ErrorCode::InvalidToken => "the token is invalid",
            ErrorCode::TokenExpired => "the token has expired",
            ErrorCode::Timeout => "authentication timed out",
            ErrorCode::Revoked => "the token has been revoked",
            ErrorCode::Forbidden => "access is forbidden",
        }
    }

    /// Parses a wire code back into an [`ErrorCode`].
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::ErrorCode;
    /// assert_eq!(ErrorCode::from_wire("revoked"), Some(ErrorCode::Revoked));
    /// assert_eq!(ErrorCode::from_wire("nope"), None);
    /// ```
    pub fn from_wire(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A refused authentication or authorization.
///
/// Its [`Display`](fmt::Display) is the bare [`ErrorCode`] (that is what a handshake-mode
/// `connect_error` carries); [`AuthError::to_object`] builds the full wire object. The internal
/// reason, if any, is kept as the [`source`](std::error::Error::source) and is never sent.
///
/// # Example
/// ```
/// use socketioxide_jwt::{AuthError, ErrorCode};
/// let err = AuthError::forbidden("this account is suspended");
/// assert_eq!(err.code(), ErrorCode::Forbidden);
/// assert_eq!(err.to_string(), "forbidden");
/// let wire = serde_json::to_value(err.to_object()).unwrap();
/// assert_eq!(wire["data"]["code"], "forbidden");
/// assert_eq!(wire["message"], "this account is suspended");
/// ```
#[derive(Debug)]
pub struct AuthError {
    code: ErrorCode,
    message: Cow<'static, str>,
    source: Option<BoxError>,
}

impl AuthError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
            source: None,
        }
    }

    /// A [`ErrorCode::Forbidden`] error with a public message chosen by the application.
    ///
    /// <div class="warning">The message is sent to the client: keep it free of secrets.</div>
    pub fn forbidden(public_message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden).with_message(public_message)
    }

    /// A [`ErrorCode::Revoked`] error with the default message.
    pub fn revoked() -> Self {
        Self::new(ErrorCode::Revoked)
    }

    /// Replaces the public message.
    ///
    /// <div class="warning">The message is sent to the client: keep it free of secrets.</div>
    #[must_use]
    pub fn with_message(mut self, public_message: impl Into<Cow<'static, str>>) -> Self {
        self.message = public_message.into();
        self
    }

    /// Attaches the internal reason (kept for logs, never sent).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The public code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The public message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The wire form of this error.
    pub fn to_object(&self) -> ErrorObject {
        ErrorObject::new(self.code, self.message.clone())
    }
}

impl From<ErrorCode> for AuthError {
    fn from(code: ErrorCode) -> Self {
        AuthError::new(code)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code.as_str())
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The error object of the wire contract, sent with `unauthorized` and through acks.
///
/// `data` repeats the fields so that code written for Node's `socketio-jwt` (`err.data.code`)
/// keeps working.
///
/// # Example
/// ```
/// use socketioxide_jwt::{ErrorCode, ErrorObject};
/// let obj = ErrorObject::from(ErrorCode::Timeout);
/// let json = serde_json::to_value(&obj).unwrap();
/// assert_eq!(json["code"], "timeout");
/// assert_eq!(json["type"], "UnauthorizedError");
/// assert_eq!(json["data"]["message"], json["message"]);
/// ```
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorObject {
    /// Human-readable, public text.
    pub message: Cow<'static, str>,
    /// The wire code.
    pub code: &'static str,
    /// Always [`ERROR_TYPE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The same fields again.
    pub data: ErrorData,
}

/// The `data` member of an [`ErrorObject`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorData {
    /// Same as [`ErrorObject::message`].
    pub message: Cow<'static, str>,
    /// Same as [`ErrorObject::code`].
    pub code: &'static str,
    /// Same as [`ErrorObject::kind`].
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl ErrorObject {
    /// Builds the object for a code and a public message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        let message = message.into();
        Self {
            data: ErrorData {
                message: message.clone(),
                code: code.as_str(),
                kind: ERROR_TYPE,
            },
            message,
            code: code.as_str(),
            kind: ERROR_TYPE,
        }
    }
}

impl From<ErrorCode> for ErrorObject {
    fn from(code: ErrorCode) -> Self {
        ErrorObject::new(code, code.default_message())
    }
}

/// The `connect_error` message of a connection refused because too many sockets are pending
/// (see [`JwtAuthBuilder::max_pending`](crate::JwtAuthBuilder::max_pending)).
pub const SERVER_BUSY: &str = "server_busy";

/// A configuration refused by [`JwtAuthBuilder::build`](crate::JwtAuthBuilder::build).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither a key nor a key resolver was configured.
    #[error("no verification key: add one with `key(..)` or set a `key_resolver(..)`")]
    NoKey,
    /// Both static keys and a key resolver were configured.
    #[error("both static keys and a key resolver were configured: choose one")]
    KeysAndResolver,
    /// Two keys without a `kid`, or two keys with the same `kid`.
    #[error("duplicate key id {0:?} (at most one key may have no kid)")]
    DuplicateKid(Option<String>),
    /// An algorithm does not belong to the key's family (e.g. `HS256` for an RSA key).
    #[error("algorithm {algorithm:?} does not fit a {family} key")]
    AlgorithmFamilyMismatch {
        /// The refused algorithm.
        algorithm: jsonwebtoken::Algorithm,
        /// The key's family.
        family: &'static str,
    },
    /// A key was given an empty list of algorithms.
    #[error("a key must allow at least one algorithm")]
    NoAlgorithm,
    /// A PEM key could not be parsed.
    #[error("the {kind} PEM key could not be parsed")]
    InvalidPem {
        /// Which kind of key was expected.
        kind: &'static str,
        /// jsonwebtoken's reason.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// An HMAC secret is shorter than the configured minimum.
    #[error("the HMAC secret is {len} bytes long; at least {min} are required")]
    WeakSecret {
        /// The secret's length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// An empty issuer or audience.
    #[error("issuer and audience values must not be empty")]
    EmptyIssuerOrAudience,
    /// A duration or size that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// An event name is empty, reserved by Socket.IO, or used twice.
    #[error("invalid event name {0:?}: event names must be non-empty, distinct and not reserved")]
    InvalidEventName(String),
    /// `failed_auth_limit` was set without `client_ip`.
    #[error("failed_auth_limit needs client_ip: tell the library how to find the client's IP")]
    FailedAuthLimitNeedsClientIp,
    /// No jsonwebtoken crypto backend is enabled.
    #[error("no crypto backend: enable the `aws-lc-rs` or `rust-crypto` feature")]
    NoCryptoBackend,
}
