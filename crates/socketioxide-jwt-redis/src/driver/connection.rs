//! Where Redis is and how to reach it: [`RedisConnection`], the one place a `redis::Client` is
//! made for every Redis user of the crate (the driver, the revocation list, the per-user cap),
//! with TLS and an ACL user, and errors that say what to fix.

use std::path::Path;

use ::redis::{ErrorKind, RedisError};

/// How to reach Redis: a URL (`redis://` or `rediss://` for TLS, with `user:password@` for an
/// ACL user), plus the certificates TLS needs when the system's trust store is not the one.
///
/// RESP3 (which pub/sub needs here) is asked for whatever the URL says.
///
/// # Example
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use socketioxide_jwt_redis::{RedisConnection, RedisDriver};
/// let redis = RedisConnection::new("rediss://chat:s3cret@redis.internal:6380/")
///     .ca_file("/etc/chat/redis-ca.pem")?
///     .client_cert_files("/etc/chat/client.pem", "/etc/chat/client.key")?;
/// let driver = RedisDriver::new(redis.client()?).await?;
/// # let _ = driver; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConnection {
    pub(super) url: String,
    pub(super) ca: Option<Vec<u8>>,
    pub(super) client_cert: Option<(Vec<u8>, Vec<u8>)>,
    /// The master's name and the Sentinels' `host:port`, when Sentinel finds the master.
    pub(super) sentinel: Option<(String, Vec<String>)>,
    /// Nodes (`host:port`) of a Redis Cluster to start from.
    pub(super) cluster: Option<Vec<String>>,
}

/// What this connects to, for a start-up log: the server, the Sentinels and the master's name,
/// or the Cluster's seed nodes; the URL's password redacted.
///
/// # Example
/// ```
/// use socketioxide_jwt_redis::RedisConnection;
/// let redis = RedisConnection::new("rediss://chat:s3cret@ignored/").sentinel("main", ["10.0.0.1:26379"]);
/// let shown = redis.to_string();
/// assert!(shown.contains("main") && shown.contains("10.0.0.1:26379") && !shown.contains("s3cret"));
/// ```
impl std::fmt::Display for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // With Sentinel or a Cluster, the URL's host is not used: only how to log in.
        let scheme = self
            .url
            .split_once("://")
            .map_or("redis", |(scheme, _)| scheme);
        let user =
            url_user(&self.url).map_or_else(|| "no user".to_owned(), |u| format!("user {u}"));
        match (&self.sentinel, &self.cluster) {
            (Some((master, sentinels)), _) => {
                let sentinels: Vec<String> = sentinels.iter().map(|s| redacted(s)).collect();
                write!(
                    f,
                    "the master `{master}` named by the Sentinels {} ({scheme}, {user})",
                    sentinels.join(", ")
                )
            }
            (None, Some(nodes)) => {
                let nodes: Vec<String> = nodes.iter().map(|n| redacted(n)).collect();
                write!(f, "the Cluster of {} ({scheme}, {user})", nodes.join(", "))
            }
            (None, None) => write!(f, "{}", redacted(&self.url)),
        }
    }
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("url", &redacted(&self.url))
            .field("ca", &self.ca.is_some())
            .field("client_cert", &self.client_cert.is_some())
            .field(
                "sentinel",
                &self.sentinel.as_ref().map(|(master, sentinels)| {
                    (
                        master,
                        sentinels.iter().map(|s| redacted(s)).collect::<Vec<_>>(),
                    )
                }),
            )
            .field(
                "cluster",
                &self
                    .cluster
                    .as_ref()
                    .map(|nodes| nodes.iter().map(|n| redacted(n)).collect::<Vec<_>>()),
            )
            .finish()
    }
}

/// Why a Redis connection could not be set up, in words a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConnectionError {
    /// The URL does not parse.
    #[error("bad Redis URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Certificates were given for a `redis://` URL: TLS needs `rediss://`.
    #[error("TLS certificates were given but the URL is {url}: use rediss:// for TLS")]
    CertificatesWithoutTls {
        /// The URL, password hidden.
        url: String,
    },
    /// Both Sentinels and Cluster nodes were given.
    #[error("both Sentinels and Redis Cluster nodes were given: a Redis is one or the other")]
    SentinelAndCluster,
    /// The TLS material is not usable (not PEM, key and certificate that do not match, ...).
    #[error("the TLS configuration is not usable: {0}")]
    Tls(String),
}

impl RedisConnection {
    /// Redis at `url`: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca: None,
            client_cert: None,
            sentinel: None,
            cluster: None,
        }
    }

    /// A Redis Cluster reached through any of these nodes (`host:port` each; the others are
    /// found from them, and followed through resharding and failovers). The URL then gives the
    /// user, password and scheme (`rediss://` for TLS); its host is not used.
    ///
    /// On a Cluster, broadcasts go over sharded pub/sub (`SPUBLISH`, each channel served by the
    /// shard that owns its slot), and each store (revocations, the per-user cap) keeps its keys
    /// under one hash tag, so that its scripts and pipelines stay on one shard.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt_redis::RedisConnection;
    /// let redis = RedisConnection::new("redis://chat:s3cret@cluster/")
    ///     .cluster(["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"]);
    /// assert!(redis.is_cluster());
    /// ```
    #[must_use]
    pub fn cluster(mut self, nodes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cluster = Some(nodes.into_iter().map(Into::into).collect());
        self
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// Finds the master named `master` through these Sentinels (`host:port` each), and follows
    /// it through failovers: [`RedisDriver::connect`](super::RedisDriver::connect) asks them
    /// again whenever the link has to be rebuilt. The URL then gives the user, password,
    /// database and scheme for the data nodes; its host is not used.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt_redis::RedisConnection;
    /// let redis = RedisConnection::new("redis://chat:s3cret@sentinel-managed/")
    ///     .sentinel("mymaster", ["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"]);
    /// assert!(redis.is_sentinel());
    /// ```
    #[must_use]
    pub fn sentinel(
        mut self,
        master: impl Into<String>,
        sentinels: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.sentinel = Some((
            master.into(),
            sentinels.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Whether Sentinel finds the master.
    pub fn is_sentinel(&self) -> bool {
        self.sentinel.is_some()
    }

    /// Trusts the CA in this PEM (the server's certificate must chain to it) instead of the
    /// system's trust store.
    #[must_use]
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(pem.into());
        self
    }

    /// [`ca_pem`](Self::ca_pem) from a file.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<Self, RedisConnectionError> {
        let pem = read(path.as_ref())?;
        Ok(self.ca_pem(pem))
    }

    /// Presents this client certificate and key (PEM) to a server that asks for one (mutual
    /// TLS, `tls-auth-clients yes`).
    #[must_use]
    pub fn client_cert_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client_cert = Some((cert.into(), key.into()));
        self
    }

    /// [`client_cert_pem`](Self::client_cert_pem) from files.
    ///
    /// # Errors
    /// When a file cannot be read.
    pub fn client_cert_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, RedisConnectionError> {
        let (cert, key) = (read(cert.as_ref())?, read(key.as_ref())?);
        Ok(self.client_cert_pem(cert, key))
    }

    /// The URL, its password hidden: for logs and errors.
    pub fn url_redacted(&self) -> String {
        redacted(&self.url)
    }

    /// Whether the connection uses TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.url.starts_with("rediss://")
    }
}

impl RedisConnection {
    /// Says what to fix when Redis refuses this connection or cannot be reached: `e` is any
    /// error of the crate's Redis users (the driver's, the revocation list's), or redis-rs's.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt_redis::RedisConnection;
    /// let redis = RedisConnection::new("rediss://chat:s3cret@127.0.0.1:1/");
    /// let refused = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    /// let text = redis.explain(&refused);
    /// assert!(text.contains("tls-port") && !text.contains("s3cret"));
    /// ```
    pub fn explain(&self, e: &(dyn std::error::Error + 'static)) -> String {
        let target = self;
        let url = target.url_redacted();
        let mut cause = Some(e);
        let redis = std::iter::from_fn(|| {
            let current = cause?;
            cause = current.source();
            Some(current)
        })
        .find_map(|e| match e.downcast_ref::<super::RedisDriverError>() {
            // Transparent: its `source()` skips the Redis error it wraps.
            Some(super::RedisDriverError::Redis(e)) => Some(e),
            _ => e.downcast_ref::<RedisError>(),
        });
        let Some(e) = redis else {
            return format!("Redis at {url}: {e}");
        };
        let text = e.to_string();
        let lower = text.to_ascii_lowercase();
        match (e.kind(), e.code()) {
        (ErrorKind::AuthenticationFailed, _) | (_, Some("WRONGPASS" | "NOAUTH")) => format!(
            "Redis at {url} refused the user or password: check the user:password@ in the URL ({text})"
        ),
        (_, Some("NOPERM")) => format!(
            "the Redis user of {url} lacks a permission: see docs/OPERATING.md for the ACL it needs ({text})"
        ),
        (ErrorKind::RESP3NotSupported, _) => {
            format!("Redis at {url} does not speak RESP3: Redis 6 or later is needed ({text})")
        }
        _ if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") => {
            format!(
                "the TLS handshake with {url} failed: is the server's certificate signed by the CA given (--redis-ca), for the host name in the URL, and is a client certificate needed (--redis-cert, --redis-key)? ({text})"
            )
        }
        _ if e.is_connection_refusal() => {
            if target.is_tls() {
                format!("nothing answers TLS at {url}: is that the TLS port (tls-port)? ({text})")
            } else {
                format!("nothing answers at {url} ({text})")
            }
        }
        _ if e.is_io_error() && !target.is_tls() => format!(
            "the connection to {url} failed: if that server takes TLS only, use rediss:// ({text})"
        ),
        _ => format!("Redis at {url}: {text}"),
    }
    }
}

/// rustls needs one crypto provider for the process; the crate brings aws-lc-rs. An application
/// that installed its own keeps it.
fn read(path: &Path) -> Result<Vec<u8>, RedisConnectionError> {
    std::fs::read(path).map_err(|source| RedisConnectionError::File {
        path: path.display().to_string(),
        source,
    })
}

/// The user a URL logs in as, if it names one.
fn url_user(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    (!parsed.username().is_empty()).then(|| parsed.username().to_owned())
}

/// The URL with its password, and a `pass` or `password` query parameter (redis-rs reads them
/// from `redis+unix://` URLs), replaced by `***`. A `host:port` without a scheme is shown as
/// given, redacted the same way. One that does not parse is not shown at all (its password
/// could be anywhere in it): only its scheme.
pub(super) fn redacted(url: &str) -> String {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    let full = match scheme {
        Some(_) => url.to_owned(),
        None => format!("redis://{url}"),
    };
    let Ok(mut parsed) = url::Url::parse(&full) else {
        return format!(
            "<a {}:// URL that does not parse>",
            scheme.unwrap_or("redis")
        );
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let secret =
        |name: &str| name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password");
    if parsed.query_pairs().any(|(name, _)| secret(&name)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret(&name) {
                    "***".into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let shown = parsed.to_string();
    match scheme {
        Some(_) => shown,
        None => shown.trim_start_matches("redis://").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redacted("rediss://chat:s3cret@redis:6380/0"),
            "rediss://chat:***@redis:6380/0"
        );
        assert_eq!(redacted("redis://:s3cret@redis/"), "redis://:***@redis/");
        assert_eq!(redacted("redis://redis:6379"), "redis://redis:6379");
        assert_eq!(
            redacted("redis://chat:ab%2Fcd@redis:6379/?protocol=resp3"),
            "redis://chat:***@redis:6379/?protocol=resp3"
        );
        // A password that breaks the URL: nothing of it shown.
        for broken in [
            "redis://chat:ab/cd@redis:6379/",
            "redis://chat:pa?ss@redis:6379/",
        ] {
            let shown = redacted(broken);
            assert!(!shown.contains("cd@") && !shown.contains("ss@"), "{shown}");
        }
        assert_eq!(
            redacted("redis+unix:///run/redis.sock?user=chat&pass=s3cret"),
            "redis+unix:///run/redis.sock?user=chat&pass=***"
        );
        assert_eq!(redacted(":s3cret@10.0.0.1:26379"), ":***@10.0.0.1:26379");
        assert_eq!(redacted("10.0.0.2:26379"), "10.0.0.2:26379");
        let c = RedisConnection::new("rediss://chat:s3cret@redis:6380/");
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = RedisConnection::new("redis://redis/").sentinel(
            "m",
            ["redis://:sentinel-s3cret@10.0.0.1:26379", "10.0.0.2:26379"],
        );
        assert!(!format!("{c:?}").contains("sentinel-s3cret"));
        let c = c.clone().cluster(["10.0.0.1:6379"]);
        assert!(c.is_sentinel() && c.is_cluster());
    }

    #[test]
    fn certificates_need_rediss() {
        let c = RedisConnection::new("redis://127.0.0.1:6379/").ca_pem(b"x".to_vec());
        assert!(matches!(
            c.client(),
            Err(RedisConnectionError::CertificatesWithoutTls { .. })
        ));
        assert!(matches!(
            RedisConnection::new("nonsense").client(),
            Err(RedisConnectionError::InvalidUrl { .. })
        ));
    }
}
