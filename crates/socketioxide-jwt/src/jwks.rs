//! Keys from an identity provider: a JWKS from a URL or a file, or found by OIDC discovery.
//!
//! Caching policy (every number configurable in [`JwksOptions`]):
//! - a fetched key set lives for the response's `Cache-Control: max-age`, clamped to
//!   [`min_ttl`, `max_ttl`] (default 5 min … 24 h; 1 h without the header);
//! - it is refreshed in the background before it expires (at 90 % of its life);
//! - a token with an unknown `kid` triggers a refetch at most once per `unknown_kid_cooldown`
//!   (default 60 s), so a flood of random `kid`s costs at most one request a minute;
//! - when the provider fails, the last good key set keeps serving (and `tracing` says so);
//! - responses are bounded (`max_bytes`, default 256 KiB) and so is every request (`timeout`,
//!   default 5 s); keys whose `use`, `kty` or `alg` do not fit a signature key are skipped.
//!
//! A key removed by rotation no longer verifies new tokens; sockets that authenticated with it
//! stay until their token's `exp` (or a refresh), since a socket is not re-verified.

mod error;
mod fetch;
mod key_set;
mod oidc;
mod options;

pub use self::error::JwksError;
#[cfg(feature = "ssf")]
pub(crate) use self::fetch::send_bounded;
pub(crate) use self::fetch::{check_url, http_client};
use self::fetch::{fetch_bounded, read_file};
use self::key_set::parse_key_set;
#[cfg(feature = "ssf")]
pub(crate) use self::oidc::discovery_document;
pub use self::oidc::OidcProvider;
pub use self::options::JwksOptions;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::Header;
use tokio::time::Instant;

use crate::error::AuthError;
use crate::future::BoxFuture;
use crate::keys::{KeyResolver, StaticKeys, VerificationKey};
use crate::protocol::ErrorCode;

#[derive(Debug, Clone)]
enum Source {
    Url(reqwest::Url),
    File(PathBuf),
}

struct Cached {
    keys: Arc<StaticKeys>,
    expires_at: Instant,
}

struct JwksInner {
    source: Source,
    client: reqwest::Client,
    options: JwksOptions,
    cached: RwLock<Cached>,
    fetch_lock: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

/// A key resolver backed by a JWKS, cached and refreshed in the background.
///
/// Give it to [`Keys::resolver`](crate::keys::Keys::resolver) with the audience of your tokens,
/// or use [`TrustedIssuer::oidc`](crate::TrustedIssuer::oidc) with an [`OidcProvider`].
///
/// # Example
/// ```no_run
/// # use socketioxide_jwt::{TrustedIssuer, keys::Keys};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use socketioxide_jwt::{jwks::{Jwks, JwksOptions}, JwtAuth};
/// let jwks = Jwks::from_url("https://example.eu.auth0.com/.well-known/jwks.json", JwksOptions::default()).await?;
/// let auth = JwtAuth::builder(TrustedIssuer::new("https://example.eu.auth0.com/", Keys::resolver(jwks, "https://chat.example.com")))
///     .build()?;
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<JwksInner>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("source", &self.inner.source)
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// Fetches the key set at `url` now (an error if that fails), then keeps it fresh.
    ///
    /// # Errors
    /// A [`JwksError`] if the URL is not acceptable or the first fetch fails.
    pub async fn from_url(url: &str, options: JwksOptions) -> Result<Self, JwksError> {
        Self::start(Source::Url(check_url(url)?), options).await
    }

    /// Reads the key set from a file now, then rereads it (on its TTL and on an unknown `kid`).
    ///
    /// # Errors
    /// A [`JwksError`] if the file cannot be read or holds no usable key.
    pub async fn from_file(
        path: impl Into<PathBuf>,
        options: JwksOptions,
    ) -> Result<Self, JwksError> {
        Self::start(Source::File(path.into()), options).await
    }

    async fn start(source: Source, options: JwksOptions) -> Result<Self, JwksError> {
        if options.min_ttl > options.max_ttl {
            return Err(JwksError::InvalidOptions("min_ttl is longer than max_ttl"));
        }
        let client = http_client(options.timeout)?;
        let inner = Arc::new(JwksInner {
            source,
            client,
            options,
            cached: RwLock::new(Cached {
                keys: Arc::new(StaticKeys::default()),
                expires_at: Instant::now(),
            }),
            fetch_lock: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        });
        inner.refresh().await?;
        tokio::spawn(refresh_in_background(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// How many times the key set was fetched (for metrics and tests).
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// The key ids currently known.
    pub fn key_ids(&self) -> Vec<String> {
        self.inner.current().key_ids()
    }
}

impl JwksInner {
    fn current(&self) -> Arc<StaticKeys> {
        self.cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .clone()
    }

    fn expires_at(&self) -> Instant {
        self.cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .expires_at
    }

    /// Fetches and installs the key set; on failure the previous one stays.
    async fn refresh(&self) -> Result<(), JwksError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = self.fetch().await;
        crate::metrics::jwks_fetch(fetched.is_ok());
        let (keys, max_age) = fetched?;
        let ttl = max_age
            .unwrap_or(self.options.default_ttl)
            .clamp(self.options.min_ttl, self.options.max_ttl);
        tracing::debug!(keys = keys.len(), ?ttl, "JWKS loaded");
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Cached {
            keys: Arc::new(keys),
            // The TTL comes from the provider's `Cache-Control` (clamped by `max_ttl`).
            expires_at: crate::time::deadline_after(Instant::now(), ttl),
        };
        Ok(())
    }

    /// The key set and its `max-age`, from the URL or the file.
    async fn fetch(&self) -> Result<(StaticKeys, Option<Duration>), JwksError> {
        let (bytes, max_age) = match &self.source {
            Source::Url(url) => self.fetch_url(url).await?,
            Source::File(path) => (read_file(path, self.options.max_bytes).await?, None),
        };
        Ok((parse_key_set(&bytes)?, max_age))
    }

    async fn fetch_url(
        &self,
        url: &reqwest::Url,
    ) -> Result<(Vec<u8>, Option<Duration>), JwksError> {
        fetch_bounded(&self.client, url, self.options.max_bytes).await
    }
}

impl KeyResolver for Jwks {
    fn resolve<'a>(
        &'a self,
        header: &'a Header,
    ) -> BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>> {
        Box::pin(async move {
            let kid = header.kid.as_deref();
            if let Some(key) = self.inner.current().select(kid) {
                return Ok(key);
            }
            // Unknown kid: perhaps a rotation. Refetch, at most once per cooldown.
            let mut last = self.inner.fetch_lock.lock().await;
            if let Some(key) = self.inner.current().select(kid) {
                return Ok(key); // fetched meanwhile
            }
            let cooldown = self.inner.options.unknown_kid_cooldown;
            if last.is_none_or(|at| at.elapsed() >= cooldown) {
                *last = Some(Instant::now());
                match self.inner.refresh().await {
                    Ok(()) => {
                        if let Some(key) = self.inner.current().select(kid) {
                            return Ok(key);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "JWKS refetch failed; keeping the last good key set")
                    }
                }
            }
            Err(AuthError::new(ErrorCode::InvalidToken).with_source("unknown kid"))
        })
    }
}

/// Refreshes before expiry; keeps the last good set when the provider fails.
async fn refresh_in_background(inner: Weak<JwksInner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let expires_at = strong.expires_at();
        let now = Instant::now();
        let remaining = expires_at.saturating_duration_since(now);
        // At least a second apart, even when the provider says `no-store` and `min_ttl` is 0.
        let wait = remaining.mul_f32(0.9).max(Duration::from_secs(1));
        let wake = crate::time::deadline_after(now, wait);
        drop(strong);
        tokio::time::sleep_until(wake).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let result = {
            let _guard = strong.fetch_lock.lock().await;
            strong.refresh().await
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "JWKS refresh failed; keeping the last good key set");
            let retry = strong.options.retry_after_failure;
            drop(strong);
            tokio::time::sleep(retry).await;
        }
    }
}

#[cfg(test)]
mod tests;
