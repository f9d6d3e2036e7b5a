//! [`JwtAuthBuilder`]: every setting, with its default, checked once when the configuration is
//! built.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::auth::{AuthMode, ClientIpFn, GateSettings, Inner, JwtAuth, RoomsFn};
use crate::claims::StandardClaims;
use crate::error::{AuthError, ConfigError};
use crate::keys::{KeyResolver, StaticKeys, VerificationKey};
use crate::limits::{FailedAuthLimit, FailureTracker, PendingGauge};
use crate::protocol::{EventNames, RESERVED_EVENTS};
use crate::revocation::RevocationList;
use crate::user_sockets::UserSockets;
use crate::verify::{AudiencePolicy, CheckFn, ClaimRules, KeySource, Verifier};

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
/// A client opens one pending socket per namespace it joins over one connection.
const DEFAULT_MAX_PENDING_PER_SESSION: usize = 8;
const DEFAULT_MAX_AUTH_ATTEMPTS_PER_MINUTE: u32 = 10;
const DEFAULT_USER_ROOM_PREFIX: &str = "user:";
const DEFAULT_EXPIRY_WARNING: Duration = Duration::from_secs(60);
/// Clock skew is seconds, minutes at worst; a leeway of days would accept expired tokens for
/// days (and jsonwebtoken's own arithmetic overflows near `u64` seconds).
const MAX_LEEWAY: Duration = Duration::from_secs(24 * 3600);

impl JwtAuth<StandardClaims> {
    /// Starts a configuration with [`StandardClaims`]; switch with [`JwtAuthBuilder::claims`].
    pub fn builder() -> JwtAuthBuilder<StandardClaims> {
        JwtAuthBuilder::new()
    }
}

/// Builds a [`JwtAuth`]. Setters consume and return the builder; multiple calls override, except
/// [`JwtAuthBuilder::key`], which adds a key.
///
/// Safe defaults: `exp` required, `nbf` checked, `iat` at most 60 s ahead, a token naming an
/// `aud` refused unless an audience is set, no leeway, 8 KiB token bound, 5 s timeout,
/// message mode, HMAC secrets of at least 32 bytes, `?token=` refused, `token_expiring` sent 60 s
/// before `exp`.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt::{Algorithm, AuthMode, JwtAuth, VerificationKey};
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims { sub: String, role: String }
///
/// let auth = JwtAuth::builder()
///     .claims::<MyClaims>()
///     .key(VerificationKey::hmac(b"a-32-byte-long-secret-for-hs256!").algorithms([Algorithm::HS256]))
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
    /// A typed setting that [`claims`](Self::claims) found already set for another claims type:
    /// `build()` refuses the configuration rather than lose it.
    lost_to_claims: Option<&'static str>,
}

/// Every setting that does not depend on the claims type, each written once here (the builder's
/// setters fill it, `build()` checks and consumes it).
struct Settings {
    keys: Vec<VerificationKey>,
    resolver: Option<Arc<dyn KeyResolver>>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    any_audience: bool,
    require_exp: bool,
    leeway: Duration,
    max_token_lifetime: Option<Duration>,
    max_token_len: usize,
    min_hmac_secret_len: usize,
    mode: AuthMode,
    timeout: Duration,
    events: EventNames,
    allow_query_token: bool,
    user_room_prefix: Option<String>,
    max_pending: usize,
    max_pending_per_address: Option<usize>,
    max_pending_per_session: usize,
    max_auth_attempts_per_minute: u32,
    failed_auth_limit: Option<FailedAuthLimit>,
    client_ip: Option<ClientIpFn>,
    revocations: Option<RevocationList>,
    token_cookie: Option<String>,
    expiry_warning: Option<Duration>,
    max_sockets_per_user: Option<usize>,
    user_sockets: Option<UserSockets>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            resolver: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            any_audience: false,
            require_exp: true,
            leeway: Duration::ZERO,
            max_token_lifetime: None,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            min_hmac_secret_len: DEFAULT_MIN_HMAC_SECRET_LEN,
            mode: AuthMode::default(),
            timeout: DEFAULT_AUTH_TIMEOUT,
            events: EventNames::default(),
            allow_query_token: false,
            user_room_prefix: None,
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_per_address: None,
            max_pending_per_session: DEFAULT_MAX_PENDING_PER_SESSION,
            max_auth_attempts_per_minute: DEFAULT_MAX_AUTH_ATTEMPTS_PER_MINUTE,
            failed_auth_limit: None,
            client_ip: None,
            revocations: None,
            token_cookie: None,
            expiry_warning: Some(DEFAULT_EXPIRY_WARNING),
            max_sockets_per_user: None,
            user_sockets: None,
        }
    }
}

impl<C> fmt::Debug for JwtAuthBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthBuilder")
            .field("keys", &self.settings.keys)
            .field("mode", &self.settings.mode)
            .finish_non_exhaustive()
    }
}

impl JwtAuthBuilder<StandardClaims> {
    fn new() -> Self {
        Self {
            settings: Settings::default(),
            check: None,
            rooms: None,
            lost_to_claims: None,
        }
    }
}

impl<C> JwtAuthBuilder<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Sets the claims type the token is deserialized into (a token whose claims do not fit is
    /// refused with `invalid_token`). Call it before [`check`](Self::check) and
    /// [`rooms_from_claims`](Self::rooms_from_claims), which are written for a claims type:
    /// set before it, they would not fit the new type, and `build()` refuses the configuration
    /// ([`ConfigError::ClaimsAfterTypedSetting`]) instead of dropping them.
    pub fn claims<T: DeserializeOwned + Send + Sync + 'static>(self) -> JwtAuthBuilder<T> {
        let lost = match (&self.check, &self.rooms) {
            (Some(_), _) => Some("check"),
            (None, Some(_)) => Some("rooms_from_claims"),
            (None, None) => self.lost_to_claims,
        };
        JwtAuthBuilder {
            settings: self.settings,
            check: None,
            rooms: None,
            lost_to_claims: lost,
        }
    }

    /// Adds a verification key. Several keys are selected by the token's `kid`.
    pub fn key(mut self, key: VerificationKey) -> Self {
        self.settings.keys.push(key);
        self
    }

    /// Shorthand for `key(VerificationKey::hmac(secret))`: HS256 with a shared secret.
    pub fn hmac_secret(self, secret: impl AsRef<[u8]>) -> Self {
        self.key(VerificationKey::hmac(secret))
    }

    /// Resolves keys asynchronously from the token header (JWKS, database, ...), instead of
    /// static keys. Multiple calls override.
    pub fn key_resolver(mut self, resolver: impl KeyResolver) -> Self {
        self.settings.resolver = Some(Arc::new(resolver));
        self
    }

    /// Requires `iss` to be present and equal to `issuer`. Multiple calls override.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuers = vec![issuer.into()];
        self
    }

    /// Requires `aud` to be present and to contain `audience`. Multiple calls override.
    ///
    /// Without an audience, a token that carries `aud` is refused (`invalid_token`): it was
    /// minted for someone else (RFC 8725 §3.9). Keys from a resolver (JWKS, OIDC) need an
    /// audience, or [`insecure_any_audience`](Self::insecure_any_audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.settings.audiences = vec![audience.into()];
        self
    }

    /// Accepts tokens whatever their `aud` says, and tokens without one.
    ///
    /// <div class="warning">An identity provider signs the tokens of all its clients with the
    /// same keys: with this, a token it issued for another application (another API, a
    /// partner's app) authenticates here. Set an <code>audience</code> instead wherever the
    /// issuer puts one in its tokens.</div>
    pub fn insecure_any_audience(mut self) -> Self {
        self.settings.any_audience = true;
        self
    }

    /// Refuses tokens that live longer than `max`: whose `exp` is more than `max` ahead (beyond
    /// the `iat` skew allowance), or whose `exp - iat` exceeds it, and tokens without `exp`.
    /// Off by default: long-lived tokens (service keys, some providers' anonymous keys) are
    /// accepted, and their expiry is enforced however far it lies.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
    ///     .max_token_lifetime(Duration::from_secs(24 * 3600))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn max_token_lifetime(mut self, max: Duration) -> Self {
        self.settings.max_token_lifetime = Some(max);
        self
    }

    /// Clock-skew leeway applied to `exp` (at authentication and while connected) and `nbf`,
    /// to the sub-second. At most a day (`build()` refuses more). Defaults to 0.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.settings.leeway = leeway;
        self
    }

    /// Tokens longer than this (in bytes) are refused before any parsing. Defaults to 8 KiB.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.settings.max_token_len = len;
        self
    }

    /// Minimum HMAC secret length in bytes. Defaults to 32.
    pub fn min_hmac_secret_len(mut self, len: usize) -> Self {
        self.settings.min_hmac_secret_len = len;
        self
    }

    /// Accepts tokens without `exp`. Such a socket stays authenticated until it disconnects.
    ///
    /// <div class="warning">A token without expiry is valid forever once leaked.</div>
    pub fn insecure_allow_missing_exp(mut self) -> Self {
        self.settings.require_exp = false;
        self
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
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
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

    /// At most this many sockets may be pending (connected, not yet authenticated) at once;
    /// beyond, new connections are refused at once with the `connect_error` message
    /// `server_busy`, and authenticated sockets are unaffected. Defaults to 10 000.
    pub fn max_pending(mut self, max: usize) -> Self {
        self.settings.max_pending = max;
        self
    }

    /// At most this many pending sockets per client address (an IPv6 address counts by its
    /// /64); beyond, that address's new connections get `server_busy` while everyone else's
    /// still get in. The address is [`client_ip`](Self::client_ip)'s, else the peer address
    /// axum's `ConnectInfo<SocketAddr>` gives (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`); with neither, only
    /// `max_pending` applies. Defaults to 1 % of `max_pending`, at least 10 (100 of 10 000).
    pub fn max_pending_per_address(mut self, max: usize) -> Self {
        self.settings.max_pending_per_address = Some(max);
        self
    }

    /// At most this many pending sockets per engine.io session (one connection, which can
    /// CONNECT to many namespaces, dynamic ones included, before authenticating); one more is
    /// refused with `server_busy`. Defaults to 8.
    pub fn max_pending_per_session(mut self, max: usize) -> Self {
        self.settings.max_pending_per_session = max;
        self
    }

    /// At most this many `authenticate` events per socket per minute (first authentication and
    /// refreshes); one more refuses the socket with `forbidden`. Defaults to 10.
    pub fn max_auth_attempts_per_minute(mut self, max: u32) -> Self {
        self.settings.max_auth_attempts_per_minute = max;
        self
    }

    /// Refuses new connections from an IP that failed to authenticate too often (needs
    /// [`client_ip`](Self::client_ip)). Off by default.
    pub fn failed_auth_limit(mut self, limit: FailedAuthLimit) -> Self {
        self.settings.failed_auth_limit = Some(limit);
        self
    }

    /// How to find the client's IP in the connection request, for
    /// [`failed_auth_limit`](Self::failed_auth_limit) and logs. Behind a proxy, read the header
    /// the proxy sets (and only trust it from the proxy).
    ///
    /// # Example
    /// ```
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// let builder = socketioxide_jwt::JwtAuth::builder().client_ip(|parts| {
    ///     parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip())
    /// });
    /// # let _ = builder;
    /// ```
    pub fn client_ip<F>(mut self, find: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Option<std::net::IpAddr> + Send + Sync + 'static,
    {
        self.settings.client_ip = Some(Arc::new(find));
        self
    }

    /// Refuses revoked tokens (`revoked`) and disconnects sockets whose token gets revoked while
    /// connected. Multiple calls override.
    pub fn revocations(mut self, list: RevocationList) -> Self {
        self.settings.revocations = Some(list);
        self
    }

    /// REST (feature `axum`): also read the token from this cookie when a request has no
    /// `Authorization` header. Off by default.
    ///
    /// A request that carries the cookie twice is refused (`credentials_bad_format`): a sibling
    /// subdomain can add a cookie of the same name for the parent domain. Prefer a `__Host-`
    /// name (e.g. `__Host-token`, set `Secure`, `Path=/`, no `Domain`), which only this host can
    /// set.
    ///
    /// <div class="warning">A cookie is sent by the browser on cross-site requests too: protect
    /// state-changing routes against CSRF (a `SameSite=Strict` cookie, or a header check).</div>
    #[cfg(feature = "axum")]
    pub fn token_cookie(mut self, name: impl Into<String>) -> Self {
        self.settings.token_cookie = Some(name.into());
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
    /// use std::time::Duration;
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
    ///     .expiry_warning(Some(Duration::from_secs(30)))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn expiry_warning(mut self, before_exp: Option<Duration>) -> Self {
        self.settings.expiry_warning = before_exp;
        self
    }

    /// A user (`sub`) holds at most `max` authenticated sockets at once (across the namespaces of
    /// this configuration). One more is refused with `forbidden` and a message saying why (as
    /// `unauthorized` in message mode, as the `connect_error` in handshake mode); the user's
    /// other sockets and every other user are unaffected, and a place frees when one of the
    /// user's sockets closes. Tokens without `sub` are not counted. Counted in this process unless
    /// [`user_sockets`](Self::user_sockets) says otherwise. Off by default.
    ///
    /// # Example
    /// ```
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
    ///     .max_sockets_per_user(5)
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn max_sockets_per_user(mut self, max: usize) -> Self {
        self.settings.max_sockets_per_user = Some(max);
        self
    }

    /// Where [`max_sockets_per_user`](Self::max_sockets_per_user) counts:
    /// [`UserSockets::in_memory`] (the default) or, across processes,
    /// [`UserSockets::redis`](crate::limits::UserSockets) (feature `redis`).
    pub fn user_sockets(mut self, sockets: UserSockets) -> Self {
        self.settings.user_sockets = Some(sockets);
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
    /// #[derive(serde::Deserialize)]
    /// struct MyClaims { sub: String, #[serde(default)] rooms: Vec<String> }
    ///
    /// let auth = socketioxide_jwt::JwtAuth::builder()
    ///     .hmac_secret(b"a-32-byte-long-secret-for-hs256!")
    ///     .claims::<MyClaims>()
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

    /// Verifies with an OIDC provider's keys and requires its issuer (feature `jwks`). An
    /// [`audience`](Self::audience) is required too: the provider signs the tokens of all its
    /// clients with the same keys.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::{jwks::{JwksOptions, OidcProvider}, JwtAuth};
    /// let keycloak = OidcProvider::discover("https://sso.example.com/realms/chat", JwksOptions::default()).await?;
    /// let auth = JwtAuth::builder().oidc(keycloak).audience("chat").build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    #[cfg(feature = "jwks")]
    pub fn oidc(self, provider: crate::jwks::OidcProvider) -> Self {
        self.key_resolver(provider.jwks).issuer(provider.issuer)
    }

    /// Checks every setting and builds the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first setting that is wrong.
    pub fn build(self) -> Result<JwtAuth<C>, ConfigError> {
        let Self {
            settings: s,
            check,
            rooms,
            lost_to_claims,
        } = self;
        if let Some(setting) = lost_to_claims {
            return Err(ConfigError::ClaimsAfterTypedSetting(setting));
        }
        ensure_crypto_backend()?;
        let keys = match (s.resolver, s.keys.is_empty()) {
            (Some(_), false) => return Err(ConfigError::KeysAndResolver),
            (Some(resolver), true) => KeySource::Resolver(resolver),
            (None, true) => return Err(ConfigError::NoKey),
            (None, false) => {
                let mut set = StaticKeys::default();
                for key in s.keys {
                    key.validate(s.min_hmac_secret_len)?;
                    set.insert(key)?;
                }
                debug_assert!(!set.is_empty());
                KeySource::Static(set)
            }
        };
        if s.issuers.iter().chain(&s.audiences).any(String::is_empty) {
            return Err(ConfigError::EmptyIssuerOrAudience);
        }
        let audience = match (s.audiences.is_empty(), s.any_audience) {
            (false, true) => return Err(ConfigError::AudienceAndAnyAudience),
            (false, false) => AudiencePolicy::OneOf(s.audiences),
            (true, true) => AudiencePolicy::Any,
            (true, false) if matches!(keys, KeySource::Resolver(_)) => {
                return Err(ConfigError::ResolverWithoutAudience)
            }
            (true, false) => AudiencePolicy::NoneExpected,
        };
        if s.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge(s.leeway));
        }
        if s.max_token_lifetime.is_some_and(|max| max.is_zero()) {
            return Err(ConfigError::Zero("max_token_lifetime"));
        }
        if s.max_token_len == 0 {
            return Err(ConfigError::Zero("max_token_len"));
        }
        if s.timeout.is_zero() {
            return Err(ConfigError::Zero("timeout"));
        }
        check_event_names(&s.events)?;
        if s.max_pending == 0 {
            return Err(ConfigError::Zero("max_pending"));
        }
        if s.max_pending_per_address == Some(0) {
            return Err(ConfigError::Zero("max_pending_per_address"));
        }
        if s.max_pending_per_session == 0 {
            return Err(ConfigError::Zero("max_pending_per_session"));
        }
        let max_pending_per_address = s.max_pending_per_address.unwrap_or_else(|| {
            (s.max_pending * DEFAULT_PENDING_SHARE_PERCENT / 100).max(MIN_PENDING_PER_ADDRESS)
        });
        if s.max_auth_attempts_per_minute == 0 {
            return Err(ConfigError::Zero("max_auth_attempts_per_minute"));
        }
        if s.max_sockets_per_user == Some(0) {
            return Err(ConfigError::Zero("max_sockets_per_user"));
        }
        if s.expiry_warning.is_some_and(|w| w.is_zero()) {
            return Err(ConfigError::Zero(
                "expiry_warning (use None to turn it off)",
            ));
        }
        if s.user_sockets.is_some() && s.max_sockets_per_user.is_none() {
            return Err(ConfigError::UserSocketsWithoutMax);
        }
        if let Some(limit) = &s.failed_auth_limit {
            if s.client_ip.is_none() {
                return Err(ConfigError::FailedAuthLimitNeedsClientIp);
            }
            if limit.max_failures == 0 || limit.window.is_zero() || limit.cooldown.is_zero() {
                return Err(ConfigError::Zero("failed_auth_limit"));
            }
        }

        let rules = ClaimRules {
            issuers: s.issuers,
            audience,
            require_exp: s.require_exp,
            leeway: s.leeway,
            max_token_lifetime: s.max_token_lifetime,
        };
        let verifier = Verifier::new(keys, &rules, s.max_token_len, s.revocations, check);
        Ok(JwtAuth {
            inner: Arc::new(Inner {
                verifier,
                rooms,
                gate: GateSettings {
                    leeway: rules.leeway,
                    expiry_warning: s.expiry_warning,
                    deadlines: Arc::default(),
                    user_cap: s
                        .max_sockets_per_user
                        .map(|max| (max, s.user_sockets.unwrap_or_default())),
                    mode: s.mode,
                    timeout: s.timeout,
                    events: s.events,
                    allow_query_token: s.allow_query_token,
                    user_room_prefix: s.user_room_prefix,
                    max_pending: s.max_pending,
                    max_pending_per_address,
                    max_pending_per_session: s.max_pending_per_session,
                    pending: PendingGauge::default(),
                    max_auth_attempts_per_minute: s.max_auth_attempts_per_minute,
                    failures: s.failed_auth_limit.map(FailureTracker::new),
                    client_ip: s.client_ip,
                    token_cookie: s.token_cookie,
                },
            }),
        })
    }
}

fn check_event_names(names: &EventNames) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for name in names.all() {
        if name.is_empty() || RESERVED_EVENTS.contains(&name.as_str()) || !seen.insert(name) {
            return Err(ConfigError::InvalidEventName(name.clone()));
        }
    }
    Ok(())
}

/// Makes sure jsonwebtoken has a crypto provider, so no decode can panic.
///
/// With exactly one backend feature jsonwebtoken picks it; with both (a workspace that unifies
/// features), this installs aws-lc-rs, the faster one.
pub(crate) fn ensure_crypto_backend() -> Result<(), ConfigError> {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_some() {
        return Ok(());
    }
    #[cfg(feature = "aws-lc-rs")]
    {
        // Another thread may have installed one in between: either way one is there now.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
    CryptoProvider::try_get_default()
        .map(|_| ())
        .ok_or(ConfigError::NoCryptoBackend)
}

#[cfg(test)]
mod tests;
