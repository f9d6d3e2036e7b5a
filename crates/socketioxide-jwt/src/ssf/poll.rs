//! Poll delivery (RFC 8936): the receiver asks the transmitter for SETs, acknowledges those it
//! applied (or that were applied already), reports those it refused, and backs off when the
//! transmitter or the revocation store fails.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::SetError;
use super::receiver::SsfReceiver;
use super::transmitter::DeliveryMethod;
use crate::jwks::{check_url, http_client, send_bounded, JwksError};

/// How a receiver polls.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use socketioxide_jwt::ssf::PollOptions;
/// let mut options = PollOptions::default();
/// options.max_events = 50;
/// assert_eq!(options.max_backoff, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PollOptions {
    /// `maxEvents` per request.
    pub max_events: u32,
    /// How long one request may wait for the transmitter (it may hold a long poll open).
    pub request_timeout: Duration,
    /// The first wait after a failure, and the least between two requests that brought
    /// nothing new (at least 100 ms); doubled after each failure, up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest wait after failures.
    pub max_backoff: Duration,
    /// The largest answer read, in bytes.
    pub max_bytes: usize,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            max_events: 100,
            // Transmitters hold a long poll 30 to 60 s.
            request_timeout: Duration::from_secs(90),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Why polling could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// No transmitter of the receiver has this issuer.
    #[error("no configured transmitter has the issuer {0}")]
    UnknownTransmitter(String),
    /// The transmitter's metadata does not offer poll delivery, or names no
    /// `configuration_endpoint` to read the stream from.
    #[error("the transmitter does not offer poll delivery with a configuration endpoint")]
    NotOffered,
    /// No stream of the transmitter for this receiver's audience is delivered by poll.
    #[error("no stream of the transmitter for this audience is delivered by poll")]
    NoPollStream,
    /// A URL the transmitter gave is not https (or loopback http).
    #[error(transparent)]
    Url(JwksError),
}

/// A stream configuration (SSF 1.0 §8.1.1), the part read.
#[derive(Deserialize)]
struct StreamConfig {
    delivery: Delivery,
    /// Its audience: a string or an array of them.
    #[serde(default)]
    aud: Value,
}

#[derive(Deserialize)]
struct Delivery {
    method: String,
    #[serde(default)]
    endpoint_url: Option<String>,
}

/// A poll answer (RFC 8936 §2.2); `moreAvailable` is not read: the next request is sent at
/// once after an answer that brought something new, and it takes what is waiting.
#[derive(Deserialize)]
struct PollAnswer {
    #[serde(default)]
    sets: HashMap<String, String>,
}

/// What one poll did.
enum Polled {
    /// Nothing new: no SET, or only SETs received before or refused.
    Idle,
    /// A SET was applied (acknowledged with the next request): more may be waiting.
    Applied,
    /// A SET could not be recorded: it stays with the transmitter, asked again after a wait.
    Unavailable,
}

/// What the next request tells the transmitter: the SETs acknowledged and those refused.
#[derive(Default)]
struct Replies {
    acks: Vec<String>,
    errs: Map<String, Value>,
}

impl SsfReceiver {
    /// Polls the stream of the transmitter `iss` for ever: reads its poll endpoint from the
    /// transmitter's `configuration_endpoint`, then asks it for SETs, applies them as
    /// [`receive`](Self::receive) does, acknowledges the ones applied (or received before),
    /// reports refused ones in `setErrs`, and backs off (from `min_backoff` to `max_backoff`)
    /// when the transmitter fails or a SET could not be recorded. `bearer`: the token the
    /// transmitter authorizes this receiver with. Spawn it.
    ///
    /// # Errors
    /// A [`PollError`] when the transmitter does not deliver this receiver's stream by poll.
    pub async fn poll(
        &self,
        iss: &str,
        bearer: &str,
        options: PollOptions,
    ) -> Result<std::convert::Infallible, PollError> {
        let transmitter = self
            .transmitter(iss)
            .ok_or_else(|| PollError::UnknownTransmitter(iss.to_owned()))?;
        let config_url = match &transmitter.configuration_endpoint {
            Some(url) if transmitter.offers(DeliveryMethod::Poll) => url.clone(),
            _ => return Err(PollError::NotOffered),
        };
        let config_url = check_url(&config_url).map_err(PollError::Url)?;
        let mut backoff = Backoff::new(&options);
        let client = loop {
            match http_client(options.request_timeout) {
                Ok(client) => break client,
                Err(e) => backoff.fail("SSF poll: no HTTP client", e).await,
            }
        };
        // Read until a poll stream for this audience is there (one may be created later).
        let endpoint = loop {
            let request = client.get(config_url.clone()).bearer_auth(bearer);
            let read = send_bounded(request, options.max_bytes).await;
            match read.map(|(body, _)| poll_endpoint(&body, self.audience())) {
                Ok(Ok(endpoint)) => break endpoint,
                Ok(Err(e @ PollError::Url(_))) => return Err(e),
                Ok(Err(e)) => backoff.fail("SSF poll", e).await,
                Err(e) => {
                    let what = "SSF poll: the stream configuration could not be read";
                    backoff.fail(what, e).await;
                }
            }
        };
        tracing::info!(%iss, "polling the transmitter's stream");
        let mut replies = Replies::default();
        loop {
            let asked_at = tokio::time::Instant::now();
            let request = client.post(endpoint.clone()).bearer_auth(bearer);
            match self.poll_once(request, &options, &mut replies).await {
                Err(e) => backoff.fail("SSF poll failed", e).await,
                Ok(Polled::Unavailable) => backoff.wait().await,
                Ok(Polled::Applied) => backoff.reset(),
                // With nothing waiting, the transmitter holds a request (a long poll). One that
                // answers at once, or hands out only what was received before, is asked again
                // after `min_backoff`, not in a busy loop.
                Ok(Polled::Idle) => {
                    backoff.reset();
                    tokio::time::sleep_until(asked_at + backoff.min).await;
                }
            }
        }
    }

    /// One poll request: delivers `replies`, then applies what the answer carries and puts
    /// the replies to it in `replies`.
    async fn poll_once(
        &self,
        request: reqwest::RequestBuilder,
        options: &PollOptions,
        replies: &mut Replies,
    ) -> Result<Polled, JwksError> {
        let body = json!({
            "ack": replies.acks,
            "setErrs": replies.errs,
            "maxEvents": options.max_events,
            "returnImmediately": false,
        });
        let request = request
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let (body, _) = send_bounded(request, options.max_bytes).await?;
        let answer: PollAnswer = serde_json::from_slice(&body)?;
        // Delivered with this request.
        *replies = Replies::default();
        let mut polled = Polled::Idle;
        for (jti, set) in answer.sets.into_iter().take(options.max_events as usize) {
            match self.receive(&set).await {
                Ok(_) => {
                    replies.acks.push(jti);
                    if !matches!(polled, Polled::Unavailable) {
                        polled = Polled::Applied;
                    }
                }
                Err(SetError::Replayed) => replies.acks.push(jti),
                Err(SetError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "SSF poll: a SET could not be recorded; it stays with the transmitter");
                    polled = Polled::Unavailable;
                }
                Err(e) => {
                    replies.errs.insert(jti, e.to_json());
                }
            }
        }
        Ok(polled)
    }
}

/// The poll endpoint of the stream configuration (one object, or an array of them) for
/// `audience` (a stream that names no audience counts as this receiver's).
fn poll_endpoint(body: &[u8], audience: &str) -> Result<reqwest::Url, PollError> {
    let configs: Vec<StreamConfig> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        Ok(item) => serde_json::from_value(item).into_iter().collect(),
        Err(_) => Vec::new(),
    };
    let url = configs
        .into_iter()
        .filter(|c| c.delivery.method == DeliveryMethod::Poll.urn())
        .filter(|c| match &c.aud {
            Value::Null => true,
            Value::String(aud) => aud == audience,
            Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        })
        .find_map(|c| c.delivery.endpoint_url)
        .ok_or(PollError::NoPollStream)?;
    check_url(&url).map_err(PollError::Url)
}

/// Exponential backoff between failures.
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(options: &PollOptions) -> Self {
        let min = options.min_backoff.max(Duration::from_millis(100));
        Self {
            min,
            max: options.max_backoff.max(min),
            next: min,
        }
    }

    async fn fail(&mut self, what: &str, error: impl std::fmt::Display) {
        tracing::warn!(error = %error, retry_in = ?self.next, "{what}");
        self.wait().await;
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.max);
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poll_endpoint_comes_from_a_poll_stream_for_this_audience() {
        let endpoint = |body: &[u8]| poll_endpoint(body, "chat");
        let poll = br#"{ "delivery": { "method": "urn:ietf:rfc:8936", "endpoint_url": "http://127.0.0.1:1/poll" } }"#;
        assert_eq!(endpoint(poll).unwrap().as_str(), "http://127.0.0.1:1/poll");
        let many = br#"[{ "delivery": { "method": "urn:ietf:rfc:8935", "endpoint_url": "https://r/x" } },
                        { "aud": "billing", "delivery": { "method": "urn:ietf:rfc:8936", "endpoint_url": "https://t/billing" } },
                        { "aud": ["x", "chat"], "delivery": { "method": "urn:ietf:rfc:8936", "endpoint_url": "https://t/poll" } }]"#;
        assert_eq!(endpoint(many).unwrap().as_str(), "https://t/poll");
        let push =
            br#"{ "delivery": { "method": "urn:ietf:rfc:8935", "endpoint_url": "https://r/x" } }"#;
        assert!(matches!(endpoint(push), Err(PollError::NoPollStream)));
        let other = br#"{ "aud": "billing", "delivery": { "method": "urn:ietf:rfc:8936", "endpoint_url": "https://t/poll" } }"#;
        assert!(matches!(endpoint(other), Err(PollError::NoPollStream)));
        let insecure = br#"{ "delivery": { "method": "urn:ietf:rfc:8936", "endpoint_url": "http://t/poll" } }"#;
        assert!(matches!(endpoint(insecure), Err(PollError::Url(_))));
        assert!(matches!(
            endpoint(b"not json"),
            Err(PollError::NoPollStream)
        ));
    }
}
