//! Refusing a socket: at the handshake (the error becomes `connect_error`), or once connected
//! (`unauthorized`, then a disconnect). Both log the decision and count it against the IP.

use std::fmt::Display;
use std::net::IpAddr;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;
use socketioxide::socket::Socket;
use tokio::time::Instant;

use crate::auth::JwtAuth;
use crate::error::AuthError;
use crate::metrics::{self, Via};
use crate::protocol::ErrorCode;
use crate::session::{Session, SessionState};

/// Refuses a connection at the handshake: returns the error for socketioxide to send as the
/// `connect_error` message (its `Display`, the bare code).
pub(crate) fn refuse_handshake<A: Adapter, C>(
    s: &Socket<A>,
    auth: &JwtAuth<C>,
    session: &Session<C>,
    err: AuthError,
) -> Box<dyn Display + Send> {
    session.update(SessionState::close);
    log_refusal(s, &err, session.client_ip);
    metrics::authentication(err.code().as_str(), Via::Handshake, &session.ns);
    count_failure(auth, session.client_ip);
    Box::new(err)
}

/// Refuses a connection before it has a session (a blocked address): like
/// [`refuse_handshake`], without counting one more failure.
pub(crate) fn refuse_before_session<A: Adapter>(
    s: &Socket<A>,
    ns: &metrics::Namespace,
    err: AuthError,
) -> Box<dyn Display + Send> {
    log_refusal(s, &err, None);
    metrics::authentication(err.code().as_str(), Via::Handshake, ns);
    Box::new(err)
}

/// Refuses a connected socket: closes the session, sends the error object (through the ack if
/// one was asked, and as the `unauthorized` event), then disconnects. Never waits for the client.
/// Every refusal but an expiry counts against the IP. `mode` labels the metric: how the refused
/// credential arrived.
pub(crate) fn refuse_socket<A: Adapter, C>(
    s: Arc<Socket<A>>,
    err: &AuthError,
    ack: Option<AckSender<A>>,
    auth: &JwtAuth<C>,
    session: &Session<C>,
    via: Via,
) {
    log_refusal(&s, err, session.client_ip);
    metrics::authentication(err.code().as_str(), via, &session.ns);
    session.update(SessionState::close);
    if err.code() != ErrorCode::TokenExpired {
        count_failure(auth, session.client_ip);
    }
    let object = err.to_object();
    if let Some(ack) = ack {
        let _ = ack.send(&object);
    }
    let _ = s.emit(&auth.inner.gate.events.unauthorized, &object);
    let _ = s.disconnect();
}

fn log_refusal<A: Adapter>(s: &Socket<A>, err: &AuthError, ip: Option<IpAddr>) {
    let reason = std::error::Error::source(err).map(ToString::to_string);
    let ip = ip.map(|ip| ip.to_string());
    tracing::info!(sid = %s.id, ns = s.ns(), code = %err.code(), reason, ip, "socket refused");
}

/// Counts a refusal against the client's IP, when per-IP limiting is on.
fn count_failure<C>(auth: &JwtAuth<C>, ip: Option<IpAddr>) {
    if let (Some(failures), Some(ip)) = (&auth.inner.gate.failures, ip) {
        if failures.record_failure(ip, Instant::now()) {
            tracing::warn!(%ip, "too many failed authentications: IP cooling down");
        }
    }
}
