//! The client's address behind `--trusted-proxy`: what the per-address limits of the REST routes
//! (`/login`, `/backchannel-logout`) key on, as the library's pending places and logs do.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use socketioxide_jwt::limits::{address_key, TrustedProxies};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::GovernorError;

/// A rate limiter's key: the client's address (from a trusted proxy's `Forwarded` /
/// `X-Forwarded-For`, else the peer), an IPv6 one by its /64.
#[derive(Debug, Clone)]
pub struct ClientKey(pub Arc<TrustedProxies>);

impl KeyExtractor for ClientKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .ok_or(GovernorError::UnableToExtractKey)?
            .0
            .ip();
        Ok(address_key(self.0.client_ip(peer, req.headers())))
    }
}
