//! How much one client, one address or one user may hold: pending places, attempts, failures,
//! sockets per user.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::JwtAuthBuilder;
use crate::limits::FailedAuthLimit;
use crate::user_sockets::UserSockets;

impl<C> JwtAuthBuilder<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
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

    /// At most this many guests at once, over every namespace of this configuration that
    /// admits them ([`OnAuthenticated::or_guest`](crate::handler::OnAuthenticated::or_guest)):
    /// places of their own, so that guests never take the pending places of sockets about to
    /// authenticate, nor the other way round. Beyond, a new socket waits for `authenticate` as
    /// a pending socket does (message and either mode), or gets `server_busy` (a handshake-mode
    /// handshake without a token). Defaults to 10 000.
    pub fn max_guests(mut self, max: usize) -> Self {
        self.settings.max_guests = max;
        self
    }

    /// At most this many guests per client address (an IPv6 address by its /64), found as for
    /// [`max_pending_per_address`](Self::max_pending_per_address). Defaults to 1 % of
    /// `max_guests`, at least 10.
    pub fn max_guests_per_address(mut self, max: usize) -> Self {
        self.settings.max_guests_per_address = Some(max);
        self
    }

    /// At most this many `authenticate` events per socket per minute (first authentication and
    /// refreshes); one more refuses the socket with `forbidden`. Defaults to 10.
    pub fn max_auth_attempts_per_minute(mut self, max: u32) -> Self {
        self.settings.max_auth_attempts_per_minute = max;
        self
    }

    /// Refuses new connections from an IP that failed to authenticate too often, the IP found
    /// by `client_ip` in the connection request (as [`client_ip`](Self::client_ip) sets it).
    /// Off by default.
    ///
    /// # Example
    /// ```
    /// use std::{net::SocketAddr, time::Duration};
    /// use axum::extract::ConnectInfo;
    /// use socketioxide_jwt::{keys::Keys, limits::FailedAuthLimit, JwtAuth};
    /// let limit = FailedAuthLimit::new(5, Duration::from_secs(60), Duration::from_secs(300));
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .failed_auth_limit(limit, |parts| {
    ///         parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip())
    ///     })
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn failed_auth_limit<F>(mut self, limit: FailedAuthLimit, client_ip: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Option<std::net::IpAddr> + Send + Sync + 'static,
    {
        self.settings.failed_auth_limit = Some(limit);
        self.client_ip(client_ip)
    }

    /// How to find the client's IP in the connection request, for the per-address limits and
    /// logs (and [`failed_auth_limit`](Self::failed_auth_limit), which sets it too). Behind a proxy, read the header
    /// the proxy sets (and only trust it from the proxy).
    ///
    /// # Example
    /// ```
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// use socketioxide_jwt::{keys::Keys, JwtAuth};
    /// let builder = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .client_ip(|parts| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip()));
    /// # let _ = builder;
    /// ```
    pub fn client_ip<F>(mut self, find: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Option<std::net::IpAddr> + Send + Sync + 'static,
    {
        self.settings.client_ip = Some(Arc::new(find));
        self
    }

    /// A user holds at most `max` authenticated sockets at once (across the namespaces of this
    /// configuration), counted in `sockets`: [`UserSockets::in_memory`] (this process) or, across
    /// processes, a shared store (`socketioxide-jwt-redis`'s `RedisDriver::user_sockets`). One
    /// more is refused with `forbidden` and a message saying why (as `unauthorized` in message
    /// mode, as the `connect_error` in handshake mode); the user's other sockets and every other
    /// user are unaffected, and a place frees when one of the user's sockets closes. Tokens
    /// without a user are not counted. Off by default.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::{keys::Keys, limits::UserSockets, JwtAuth};
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
    ///     .max_sockets_per_user(5, UserSockets::in_memory())
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn max_sockets_per_user(mut self, max: usize, sockets: UserSockets) -> Self {
        self.settings.user_cap = Some((max, sockets));
        self
    }
}
