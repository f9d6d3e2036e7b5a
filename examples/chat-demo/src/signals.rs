//! OpenID Shared Signals (`--ssf-transmitter`): transmitters push security events to
//! `POST /ssf/events` (with the bearer token of `--ssf-push-token`), or are polled (with
//! `--ssf-poll-token`); each event closes sockets or asks them to refresh, on every instance.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use socketioxide_jwt::jwks::JwksOptions;
use socketioxide_jwt::ssf::{
    is_secevent_content_type, DeliveryMethod, PollOptions, SetError, SetErrorCode, SsfReceiver,
    SsfTransmitter,
};
use socketioxide_jwt::JwtAuth;
use subtle::ConstantTimeEq;

use crate::cli::Args;
use crate::BoxError;

/// The largest push body read (a SET is at most 64 KiB).
const MAX_PUSH_BYTES: usize = 64 * 1024 + 1;

/// With `--ssf-transmitter`: discovers each transmitter, starts polling those that deliver so,
/// and adds the push endpoint to `router` when a push token is set.
pub async fn add_receiver(args: &Args, auth: &JwtAuth, router: Router) -> Result<Router, BoxError> {
    if args.ssf_transmitters.is_empty() {
        return Ok(router);
    }
    let audience = args
        .ssf_audience
        .clone()
        .or_else(|| args.audience.clone())
        .ok_or(
            "--ssf-transmitter needs the audience of its events: --ssf-audience or --audience",
        )?;
    if args.ssf_push_token.is_none() && args.ssf_poll_token.is_none() {
        return Err(
            "--ssf-transmitter needs --ssf-push-token (push), --ssf-poll-token (poll) or both"
                .into(),
        );
    }
    let mut transmitters = Vec::with_capacity(args.ssf_transmitters.len());
    for issuer in &args.ssf_transmitters {
        let transmitter = SsfTransmitter::discover(issuer, JwksOptions::default())
            .await
            .map_err(|e| format!("SSF discovery at {issuer} failed: {e}"))?;
        transmitters.push(transmitter);
    }
    let receiver = SsfReceiver::new(auth, audience, transmitters.iter().cloned())?;
    if let Some(token) = &args.ssf_poll_token {
        for transmitter in transmitters
            .iter()
            .filter(|t| t.offers(DeliveryMethod::Poll))
        {
            tokio::spawn(poll(
                receiver.clone(),
                transmitter.issuer.clone(),
                token.clone(),
            ));
        }
    }
    let Some(token) = args.ssf_push_token.clone() else {
        return Ok(router);
    };
    let push = Router::new()
        .route("/ssf/events", post(push))
        .layer(DefaultBodyLimit::max(MAX_PUSH_BYTES))
        .with_state(Push { receiver, token });
    Ok(router.merge(push))
}

/// Polls one transmitter for as long as the demo runs.
async fn poll(receiver: SsfReceiver, iss: String, token: String) {
    let Err(e) = receiver.poll(&iss, &token, PollOptions::default()).await;
    tracing::warn!(%iss, error = %e, "not polling this SSF transmitter");
}

#[derive(Clone)]
struct Push {
    receiver: SsfReceiver,
    token: String,
}

/// RFC 8935: `202` for a SET applied or acknowledged, `400` with `{ err, description }` for
/// one refused, `503` when it could not be recorded (send it again), `401` without the
/// transmitter's bearer token.
async fn push(State(push): State<Push>, headers: HeaderMap, body: Bytes) -> Response {
    // The scheme's name is case-insensitive (RFC 7235 §2.1).
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let agreed = |b: &str| bool::from(b.as_bytes().ct_eq(push.token.as_bytes()));
    if !bearer.is_some_and(agreed) {
        let err = SetError::new(
            SetErrorCode::AuthenticationFailed,
            "the push needs the agreed bearer token",
        );
        let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
        return (
            StatusCode::UNAUTHORIZED,
            challenge,
            axum::Json(err.to_json()),
        )
            .into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_secevent_content_type(content_type) {
        let why = "a pushed SET's Content-Type is application/secevent+jwt";
        return SetError::new(SetErrorCode::InvalidRequest, why).into_response();
    }
    let Ok(set) = std::str::from_utf8(&body) else {
        return SetError::new(SetErrorCode::InvalidRequest, "a SET is ASCII text").into_response();
    };
    match push.receiver.receive(set.trim()).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => {
            tracing::info!(error = %e, "security event refused");
            e.into_response()
        }
    }
}
