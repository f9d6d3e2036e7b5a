//! Why a socket was refused: the contract's codes, an application's own, and the error object
//! that carries them.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{ERROR_TYPE, SERVER_BUSY};

/// Why an authentication (or an authorization) was refused.
///
/// The string form ([`ErrorCode::as_str`]) is part of the wire contract and never changes.
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::ErrorCode;
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
    /// The application's own code (the server's `AuthError::custom`): a final
    /// refusal to the client helpers, as every code they do not know.
    Custom(CustomCode),
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
    /// assert_eq!(socketioxide_jwt_protocol::ErrorCode::InvalidToken.as_str(), "invalid_token");
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
            ErrorCode::Custom(code) => code.as_str(),
        }
    }

    /// The default human-readable message sent with this code.
    ///
    /// # Example
    /// ```
    /// assert_eq!(socketioxide_jwt_protocol::ErrorCode::Timeout.default_message(), "authentication timed out");
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
            ErrorCode::Forbidden | ErrorCode::Custom(_) => "access is forbidden",
        }
    }

    /// Parses a wire code back into one of the contract's codes ([`ErrorCode::ALL`]); an
    /// application's own code is `None`.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt_protocol::ErrorCode;
    /// assert_eq!(ErrorCode::from_wire("revoked"), Some(ErrorCode::Revoked));
    /// assert_eq!(ErrorCode::from_wire("nope"), None);
    /// ```
    pub fn from_wire(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// Whether a new token may succeed where the refused one cannot (`token_expired`,
    /// `revoked`): the client helpers ask for one before they connect again; every other code
    /// is final.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt_protocol::ErrorCode;
    /// assert!(ErrorCode::Revoked.is_recoverable());
    /// assert!(!ErrorCode::Forbidden.is_recoverable());
    /// ```
    pub const fn is_recoverable(self) -> bool {
        matches!(self, ErrorCode::TokenExpired | ErrorCode::Revoked)
    }
}

/// A refusal code as a client reads it off the wire: one of the contract's, the busy signal, or
/// a code it does not know (an application's own, an older server's words), which is final.
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::{ErrorCode, WireCode};
/// assert_eq!(WireCode::parse("revoked"), WireCode::Contract(ErrorCode::Revoked));
/// assert_eq!(WireCode::parse("server_busy"), WireCode::ServerBusy);
/// assert_eq!(WireCode::parse("plan_expired").as_str(), "plan_expired");
/// assert!(!WireCode::parse("plan_expired").is_recoverable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WireCode {
    /// One of [`ErrorCode::ALL`].
    Contract(ErrorCode),
    /// [`SERVER_BUSY`]: not a refusal, retry later.
    ServerBusy,
    /// Any other code: final.
    Other(Box<str>),
}

impl WireCode {
    /// Reads a code.
    pub fn parse(code: &str) -> Self {
        match ErrorCode::from_wire(code) {
            Some(code) => WireCode::Contract(code),
            None if code == SERVER_BUSY => WireCode::ServerBusy,
            None => WireCode::Other(code.into()),
        }
    }

    /// Reads the message of a server's `connect_error`, which is a code for a socketioxide-jwt
    /// server but may be another server's words ("Not authorized"): text that does not have the
    /// shape of a code (1 to 64 of `a-z`, `0-9` and `_`, starting with a letter) is a refusal
    /// all the same, read as `invalid_token` (as an `unauthorized` payload without a code is).
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt_protocol::{ErrorCode, WireCode};
    /// let read = WireCode::from_connect_error_message("Not authorized");
    /// assert_eq!(read, WireCode::Contract(ErrorCode::InvalidToken));
    /// assert_eq!(WireCode::from_connect_error_message("no_account").as_str(), "no_account");
    /// ```
    pub fn from_connect_error_message(message: &str) -> Self {
        if is_code_shaped(message.as_bytes()) {
            WireCode::parse(message)
        } else {
            WireCode::Contract(ErrorCode::InvalidToken)
        }
    }

    /// The code as it was on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            WireCode::Contract(code) => code.as_str(),
            WireCode::ServerBusy => SERVER_BUSY,
            WireCode::Other(code) => code,
        }
    }

    /// Whether a new token may succeed ([`ErrorCode::is_recoverable`]).
    pub fn is_recoverable(&self) -> bool {
        matches!(self, WireCode::Contract(code) if code.is_recoverable())
    }
}

impl PartialEq<str> for WireCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for WireCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for WireCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WireCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(WireCode::parse(&code))
    }
}

impl From<ErrorCode> for WireCode {
    fn from(code: ErrorCode) -> Self {
        WireCode::parse(code.as_str())
    }
}

impl fmt::Display for WireCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An application's own refusal code, sent as the contract's codes are (`code`, `data.code`, a
/// handshake's `connect_error` message): lowercase ASCII letters, digits and `_`, starting with
/// a letter, at most 64 bytes, and none of the contract's codes (nor `server_busy`), which it
/// must not shadow.
///
/// A constant checks it when the program is compiled:
/// ```
/// use socketioxide_jwt_protocol::{CustomCode, ErrorCode, ErrorObject};
/// const ACCOUNT_LOCKED: CustomCode = CustomCode::new("account_locked");
/// let object = ErrorObject::new(ErrorCode::Custom(ACCOUNT_LOCKED), "try again in an hour");
/// assert_eq!(object.data.code, "account_locked");
/// ```
/// ```compile_fail
/// # use socketioxide_jwt_protocol::CustomCode;
/// const SHADOW: CustomCode = CustomCode::new("revoked"); // a contract code: does not compile
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomCode(&'static str);

/// The longest [`CustomCode`], in bytes.
pub const MAX_CUSTOM_CODE_LEN: usize = 64;

impl CustomCode {
    /// The code `code`.
    ///
    /// # Panics
    /// If `code` is not a valid custom code ([`CustomCode::try_new`] says why): in a `const`, the
    /// program does not compile.
    pub const fn new(code: &'static str) -> Self {
        match Self::try_new(code) {
            Ok(code) => code,
            Err(InvalidCustomCode::Shape) => {
                panic!("a custom code is 1 to 64 of a-z, 0-9 and _, starting with a letter")
            }
            Err(InvalidCustomCode::ContractCode) => {
                panic!("a custom code must not be one of the contract's codes")
            }
        }
    }

    /// The code `code`, or why it cannot be one.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt_protocol::{CustomCode, InvalidCustomCode};
    /// assert!(CustomCode::try_new("plan_expired").is_ok());
    /// assert_eq!(CustomCode::try_new("forbidden"), Err(InvalidCustomCode::ContractCode));
    /// assert_eq!(CustomCode::try_new("server_busy"), Err(InvalidCustomCode::ContractCode));
    /// assert_eq!(CustomCode::try_new("Plan Expired"), Err(InvalidCustomCode::Shape));
    /// assert_eq!(CustomCode::try_new(""), Err(InvalidCustomCode::Shape));
    /// ```
    pub const fn try_new(code: &'static str) -> Result<Self, InvalidCustomCode> {
        let bytes = code.as_bytes();
        if !is_code_shaped(bytes) {
            return Err(InvalidCustomCode::Shape);
        }
        let mut c = 0;
        while c < ErrorCode::ALL.len() {
            if const_eq(bytes, ErrorCode::ALL[c].as_str().as_bytes()) {
                return Err(InvalidCustomCode::ContractCode);
            }
            c += 1;
        }
        if const_eq(bytes, SERVER_BUSY.as_bytes()) {
            return Err(InvalidCustomCode::ContractCode);
        }
        Ok(Self(code))
    }

    /// The code as sent.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

/// Why a string cannot be a [`CustomCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCustomCode {
    /// Not 1 to 64 of `a-z`, `0-9` and `_`, starting with a letter.
    #[error("a custom code is 1 to 64 of a-z, 0-9 and _, starting with a letter")]
    Shape,
    /// One of the contract's codes, or `server_busy`.
    #[error("a custom code must not be one of the contract's codes")]
    ContractCode,
}

/// Whether `bytes` has the shape of a code: 1 to [`MAX_CUSTOM_CODE_LEN`] of `a-z`, `0-9` and
/// `_`, starting with a letter (every contract code has it).
const fn is_code_shaped(bytes: &[u8]) -> bool {
    if bytes.is_empty() || bytes.len() > MAX_CUSTOM_CODE_LEN || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

/// `a == b`, in a `const fn`.
const fn const_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error object of the wire contract, sent with `unauthorized`, through acks, and as the
/// body of a refused REST request.
///
/// `data` repeats the fields so that code written for Node's `socketio-jwt` (`err.data.code`)
/// keeps working.
///
/// # Example
/// ```
/// use socketioxide_jwt_protocol::{ErrorCode, ErrorObject};
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
