//! The client's address behind `--trusted-proxy`: what the per-address limits of the REST routes
//! (`/login`, `/backchannel-logout`) key on, as the library's pending places and logs do.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::extract::ConnectInfo;
use governor::middleware::NoOpMiddleware;
use socketioxide_jwt::limits::{address_key, TrustedProxies};
use tower_governor::governor::SharedRateLimiter;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::GovernorError;

/// Addresses one limiter remembers at most; beyond, new addresses share one quota (the key
/// `::`) until the map shrinks back (every 10 s): a client with a whole IPv6 /48 (65 536 /64s)
/// cannot grow it without bound. The addresses already in it keep theirs.
pub const MAX_KEYS: usize = 100_000;

/// The key a client gets when the map is full.
const OVERFLOW: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// A rate limiter's key: the client's address (from a trusted proxy's forwarding header, else
/// the peer), an IPv6 one by its /64; `::` for new clients while the limiter is full.
#[derive(Debug, Clone)]
pub struct ClientKey {
    proxies: Arc<TrustedProxies>,
    /// The limiter this key feeds (set once it exists), for its size.
    limiter: Arc<OnceLock<SharedRateLimiter<IpAddr, NoOpMiddleware>>>,
}

impl ClientKey {
    pub fn new(proxies: Arc<TrustedProxies>) -> Self {
        Self {
            proxies,
            limiter: Arc::default(),
        }
    }

    /// Tells the key which limiter it feeds.
    pub fn feeds(&self, limiter: SharedRateLimiter<IpAddr, NoOpMiddleware>) {
        let _ = self.limiter.set(limiter);
    }
}

impl KeyExtractor for ClientKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .ok_or(GovernorError::UnableToExtractKey)?
            .0
            .ip();
        let full = self.limiter.get().is_some_and(|l| l.len() >= MAX_KEYS);
        Ok(match full {
            true => OVERFLOW,
            false => address_key(self.proxies.client_ip(peer, req.headers())),
        })
    }
}
