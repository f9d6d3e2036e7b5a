//! The errors: [`AuthError`] (a refused authentication) and [`ConfigError`] (a refused
//! configuration).
//!
//! Everything that goes over the wire is fixed, public text: the [`ErrorCode`] and a message chosen
//! by this crate (or, for [`ErrorCode::Forbidden`] and [`ErrorCode::Revoked`], by the application).
//! Library internals (jsonwebtoken's reasons, key ids, algorithms) are kept in
//! [`std::error::Error::source`] and in `tracing`, never sent to the client.

use std::borrow::Cow;
use std::fmt;

use jsonwebtoken::AlgorithmFamily;

use crate::protocol::{ErrorCode, ErrorObject};

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

    /// The application's own code ([`CustomCode`](crate::protocol::CustomCode)) with a public
    /// message: for a [`check`](crate::JwtAuthBuilder::check) whose refusal the client should
    /// tell apart from `forbidden` (`account_locked`, `plan_expired`). Counted, logged and
    /// answered like `forbidden` (`403` on REST); the client helpers treat it as a final
    /// refusal.
    ///
    /// <div class="warning">The message is sent to the client: keep it free of secrets.</div>
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::{protocol::CustomCode, AuthError, ErrorCode};
    /// const PLAN_EXPIRED: CustomCode = CustomCode::new("plan_expired");
    /// let err = AuthError::custom(PLAN_EXPIRED, "renew your plan to chat");
    /// assert_eq!(err.code(), ErrorCode::Custom(PLAN_EXPIRED));
    /// let wire = serde_json::to_value(err.to_object()).unwrap();
    /// assert_eq!((wire["code"].as_str(), wire["message"].as_str()), (Some("plan_expired"), Some("renew your plan to chat")));
    /// ```
    pub fn custom(
        code: crate::protocol::CustomCode,
        public_message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(ErrorCode::Custom(code)).with_message(public_message)
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

    /// The wire form of this error ([`ErrorObject`](crate::protocol::ErrorObject)).
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

/// A configuration refused by [`JwtAuthBuilder::build`](crate::JwtAuthBuilder::build).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key: `Keys::new` with an empty list, or no trusted issuer.
    #[error("no verification key: give `Keys::new(..)` at least one key, or `JwtAuth::builder` at least one issuer")]
    NoKey,
    /// Two keys with the same `kid`, or several keys without a `kid` beside keys with one.
    #[error(
        "duplicate key id {0:?} (keys without a kid are a rotation only when no key has a kid)"
    )]
    DuplicateKid(Option<String>),
    /// An algorithm does not belong to the key's family (e.g. `HS256` for an RSA key).
    #[error("algorithm {algorithm:?} does not fit a {family:?} key")]
    AlgorithmFamilyMismatch {
        /// The refused algorithm.
        algorithm: jsonwebtoken::Algorithm,
        /// The key's family.
        family: AlgorithmFamily,
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
    /// A leeway of more than a day: it would accept expired tokens for that long.
    #[error("a leeway of {0:?} is more than a day: clock skew is seconds, set it to that")]
    LeewayTooLarge(std::time::Duration),
    /// No jsonwebtoken crypto backend is enabled.
    #[error("no crypto backend: enable the `aws-lc-rs` or `rust-crypto` feature")]
    NoCryptoBackend,

    /// A trusted issuer's own settings are wrong.
    #[error("trusted issuer {iss:?}: {error}")]
    TrustedIssuer {
        /// The issuer's `iss`.
        iss: String,
        /// What is wrong with its settings.
        error: Box<ConfigError>,
    },

    /// Two trusted issuers have the same `iss`.
    #[error("issuer {0:?} is configured twice")]
    DuplicateIssuer(String),

    /// With several issuers, users are keyed `iss#sub` (the per-user cap, the per-user room):
    /// an issuer containing `#` would let two (`iss`, `sub`) pairs share a key.
    #[error("issuer {0:?} contains '#', which separates issuer and subject in user keys (an OpenID issuer has no fragment)")]
    IssuerWithSeparator(String),

    /// `identity_claim(..)` other than `sub` beside back-channel logout (a trusted issuer's
    /// `client_id`).
    #[error(
        "identity_claim(..) names users by another claim than sub, but back-channel logout tokens \
         name them by sub: a logout naming only the sub would end no socket; keep sub, or do \
         without back-channel logout"
    )]
    IdentityClaimWithLogout,

    /// `identity_claim("")`.
    #[error("identity_claim(..) is empty: name the claim that identifies users (default: sub)")]
    EmptyIdentityClaim,

    /// `credential_sources(..)` with no source: no handshake could ever carry a token.
    #[error("credential_sources(..) is empty: name at least one place the token may come from")]
    NoCredentialSource,

    /// A token cookie without `cookie_origins(..)`.
    #[error(
        "a token cookie needs cookie_origins(..): browsers attach cookies to WebSocket handshakes \
         that other sites' pages open, and the same-origin policy does not stop them (cross-site \
         WebSocket hijacking); name the origins of your pages"
    )]
    CookieWithoutOrigins,

    /// An empty origin in `cookie_origins(..)`.
    #[error("cookie_origins(..) contains an empty origin")]
    EmptyCookieOrigin,

    /// A Shared Signals receiver for a configuration without a revocation list.
    #[error(
        "an SSF receiver acts through the revocation list (its revocations and refresh \
         requests reach every instance): build the JwtAuth with .revocations(..)"
    )]
    NoRevocationList,

    /// A Shared Signals receiver with an empty audience.
    #[error("an SSF receiver needs the audience its SETs are for (not empty)")]
    EmptySsfAudience,
}
