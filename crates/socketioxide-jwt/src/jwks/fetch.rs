//! HTTP for key fetches: which URLs, which redirects, how long a response lives.

use std::path::PathBuf;
use std::time::Duration;

use super::JwksError;

pub(crate) fn check_url(url: &str) -> Result<reqwest::Url, JwksError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| JwksError::InvalidUrl(url.to_owned()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        _ => Err(JwksError::InsecureUrl(url.to_owned())),
    }
}

pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Redirects followed per fetch, at most.
pub(super) const MAX_REDIRECTS: usize = 3;

/// A redirect refused by [`redirect_policy`].
#[derive(Debug, thiserror::Error)]
#[error("refused a redirect to {0}: key fetches follow redirects to https only (http only from loopback to loopback), at most 3")]
pub(super) struct RefusedRedirect(String);

/// The one redirect policy of every key fetch (JWKS and discovery): a redirect keeps the fetch
/// on `https` (plain `http` only from a loopback URL to a loopback URL, for tests and sidecars),
/// so that one redirect cannot hand the key set to a network attacker.
pub(super) fn redirect_policy() -> reqwest::redirect::Policy {
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
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, JwksError> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirect_policy())
        .build()?)
}

/// `Cache-Control: max-age` of a response (the `headers` crate parses it); `no-cache` and
/// `no-store` count as 0.
pub(super) fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    use headers::HeaderMapExt as _;
    let cache_control = headers.typed_get::<headers::CacheControl>()?;
    if cache_control.no_cache() || cache_control.no_store() {
        return Some(Duration::ZERO);
    }
    cache_control.max_age()
}

/// GET with a size bound; returns the body and `Cache-Control: max-age`.
pub(super) async fn fetch_bounded(
    client: &reqwest::Client,
    url: &reqwest::Url,
    max_bytes: usize,
) -> Result<(Vec<u8>, Option<Duration>), JwksError> {
    send_bounded(client.get(url.clone()), max_bytes).await
}

/// Sends `request` and reads a successful answer's body, at most `max_bytes` of it; returns
/// the body and `Cache-Control: max-age`.
pub(crate) async fn send_bounded(
    request: reqwest::RequestBuilder,
    max_bytes: usize,
) -> Result<(Vec<u8>, Option<Duration>), JwksError> {
    let mut response = request.send().await?;
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

pub(super) async fn read_file(path: &PathBuf, max_bytes: usize) -> Result<Vec<u8>, JwksError> {
    let len = tokio::fs::metadata(path).await?.len();
    if len as usize > max_bytes {
        return Err(JwksError::TooLarge(max_bytes));
    }
    Ok(tokio::fs::read(path).await?)
}
