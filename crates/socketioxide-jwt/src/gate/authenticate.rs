//! The `authenticate` event: the first authentication in message mode, and every refresh.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler};
use socketioxide::socket::Socket;
use socketioxide_core::Value;
use tokio::time::Instant;

use super::holdings::{verify_first, verify_refresh};
use super::live::{emit_authenticated, go_live, poll_once, Caller};
use super::refuse::refuse_socket;
use super::rooms::regrant;
use crate::app_handler::{AuthenticatedHandler, ViaAuthenticated};
use crate::auth::JwtAuth;
use crate::credentials::MessageCredentials;
use crate::error::AuthError;
use crate::metrics::{self, Via};
use crate::protocol::{AuthenticateAck, ErrorCode};
use crate::session::{GoLive, Outcome, Refresh, Session, SessionGuard, Stage};

/// Bytes an `authenticate` payload may have beyond `max_token_len` (JSON framing, field name).
const PAYLOAD_OVERHEAD: usize = 1024;

/// The `authenticate` event handler, registered at admission, before the client can speak. It
/// keeps the socket's session, and its entry in the registry: socketioxide drops it with the
/// socket (or when the application replaces it: the entry then stays with the socket, see
/// `session::registry`).
pub(crate) struct AuthenticateEvent<A: Adapter, C: Send + Sync + 'static, H> {
    pub(crate) auth: JwtAuth<C>,
    pub(crate) handler: H,
    pub(crate) session: SessionGuard<A, Session<C>>,
}

impl<A, T, C, H> MessageHandler<A, ViaAuthenticated<T>> for AuthenticateEvent<A, C, H>
where
    A: Adapter,
    H: AuthenticatedHandler<A, T>,
    T: 'static,
    C: DeserializeOwned + Send + Sync + 'static,
{
    fn call(&self, s: Arc<Socket<A>>, mut v: Value, ack_id: Option<i64>) {
        let ack = match AckSender::from_message_parts(&s, &mut v, &ack_id) {
            Ok(ack) => ack,
            Err(never) => match never {},
        };
        let session = self.session.session().clone();
        let gate = &self.auth.inner.gate;
        if !session.record_attempt(Instant::now(), gate.max_auth_attempts_per_minute) {
            let err = AuthError::forbidden("too many authentication attempts");
            return refuse_socket(s, &err, Some(ack), &self.auth, &session, Via::Message);
        }
        // Refuse an oversized payload before parsing it.
        if v.len() > self.auth.inner.verifier.max_token_len() + PAYLOAD_OVERHEAD {
            let err = AuthError::new(ErrorCode::InvalidToken)
                .with_source("authenticate payload too large");
            return refuse_socket(s, &err, Some(ack), &self.auth, &session, Via::Message);
        }
        // No payload at all (`["authenticate"]`) reads as missing credentials.
        let payload = match TryData::<MessageCredentials>::from_message_parts(&s, &mut v, &ack_id) {
            Ok(TryData(payload)) => payload.unwrap_or(MessageCredentials::Missing),
            Err(never) => match never {},
        };
        let Some(stage) = session.update(|st| st.try_begin_verification()) else {
            tracing::debug!(sid = %s.id, "authenticate ignored: a verification is running or the session is closed");
            return;
        };
        let verification = authenticate(
            self.auth.clone(),
            self.handler.clone(),
            s,
            session,
            stage,
            payload,
            ack,
        );
        if let Some(rest) = poll_once(Box::pin(verification)) {
            tokio::spawn(rest);
        }
    }
}

/// Verifies the payload's token and applies the outcome: go live, refresh, or refuse.
async fn authenticate<A, T, C, H>(
    auth: JwtAuth<C>,
    handler: H,
    s: Arc<Socket<A>>,
    session: Arc<Session<C>>,
    stage: Stage,
    payload: MessageCredentials,
    ack: AckSender<A>,
) where
    A: Adapter,
    H: AuthenticatedHandler<A, T>,
    C: DeserializeOwned + Send + Sync + 'static,
{
    let result = match (payload.token(), stage) {
        (Err(e), _) => Err(e),
        (Ok(token), Stage::First) => verify_first(&auth, &s, &session, token).await,
        (Ok(token), Stage::Refresh(_)) => verify_refresh(&auth, &s, &session, token).await,
    };
    let rules = auth.inner.gate.expiry_rules();
    let outcome = session.update(|st| {
        st.finish_verification_with(result, stage, GoLive::Now, Instant::now(), rules)
    });
    match outcome {
        Outcome::FirstAuthentication(live) => {
            let _ = ack.send(&AuthenticateAck::OK);
            go_live(
                &auth,
                &handler,
                s,
                &session,
                live,
                None,
                Caller::MessageHandler,
            );
        }
        Outcome::Refreshed(Refresh { live, before }) => {
            let _ = ack.send(&AuthenticateAck::OK);
            if auth.inner.rooms.is_some() {
                regrant(&auth, &s, &before, &live.claims);
            }
            let (iss, sub) = crate::identity::log_fields(live.user.as_ref());
            tracing::info!(sid = %s.id, ns = s.ns(), iss, sub, "token refreshed");
            metrics::authentication("refreshed", Via::Message, &session.ns);
            emit_authenticated(&auth, &s, &session, live);
        }
        Outcome::KeptNewer(live) => {
            let _ = ack.send(&AuthenticateAck::OK);
            tracing::info!(sid = %s.id, ns = s.ns(), "refresh not applied: the socket holds a newer token");
            metrics::authentication("kept_newer", Via::Message, &session.ns);
            emit_authenticated(&auth, &s, &session, live);
        }
        Outcome::Refused(err) => refuse_socket(s, &err, Some(ack), &auth, &session, Via::Message),
        Outcome::Ignored => {}
    }
}
