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

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Header};
use serde::Deserialize;
use tokio::time::Instant;

use crate::error::AuthError;
use crate::keys::{KeyResolver, StaticKeys, VerificationKey};
use crate::protocol::ErrorCode;
use crate::BoxFuture;

/// Tuning of a [`Jwks`] provider: start from [`JwksOptions::default`] and change what you need.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt::jwks::JwksOptions;
/// let options = JwksOptions::default().timeout(Duration::from_secs(2)).max_bytes(64 * 1024);
/// assert_eq!(options.timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwksOptions {
    /// Shortest cache lifetime, whatever `Cache-Control` says. Defaults to 5 min.
    pub min_ttl: Duration,
    /// Longest cache lifetime. Defaults to 24 h.
    pub max_ttl: Duration,
    /// Lifetime without a `Cache-Control: max-age` (and for files). Defaults to 1 h.
    pub default_ttl: Duration,
    /// At most one refetch per this interval because of an unknown `kid`. Defaults to 60 s.
    pub unknown_kid_cooldown: Duration,
    /// Timeout of each request. Defaults to 5 s.
    pub timeout: Duration,
    /// Largest accepted response. Defaults to 256 KiB.
    pub max_bytes: usize,
    /// Delay before retrying a failed background refresh. Defaults to 30 s.
    pub retry_after_failure: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(300),
            max_ttl: Duration::from_secs(24 * 3600),
            default_ttl: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
            retry_after_failure: Duration::from_secs(30),
        }
    }
}

impl JwksOptions {
    /// Sets [`JwksOptions::min_ttl`]: the shortest cache lifetime, whatever `Cache-Control` says.
    #[must_use]
    pub fn min_ttl(mut self, min_ttl: Duration) -> Self {
        self.min_ttl = min_ttl;
        self
    }

    /// Sets [`JwksOptions::max_ttl`]: the longest cache lifetime.
    #[must_use]
    pub fn max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// Sets [`JwksOptions::default_ttl`]: the lifetime without a `Cache-Control: max-age` (and for files).
    #[must_use]
    pub fn default_ttl(mut self, default_ttl: Duration) -> Self {
        self.default_ttl = default_ttl;
        self
    }

    /// Sets [`JwksOptions::unknown_kid_cooldown`]: at most one refetch per this interval because of an unknown `kid`.
    #[must_use]
    pub fn unknown_kid_cooldown(mut self, unknown_kid_cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = unknown_kid_cooldown;
        self
    }

    /// Sets [`JwksOptions::timeout`]: the timeout of each request.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`JwksOptions::max_bytes`]: the largest accepted response.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets [`JwksOptions::retry_after_failure`]: the delay before retrying a failed background refresh.
    #[must_use]
    pub fn retry_after_failure(mut self, retry_after_failure: Duration) -> Self {
        self.retry_after_failure = retry_after_failure;
        self
    }
}

/// Why a key set could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The URL is not `https://` (plain `http://` is accepted for loopback hosts only).
    #[error("the JWKS URL must use https (http only for loopback): {0}")]
    InsecureUrl(String),
    /// The URL does not parse.
    #[error("invalid URL {0}")]
    InvalidUrl(String),
    /// A redirect left `https` (or went from loopback `http` elsewhere), or there were too many.
    #[error("{0}")]
    InsecureRedirect(String),
    /// The options contradict each other.
    #[error("invalid JwksOptions: {0}")]
    InvalidOptions(&'static str),
    /// The request failed or timed out.
    #[error("the request failed")]
    Http(#[source] reqwest::Error),
    /// The provider answered with an error status.
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    /// The response exceeds [`JwksOptions::max_bytes`].
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// The file could not be read.
    #[error("the file could not be read")]
    Io(#[from] std::io::Error),
    /// The document is not a JWKS (or not an OIDC discovery document).
    #[error("the document is not valid JSON of the expected shape")]
    Parse(#[from] serde_json::Error),
    /// The set holds no key usable for signature verification.
    #[error("the key set holds no usable signature key")]
    NoUsableKey,
    /// The discovery document names another issuer.
    #[error("the discovery document's issuer {found:?} is not {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
}

impl From<reqwest::Error> for JwksError {
    /// A redirect the policy refused becomes [`JwksError::InsecureRedirect`], naming the URL.
    fn from(e: reqwest::Error) -> Self {
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<RefusedRedirect>() {
                return Self::InsecureRedirect(refused.to_string());
            }
            source = cause.source();
        }
        Self::Http(e)
    }
}

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
/// Give it to [`JwtAuthBuilder::key_resolver`](crate::JwtAuthBuilder::key_resolver), or use [`JwtAuthBuilder::oidc`](crate::JwtAuthBuilder::oidc) with
/// [`OidcProvider`].
///
/// # Example
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use socketioxide_jwt::{jwks::{Jwks, JwksOptions}, JwtAuth};
/// let jwks = Jwks::from_url("https://example.eu.auth0.com/.well-known/jwks.json", JwksOptions::default()).await?;
/// let auth = JwtAuth::builder()
///     .key_resolver(jwks)
///     .issuer("https://example.eu.auth0.com/")
///     .audience("https://chat.example.com")
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

fn check_url(url: &str) -> Result<reqwest::Url, JwksError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| JwksError::InvalidUrl(url.to_owned()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        _ => Err(JwksError::InsecureUrl(url.to_owned())),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Redirects followed per fetch, at most.
const MAX_REDIRECTS: usize = 3;

/// A redirect refused by [`redirect_policy`].
#[derive(Debug, thiserror::Error)]
#[error("refused a redirect to {0}: key fetches follow redirects to https only (http only from loopback to loopback), at most 3")]
struct RefusedRedirect(String);

/// The one redirect policy of every key fetch (JWKS and discovery): a redirect keeps the fetch
/// on `https` (plain `http` only from a loopback URL to a loopback URL, for tests and sidecars),
/// so that one redirect cannot hand the key set to a network attacker.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let from_loopback_http = attempt
            .previous()
            .last()
            .is_some_and(|from| from.scheme() == "http" && is_loopback(from));
        let to = attempt.url();
        let allowed = match to.scheme() {
            "https" => true,
            "http" => from_loopback_http && is_loopback(to),
            _ => false,
        };
        if !allowed || attempt.previous().len() > MAX_REDIRECTS {
            let to = to.to_string();
            attempt.error(RefusedRedirect(to))
        } else {
            attempt.follow()
        }
    })
}

/// The HTTP client of every key fetch: a timeout and [`redirect_policy`].
fn http_client(timeout: Duration) -> Result<reqwest::Client, JwksError> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirect_policy())
        .build()?)
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

/// GET with a size bound; returns the body and `Cache-Control: max-age`.
async fn fetch_bounded(
    client: &reqwest::Client,
    url: &reqwest::Url,
    max_bytes: usize,
) -> Result<(Vec<u8>, Option<Duration>), JwksError> {
    let mut response = client.get(url.clone()).send().await?;
    if !response.status().is_success() {
        return Err(JwksError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len as usize > max_bytes)
    {
        return Err(JwksError::TooLarge(max_bytes));
    }
    let max_age = max_age(response.headers());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max_bytes {
            return Err(JwksError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, max_age))
}

async fn read_file(path: &PathBuf, max_bytes: usize) -> Result<Vec<u8>, JwksError> {
    let len = tokio::fs::metadata(path).await?.len();
    if len as usize > max_bytes {
        return Err(JwksError::TooLarge(max_bytes));
    }
    Ok(tokio::fs::read(path).await?)
}

/// `Cache-Control: max-age` of a response (the `headers` crate parses it); `no-cache` and
/// `no-store` count as 0.
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    use headers::HeaderMapExt as _;
    let cache_control = headers.typed_get::<headers::CacheControl>()?;
    if cache_control.no_cache() || cache_control.no_store() {
        return Some(Duration::ZERO);
    }
    cache_control.max_age()
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// Parses a JWKS, keeping the keys usable for signature verification.
fn parse_key_set(bytes: &[u8]) -> Result<StaticKeys, JwksError> {
    let raw: RawKeySet = serde_json::from_slice(bytes)?;
    let mut keys = StaticKeys::default();
    for value in raw.keys {
        let jwk: Jwk = match serde_json::from_value(value) {
            Ok(jwk) => jwk,
            Err(e) => {
                tracing::warn!(error = %e, "JWKS: skipped a key that does not parse");
                continue;
            }
        };
        let kid = jwk.common.key_id.clone();
        match key_from_jwk(&jwk) {
            Ok(key) => {
                if let Err(e) = keys.insert(key) {
                    tracing::warn!(?kid, error = %e, "JWKS: skipped a duplicate key");
                }
            }
            Err(reason) => tracing::warn!(?kid, reason, "JWKS: skipped a key"),
        }
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(keys)
}

/// A signature key from a JWK, verifying with the JWK's algorithm only (or the one its key type
/// and curve imply when `alg` is absent).
fn key_from_jwk(jwk: &Jwk) -> Result<VerificationKey, &'static str> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("use is \"enc\", not a signature key");
    }
    let (family, implied) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => (AlgorithmFamily::Ec, Algorithm::ES256),
            EllipticCurve::P384 => (AlgorithmFamily::Ec, Algorithm::ES384),
            _ => return Err("unsupported curve"),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            (AlgorithmFamily::Ed, Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric key has no place in a public JWKS")
        }
        _ => return Err("unsupported key type"),
    };
    let alg = match jwk.common.key_algorithm {
        Some(alg) => Algorithm::try_from(alg).map_err(|_| "unsupported alg")?,
        None => implied,
    };
    if alg.family() != family {
        return Err("alg does not fit the key type");
    }
    if family == AlgorithmFamily::Ec && alg != implied {
        return Err("alg does not fit the curve");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "key material does not parse")?;
    let mut key = VerificationKey::from_decoding_key(key).algorithms([alg]);
    if let Some(kid) = &jwk.common.key_id {
        key = key.kid(kid.clone());
    }
    Ok(key)
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

/// An OpenID Connect provider: its issuer and its JWKS, found by discovery.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// The issuer, required in tokens.
    pub issuer: String,
    /// The provider's keys.
    pub jwks: Jwks,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcProvider {
    /// Reads `<issuer>/.well-known/openid-configuration`, checks its `issuer`, and loads its
    /// `jwks_uri`.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use socketioxide_jwt::{jwks::{JwksOptions, OidcProvider}, JwtAuth};
    /// let keycloak = OidcProvider::discover("https://sso.example.com/realms/chat", JwksOptions::default()).await?;
    /// let auth = JwtAuth::builder().oidc(keycloak).audience("chat").build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`JwksError`] if discovery or the first key fetch fails.
    pub async fn discover(issuer: &str, options: JwksOptions) -> Result<Self, JwksError> {
        let base = issuer.trim_end_matches('/');
        let url = check_url(&format!("{base}/.well-known/openid-configuration"))?;
        let client = http_client(options.timeout)?;
        let (body, _) = fetch_bounded(&client, &url, options.max_bytes).await?;
        let doc: Discovery = serde_json::from_slice(&body)?;
        if doc.issuer.trim_end_matches('/') != base {
            return Err(JwksError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: doc.issuer,
            });
        }
        let jwks = Jwks::from_url(&doc.jwks_uri, options).await?;
        Ok(Self {
            issuer: doc.issuer,
            jwks,
        })
    }
}

#[cfg(test)]
mod tests;
