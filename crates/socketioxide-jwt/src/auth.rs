//! [`JwtAuth`]: a built configuration, shared by the socket gate and REST extractors.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::claims::StandardClaims;
use crate::credentials::CredentialRules;
use crate::deadlines::Deadlines;
use crate::error::AuthError;
use crate::identity::UserId;
use crate::limits::{FailureTracker, PendingGauge};
use crate::metrics::Via;
use crate::protocol::EventNames;
use crate::session::ExpiryRules;
use crate::user_sockets::UserSockets;
use crate::verify::Verifier;

/// Where the token comes from.
///
/// # Example
/// ```
/// # use socketioxide_jwt::keys::Keys;
/// use socketioxide_jwt::{AuthMode, JwtAuth};
/// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
///     .mode(AuthMode::Handshake)
///     .build()
///     .unwrap();
/// assert_eq!(auth.mode(), AuthMode::Handshake);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMode {
    /// The client connects, then emits `authenticate` with `{ token }` (two round trips).
    #[default]
    Message,
    /// The token comes with the connection (`auth: { token }` or `Authorization: Bearer`); a
    /// missing or bad token refuses the connection.
    Handshake,
    /// A handshake token if one is present (and then it must be valid); otherwise message mode.
    Either,
}

impl AuthMode {
    pub(crate) fn reads_handshake(self) -> bool {
        matches!(self, AuthMode::Handshake | AuthMode::Either)
    }
}

/// Finds the client's IP in the connection request.
pub(crate) type ClientIpFn =
    Arc<dyn Fn(&http::request::Parts) -> Option<std::net::IpAddr> + Send + Sync>;

/// Derives the rooms a socket's claims grant (`JwtAuthBuilder::rooms_from_claims`).
pub(crate) type RoomsFn<C> = Arc<dyn Fn(&C) -> Vec<String> + Send + Sync>;

/// What the socket gate needs besides the verifier.
pub(crate) struct GateSettings {
    pub(crate) leeway: Duration,
    /// How long before `exp` to send `token_expiring`; `None`: never.
    pub(crate) expiry_warning: Option<Duration>,
    /// How long a socket asked for a fresh token has to send one (`request_refresh`).
    pub(crate) refresh_grace: Duration,
    /// How long a login session may last (see `JwtAuthBuilder::max_session_age`).
    pub(crate) max_session_age: Option<Duration>,
    /// At most this many authenticated sockets per `sub`, counted there.
    pub(crate) user_cap: Option<(usize, UserSockets)>,
    /// Every socket's deadline, in one queue.
    pub(crate) deadlines: Arc<Deadlines>,
    pub(crate) mode: AuthMode,
    pub(crate) timeout: Duration,
    pub(crate) events: EventNames,
    /// Where a handshake or a REST request carries its token.
    pub(crate) credentials: CredentialRules,
    pub(crate) user_room_prefix: Option<String>,
    pub(crate) max_pending: usize,
    pub(crate) max_pending_per_address: usize,
    pub(crate) max_pending_per_session: usize,
    pub(crate) pending: PendingGauge,
    /// The places of guests, apart from the pending ones.
    pub(crate) guests: GuestCaps,
    pub(crate) max_auth_attempts_per_minute: u32,
    pub(crate) failures: Option<FailureTracker>,
    pub(crate) client_ip: Option<ClientIpFn>,
}

/// How many guests may stay: in all, and per address.
#[derive(Debug)]
pub(crate) struct GuestCaps {
    pub(crate) max: usize,
    pub(crate) per_address: usize,
    pub(crate) places: PendingGauge,
}

impl GateSettings {
    /// How expiry is enforced and announced.
    pub(crate) fn expiry_rules(&self) -> ExpiryRules {
        ExpiryRules {
            leeway: self.leeway,
            warning: self.expiry_warning,
            max_session_age: self.max_session_age,
        }
    }

    /// How tokens arrive, for decisions not tied to one token (expiry, revocation, admission):
    /// the handshake for a handshake-mode configuration, else the `authenticate` event.
    pub(crate) fn default_via(&self) -> Via {
        match self.mode {
            AuthMode::Handshake => Via::Handshake,
            _ => Via::Message,
        }
    }
}

impl fmt::Debug for GateSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateSettings")
            .field("leeway", &self.leeway)
            .field("expiry_warning", &self.expiry_warning)
            .field("max_sockets_per_user", &self.user_cap.as_ref().map(|c| c.0))
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .field("events", &self.events)
            .field("credentials", &self.credentials)
            .field("user_room_prefix", &self.user_room_prefix)
            .field("max_pending", &self.max_pending)
            .field("max_pending_per_address", &self.max_pending_per_address)
            .field("max_pending_per_session", &self.max_pending_per_session)
            .field(
                "max_auth_attempts_per_minute",
                &self.max_auth_attempts_per_minute,
            )
            .field("failures", &self.failures.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<C> {
    pub(crate) verifier: Verifier<C>,
    pub(crate) gate: GateSettings,
    pub(crate) rooms: Option<RoomsFn<C>>,
}

/// A built, immutable authentication configuration: one verifier for sockets and REST requests.
///
/// Cheap to clone. Register namespaces with [`JwtAuth::on_authenticated`], guard REST routes with
/// the [`Claims`](crate::Claims) extractor (feature `axum`), verify by hand with
/// [`JwtAuth::verify`]. Made by `JwtAuth::builder(..)`.
///
/// # Example
/// ```
/// # use socketioxide_jwt::{TrustedIssuer, keys::Keys};
/// use socketioxide_jwt::JwtAuth;
/// let auth = JwtAuth::builder(TrustedIssuer::new("https://auth.example.com", Keys::hmac(b"a-32-byte-long-secret-for-hs256!").audience("chat")))
///     .build()?;
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
pub struct JwtAuth<C = StandardClaims> {
    pub(crate) inner: Arc<Inner<C>>,
}

impl<C> Clone for JwtAuth<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<C> fmt::Debug for JwtAuth<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("verifier", &self.inner.verifier)
            .field("gate", &self.inner.gate)
            .field("rooms_from_claims", &self.inner.rooms.is_some())
            .finish()
    }
}

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Verifies a token exactly as a socket's token is verified (length bound, shape, key and
    /// algorithm, signature, claims, revocation, the application's check), outside any socket.
    ///
    /// # Errors
    /// The [`AuthError`] a socket would have been refused with.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use socketioxide_jwt::{ErrorCode, JwtAuth};
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build().unwrap();
    /// let err = auth.verify("not-a-token").await.unwrap_err();
    /// assert_eq!(err.code(), ErrorCode::CredentialsBadFormat);
    /// # });
    /// ```
    pub async fn verify(&self, token: &str) -> Result<Arc<C>, AuthError> {
        Ok(self.inner.verifier.verify(token).await?.claims)
    }
}

impl<C> JwtAuth<C> {
    /// The configured mode.
    pub fn mode(&self) -> AuthMode {
        self.inner.gate.mode
    }

    /// The configured event names.
    pub fn event_names(&self) -> &EventNames {
        &self.inner.gate.events
    }

    /// How many sockets are pending (connected, not yet authenticated) right now, across the
    /// namespaces using this configuration.
    pub fn pending_sockets(&self) -> usize {
        self.inner.gate.pending.current()
    }

    /// The per-user room of `sub` when tokens come from one source: `user:<sub>` with bare
    /// keys, `user:<iss>#<sub>` with one [`TrustedIssuer`](crate::TrustedIssuer), if per-user
    /// rooms are enabled ([`JwtAuthBuilder::user_rooms`](crate::JwtAuthBuilder::user_rooms)).
    /// With several trusted issuers `sub` alone names no one (`sub` "42" of one provider is
    /// not "42" of another): `None`, use [`user_room_of`](Self::user_room_of).
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::{TrustedIssuer, keys::Keys};
    /// const SECRET: &[u8] = b"a-32-byte-long-secret-for-hs256!";
    /// let auth = socketioxide_jwt::JwtAuth::builder(Keys::hmac(SECRET))
    ///     .user_rooms()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(auth.user_room("alice").as_deref(), Some("user:alice"));
    /// let auth = socketioxide_jwt::JwtAuth::builder(TrustedIssuer::new("chat", Keys::hmac(SECRET)))
    ///     .user_rooms()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(auth.user_room("alice").as_deref(), Some("user:chat#alice"));
    /// ```
    pub fn user_room(&self, sub: &str) -> Option<String> {
        let iss = self.inner.verifier.sole_issuer()?;
        self.room_of(&UserId::new(iss, sub))
    }

    /// The per-user room of `sub` at the trusted issuer `iss`: `user:<iss>#<sub>`, if per-user
    /// rooms are enabled.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::{TrustedIssuer, keys::Keys};
    /// let auth = socketioxide_jwt::JwtAuth::builder([
    ///     TrustedIssuer::new("chat", Keys::hmac(b"a-32-byte-long-secret-for-hs256!")),
    ///     TrustedIssuer::new("partner", Keys::hmac(b"another-32-byte-secret-for-hs256")),
    /// ])
    /// .user_rooms()
    /// .build()
    /// .unwrap();
    /// assert_eq!(auth.user_room_of("partner", "42").as_deref(), Some("user:partner#42"));
    /// assert_eq!(auth.user_room("42"), None); // which issuer's 42?
    /// ```
    pub fn user_room_of(&self, iss: &str, sub: &str) -> Option<String> {
        self.room_of(&UserId::new(Some(iss), sub))
    }

    /// The per-user room of a verified user.
    pub(crate) fn room_of(&self, user: &UserId) -> Option<String> {
        self.user_room_prefix()
            .map(|prefix| format!("{prefix}{}", user.key()))
    }

    /// The prefix of the per-user rooms (`user:` with [`JwtAuthBuilder::user_rooms`](crate::JwtAuthBuilder::user_rooms)), if they are
    /// enabled: a room name
    /// that starts with it names a user.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// let auth = socketioxide_jwt::JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .user_rooms()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!("user:alice".strip_prefix(auth.user_room_prefix().unwrap()), Some("alice"));
    /// ```
    pub fn user_room_prefix(&self) -> Option<&str> {
        self.inner.gate.user_room_prefix.as_deref()
    }
}
