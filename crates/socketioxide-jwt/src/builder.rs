//! [`JwtAuthBuilder`]: every setting, with its default, checked once when the configuration is
//! built.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::auth::{AuthMode, JwtAuth, RoomsFn};
use crate::claims::StandardClaims;
use crate::error::AuthError;
use crate::issuer::KeySource;
use crate::protocol::EventNames;
use crate::revocation::RevocationList;
use crate::verify::CheckFn;

const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_millis(5000);
const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// 256 bits, as RFC 7518 asks for HS256.
const DEFAULT_MIN_HMAC_SECRET_LEN: usize = 32;
const DEFAULT_MAX_PENDING: usize = 10_000;
/// A client behind a NAT shares its address with others, each pending for at most the timeout
/// (5 s): 1 % of the places (100 by default) is plenty for them, and takes a flood 100
/// addresses to fill the rest.
const DEFAULT_PENDING_SHARE_PERCENT: usize = 1;
/// The least per-address share, for small `max_pending` values.
const MIN_PENDING_PER_ADDRESS: usize = 10;
/// Guests, by default: as many as pending places.
const DEFAULT_MAX_GUESTS: usize = 10_000;
/// A client opens one pending socket per namespace it joins over one connection.
const DEFAULT_MAX_PENDING_PER_SESSION: usize = 8;
const DEFAULT_MAX_AUTH_ATTEMPTS_PER_MINUTE: u32 = 10;
const DEFAULT_USER_ROOM_PREFIX: &str = "user:";
const DEFAULT_EXPIRY_WARNING: Duration = Duration::from_secs(60);

/// Default time a socket asked for a fresh token has to send one.
const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(30);
/// Clock skew is seconds, minutes at worst; a leeway of days would accept expired tokens for
/// days (and jsonwebtoken's own arithmetic overflows near `u64` seconds).
const MAX_LEEWAY: Duration = Duration::from_secs(24 * 3600);

impl JwtAuth<StandardClaims> {
    /// Starts a configuration that accepts the tokens `source` verifies:
    /// [`Keys`](crate::keys::Keys) (any `iss`), or [`TrustedIssuer`](crate::TrustedIssuer)s
    /// (each verified with its own keys), read into [`StandardClaims`].
    /// For a claims type of your own: [`JwtAuthBuilder::new`].
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::{keys::Keys, JwtAuth};
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn builder(source: impl Into<KeySource>) -> JwtAuthBuilder<StandardClaims> {
        JwtAuthBuilder::new(source)
    }
}

/// Builds a [`JwtAuth`]. Setters consume and return the builder; multiple calls override. What
/// goes together is given together: the key source with its audience rule
/// ([`JwtAuth::builder`]), a limit with what it needs
/// ([`failed_auth_limit`](Self::failed_auth_limit),
/// [`max_sockets_per_user`](Self::max_sockets_per_user)); `build()` checks values only.
///
/// Safe defaults: `exp` required, `nbf` checked, `iat` at most 60 s ahead, a token naming an
/// `aud` refused unless an audience is set, no leeway, 8 KiB token bound, 5 s timeout,
/// message mode, HMAC secrets of at least 32 bytes, `?token=` refused, `token_expiring` sent 60 s
/// before `exp`.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt::{keys::Keys, Algorithm, AuthMode, JwtAuthBuilder, VerificationKey};
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims { sub: String, role: String }
///
/// let key = VerificationKey::hmac(b"a-32-byte-long-secret-for-hs256!").algorithms([Algorithm::HS256]);
/// let auth = JwtAuthBuilder::<MyClaims>::new(Keys::from(key))
///     .mode(AuthMode::Either)
///     .timeout(Duration::from_secs(3))
///     .leeway(Duration::from_secs(30))
///     .check(|claims| async move {
///         if claims.role == "banned" {
///             Err(socketioxide_jwt::AuthError::forbidden("this account is suspended"))
///         } else {
///             Ok(())
///         }
///     })
///     .build()?;
/// # let _ = auth;
/// # Ok::<(), socketioxide_jwt::ConfigError>(())
/// ```
#[must_use]
pub struct JwtAuthBuilder<C = StandardClaims> {
    settings: Settings,
    check: Option<CheckFn<C>>,
    rooms: Option<RoomsFn<C>>,
}

impl<C> fmt::Debug for JwtAuthBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthBuilder")
            .field("source", &self.settings.source)
            .field("mode", &self.settings.mode)
            .finish_non_exhaustive()
    }
}

impl<C> JwtAuthBuilder<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Starts a configuration that accepts the tokens `source` verifies (see
    /// [`JwtAuth::builder`]), read into `C`: a token whose claims do not fit is refused with
    /// `invalid_token`.
    pub fn new(source: impl Into<KeySource>) -> Self {
        Self {
            settings: Settings::new(source.into()),
            check: None,
            rooms: None,
        }
    }

    /// Where the token comes from. Defaults to [`AuthMode::Message`].
    pub fn mode(mut self, mode: AuthMode) -> Self {
        self.settings.mode = mode;
        self
    }

    /// Message mode: time allowed between connection and a valid `authenticate`. Defaults to 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Renames the protocol events. Defaults to [`EventNames::default`].
    pub fn event_names(mut self, names: EventNames) -> Self {
        self.settings.events = names;
        self
    }

    /// Handshake mode: also accept `?token=` in the connection URL.
    ///
    /// <div class="warning">URLs end up in proxy and access logs, and so would the token.</div>
    pub fn insecure_allow_query_token(mut self) -> Self {
        self.settings.allow_query_token = true;
        self
    }

    /// Per-user rooms: every authenticated socket with a `sub` joins the room `user:<sub>`
    /// ([`JwtAuth::user_room`](crate::JwtAuth::user_room)), so the application can reach all of a
    /// user's sockets, on every server behind the same adapter, with `io.to(room)`. Off by default:
    /// a room costs ~0.5 KiB per socket in socketioxide's adapter (`bench/README.md`). [`user_room_prefix`](Self::user_room_prefix) picks another prefix.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// let auth = socketioxide_jwt::JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .user_rooms()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(auth.user_room("alice").as_deref(), Some("user:alice"));
    /// ```
    pub fn user_rooms(self) -> Self {
        self.user_room_prefix(Some(DEFAULT_USER_ROOM_PREFIX))
    }

    /// Per-user rooms named with this prefix followed by the socket's `sub`; `None` (the
    /// default) disables them. [`user_rooms`](Self::user_rooms) is the same with `user:`.
    pub fn user_room_prefix(mut self, prefix: Option<&str>) -> Self {
        self.settings.user_room_prefix = prefix.map(str::to_owned);
        self
    }

    /// Refuses revoked tokens (`revoked`) and disconnects sockets whose token gets revoked while
    /// connected. Multiple calls override.
    pub fn revocations(mut self, list: RevocationList) -> Self {
        self.settings.revocations = Some(list);
        self
    }

    /// Also reads the token from this cookie, after the sources already set (by default the
    /// `auth` payload, then `Authorization`): on the handshake of a handshake-mode or
    /// either-mode socket, and on REST requests (feature `axum`). A browser app can then keep
    /// its token in an `HttpOnly` cookie, out of reach of the page's scripts. Off by default.
    /// Same as adding [`CredentialSource::Cookie`](crate::credentials::CredentialSource::Cookie)
    /// to [`credential_sources`](Self::credential_sources).
    ///
    /// Needs [`cookie_origins`](Self::cookie_origins): the browser attaches a cookie to
    /// requests that other sites' pages make, WebSocket handshakes included, and the
    /// same-origin policy does not stop those (cross-site WebSocket hijacking).
    ///
    /// A request that carries the cookie twice is refused (`credentials_bad_format`): a sibling
    /// subdomain can add a cookie of the same name for the parent domain. Prefer a `__Host-`
    /// name (e.g. `__Host-token`, set `Secure`, `Path=/`, no `Domain`), which only this host can
    /// set, and `SameSite=Strict`.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use socketioxide_jwt::{AuthMode, JwtAuth};
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .mode(AuthMode::Handshake)
    ///     .token_cookie("__Host-token")
    ///     .cookie_origins(["https://chat.example.com"])
    ///     .build()?;
    /// # let _ = auth;
    /// // Without the origins, the configuration is refused.
    /// let open = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .token_cookie("__Host-token")
    ///     .build();
    /// assert!(open.unwrap_err().to_string().contains("cross-site WebSocket hijacking"));
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn token_cookie(mut self, name: impl Into<String>) -> Self {
        let cookie = crate::credentials::CredentialSource::Cookie(name.into());
        self.settings.credential_sources.push(cookie);
        self
    }

    /// Where a handshake (and a REST request) looks for the token, in this order; the first
    /// source that has one gives it. Replaces the sources set before (the default: the `auth`
    /// payload, then `Authorization: Bearer`). Message mode reads the `authenticate` event
    /// only. `?token=` comes last when [`insecure_allow_query_token`](Self::insecure_allow_query_token).
    ///
    /// socketio-jwt's `auth_header_required` is `[AuthorizationHeader]`; a cookie-only browser
    /// app is `[Cookie(name)]` with [`cookie_origins`](Self::cookie_origins).
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use socketioxide_jwt::{credentials::CredentialSource, AuthMode, JwtAuth};
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .mode(AuthMode::Handshake)
    ///     .credential_sources([
    ///         CredentialSource::Cookie("__Host-token".into()),
    ///         CredentialSource::AuthorizationHeader,
    ///     ])
    ///     .cookie_origins(["https://chat.example.com"])
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn credential_sources(
        mut self,
        sources: impl IntoIterator<Item = crate::credentials::CredentialSource>,
    ) -> Self {
        self.settings.credential_sources = sources.into_iter().collect();
        self
    }

    /// The origins (`scheme://host[:port]`, compared case-insensitively) whose pages may send
    /// the token in the cookie: a handshake or REST request carrying the cookie with another
    /// `Origin` is refused (`forbidden`); one without `Origin` (a same-origin `GET`, a client
    /// that is not a browser) is not. Required with a cookie source. Multiple calls override.
    ///
    /// This guards the cookie only: to refuse other sites' pages whatever they send, add
    /// [`OriginLayer`](crate::layer::OriginLayer) too.
    pub fn cookie_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let origins = origins.into_iter().map(|o| o.as_ref().to_owned());
        self.settings.cookie_origins = Some(origins.collect());
        self
    }

    /// An async application check run after the signature and claims are verified, at every
    /// authentication and refresh. Return [`AuthError::forbidden`] (or [`AuthError::revoked`]) to
    /// refuse. Multiple calls override.
    pub fn check<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(Arc<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), AuthError>> + Send + 'static,
    {
        self.check = Some(Arc::new(move |claims| Box::pin(check(claims))));
        self
    }

    /// Sends `token_expiring` (`{ exp, expires_in_ms }`) to an authenticated socket this long
    /// before its token's `exp`, once per token (again after a refresh to a new token), so that a
    /// client whose own timers were throttled or frozen (a background tab, a sleeping device)
    /// still refreshes in time. At most half the remaining lifetime of a shorter-lived token.
    /// `None` turns it off. Defaults to 60 s.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use std::time::Duration;
    /// let auth = socketioxide_jwt::JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .expiry_warning(Some(Duration::from_secs(30)))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn expiry_warning(mut self, before_exp: Option<Duration>) -> Self {
        self.settings.expiry_warning = before_exp;
        self
    }

    /// How long a socket asked for a fresh token by
    /// [`JwtAuth::request_refresh`](crate::JwtAuth::request_refresh) has to send one before it
    /// is refused with `token_expired`. Defaults to 30 s.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use std::time::Duration;
    /// let auth = socketioxide_jwt::JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .refresh_grace(Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn refresh_grace(mut self, grace: Duration) -> Self {
        self.settings.refresh_grace = grace;
        self
    }

    /// Rooms granted by the claims: the socket joins the rooms `rooms` returns when it is
    /// authenticated, and on every refresh they are derived again (rooms no longer granted are
    /// left, newly granted ones joined). Works on any adapter (rooms are per process; a
    /// broadcast to a room reaches its members on every server). Multiple calls override.
    ///
    /// The library manages these rooms: do not also join or leave them by hand. Names equal to
    /// [`PENDING_ROOM`](crate::protocol::PENDING_ROOM) or starting with the
    /// [`user_room_prefix`](Self::user_room_prefix) are never joined (a claim must not put a
    /// socket in another user's room); prefix yours (e.g. `room:`).
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// #[derive(serde::Deserialize)]
    /// struct MyClaims { sub: String, #[serde(default)] rooms: Vec<String> }
    ///
    /// let auth = socketioxide_jwt::JwtAuthBuilder::<MyClaims>::new(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .rooms_from_claims(|c: &MyClaims| c.rooms.iter().map(|r| format!("room:{r}")).collect::<Vec<_>>())
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn rooms_from_claims<F, I>(mut self, rooms: F) -> Self
    where
        F: Fn(&C) -> I + Send + Sync + 'static,
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.rooms = Some(Arc::new(move |claims| {
            rooms(claims).into_iter().map(Into::into).collect()
        }));
        self
    }
}

mod build;
#[cfg(test)]
pub(crate) use self::build::ensure_crypto_backend;
mod limits;
mod settings;
mod tokens;

use self::settings::Settings;

#[cfg(test)]
mod tests;
