//! What a [`RedisConnection`] becomes in redis-rs: a `Client` for one server, a Sentinel client
//! that names the master, or a Cluster client's builder, each with RESP3, the URL's credentials
//! and the TLS material.

use ::redis::{ErrorKind, IntoConnectionInfo, ProtocolVersion, RedisError};

use super::connection::{redacted, RedisConnection, RedisConnectionError};

impl RedisConnection {
    /// The `redis::Client` every Redis user of the crate takes.
    ///
    /// # Errors
    /// A bad URL, certificates for a `redis://` URL, unusable TLS material.
    pub fn client(&self) -> Result<::redis::Client, RedisConnectionError> {
        let invalid = |e: RedisError| RedisConnectionError::InvalidUrl {
            url: self.url_redacted(),
            reason: e.to_string(),
        };
        let mut info = self.url.as_str().into_connection_info().map_err(invalid)?;
        let redis = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        info = info.set_redis_settings(redis);
        if self.ca.is_none() && self.client_cert.is_none() {
            return ::redis::Client::open(info).map_err(|e| self.tls_error(e));
        }
        if !self.is_tls() {
            return Err(RedisConnectionError::CertificatesWithoutTls {
                url: self.url_redacted(),
            });
        }
        install_crypto_provider();
        ::redis::Client::build_with_tls(info, self.certificates()).map_err(|e| self.tls_error(e))
    }

    fn tls_error(&self, e: RedisError) -> RedisConnectionError {
        match e.kind() {
            ErrorKind::InvalidClientConfig => RedisConnectionError::Tls(e.to_string()),
            _ => RedisConnectionError::InvalidUrl {
                url: self.url_redacted(),
                reason: e.to_string(),
            },
        }
    }

    /// The Cluster client's builder (RESP3, the URL's credentials and TLS material); the driver
    /// adds its push sender and timeouts.
    pub(crate) fn cluster_builder(
        &self,
    ) -> Result<::redis::cluster::ClusterClientBuilder, RedisConnectionError> {
        let nodes = self.cluster.as_deref().unwrap_or_default();
        let info = self.url.as_str().into_connection_info().map_err(|e| {
            RedisConnectionError::InvalidUrl {
                url: self.url_redacted(),
                reason: e.to_string(),
            }
        })?;
        let scheme = if self.is_tls() { "rediss" } else { "redis" };
        let urls: Vec<String> = nodes
            .iter()
            .map(|node| format!("{scheme}://{node}/"))
            .collect();
        let mut builder =
            ::redis::cluster::ClusterClientBuilder::new(urls).use_protocol(ProtocolVersion::RESP3);
        let settings = info.redis_settings();
        if let Some(user) = settings.username() {
            builder = builder.username(user);
        }
        if let Some(password) = settings.password() {
            builder = builder.password(password);
        }
        if self.ca.is_some() || self.client_cert.is_some() {
            if !self.is_tls() {
                return Err(RedisConnectionError::CertificatesWithoutTls {
                    url: self.url_redacted(),
                });
            }
            install_crypto_provider();
            builder = builder.certs(self.certificates());
        } else if self.is_tls() {
            install_crypto_provider();
        }
        Ok(builder)
    }

    fn certificates(&self) -> ::redis::TlsCertificates {
        ::redis::TlsCertificates {
            client_tls: self.client_cert.clone().map(|(client_cert, client_key)| {
                ::redis::ClientTlsConfig {
                    client_cert,
                    client_key,
                }
            }),
            root_cert: self.ca.clone(),
        }
    }

    /// The Sentinel client that names the master, when Sentinels are configured.
    ///
    /// The data nodes take the URL's scheme, user, password, database and TLS material. The
    /// Sentinels are reached the same way (TLS with the same CA and client certificate for a
    /// `rediss://` URL), without a password; a Sentinel given as a URL
    /// (`redis://host:port`, `rediss://host:port`) says its own scheme.
    /// The Sentinels' addresses, and the user and password a Sentinel given as a URL carries
    /// for the Sentinels themselves.
    fn sentinel_addresses(
        &self,
        sentinels: &[String],
    ) -> Result<(Vec<::redis::ConnectionAddr>, SentinelAuth), RedisConnectionError> {
        let scheme = if self.is_tls() { "rediss" } else { "redis" };
        let mut sentinel_auth = None;
        let mut addresses = Vec::with_capacity(sentinels.len());
        for address in sentinels {
            let url = if address.contains("://") {
                address.clone()
            } else {
                format!("{scheme}://{address}/")
            };
            let sentinel = url.as_str().into_connection_info().map_err(|e| {
                RedisConnectionError::InvalidUrl {
                    url: self.url_redacted(),
                    reason: format!("Sentinel {}: {e}", redacted(address)),
                }
            })?;
            let settings = sentinel.redis_settings();
            if let Some(password) = settings.password() {
                sentinel_auth = Some((settings.username().map(str::to_owned), password.to_owned()));
            }
            addresses.push(sentinel.addr().clone());
        }
        Ok((addresses, sentinel_auth))
    }

    pub(crate) fn sentinel_client(
        &self,
    ) -> Result<Option<::redis::sentinel::SentinelClient>, RedisConnectionError> {
        use ::redis::sentinel::{SentinelClientBuilder, SentinelServerType};
        let Some((master, sentinels)) = &self.sentinel else {
            return Ok(None);
        };
        let invalid = |reason: String| RedisConnectionError::InvalidUrl {
            url: self.url_redacted(),
            reason,
        };
        let info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| invalid(e.to_string()))?;
        let (addresses, sentinel_auth) = self.sentinel_addresses(sentinels)?;
        let settings = info.redis_settings();
        let mut builder =
            SentinelClientBuilder::new(addresses.clone(), master, SentinelServerType::Master)
                .map_err(|e| invalid(format!("Sentinels: {e}")))?
                .set_client_to_redis_protocol(ProtocolVersion::RESP3)
                .set_client_to_redis_db(settings.db());
        if let Some((user, password)) = sentinel_auth {
            if let Some(user) = user {
                builder = builder.set_client_to_sentinel_username(user);
            }
            builder = builder.set_client_to_sentinel_password(password);
        }
        if let Some(user) = settings.username() {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = settings.password() {
            builder = builder.set_client_to_redis_password(password);
        }
        let is_tls =
            |addr: &::redis::ConnectionAddr| matches!(addr, ::redis::ConnectionAddr::TcpTls { .. });
        let sentinels_tls = addresses.iter().all(is_tls);
        if !sentinels_tls && addresses.iter().any(is_tls) {
            return Err(invalid(
                "the Sentinels are reached either all over TLS or none".into(),
            ));
        }
        let certificates = self.ca.is_some() || self.client_cert.is_some();
        if certificates && !self.is_tls() && !sentinels_tls {
            return Err(RedisConnectionError::CertificatesWithoutTls {
                url: self.url_redacted(),
            });
        }
        if self.is_tls() || sentinels_tls {
            install_crypto_provider();
        }
        if self.is_tls() {
            builder = builder.set_client_to_redis_tls_mode(::redis::TlsMode::Secure);
            if certificates {
                builder = builder.set_client_to_redis_certificates(self.certificates());
            }
        }
        if sentinels_tls {
            builder = builder.set_client_to_sentinel_tls_mode(::redis::TlsMode::Secure);
            if certificates {
                builder = builder.set_client_to_sentinel_certificates(self.certificates());
            }
        }
        builder.build().map(Some).map_err(|e| self.tls_error(e))
    }
}

fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// The user (if any) and password a Sentinel URL carries for the Sentinels themselves.
type SentinelAuth = Option<(Option<String>, String)>;
