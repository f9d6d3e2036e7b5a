//! Admission: the connect middleware every socket passes before socketioxide adds it to the
//! namespace. It applies the connection limits, puts the socket in the pending room with its
//! session (armed in the deadline queue), `authenticate` handler, and verifies a handshake token when the
//! mode reads one.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use futures_util::future::maybe_done;
use serde::de::DeserializeOwned;
use socketioxide::extract::TryData;
use socketioxide::handler::FromConnectParts;
use socketioxide::socket::Socket;
use socketioxide::SocketIo;
use socketioxide_core::Value;
use tokio::time::Instant;

use super::authenticate::AuthenticateEvent;
use super::children::Children;
use super::guest::{admit_guest, GuestAdmission};
use super::holdings::verify_first;
use super::refuse::{refuse_before_session, refuse_handshake};
use super::timer::SocketDeadline;
use crate::adapter::GatedAdapter;
use crate::app_handler::{AuthenticatedHandler, ViaAuthenticated};
use crate::auth::{AuthMode, JwtAuth};
use crate::credentials::MessageCredentials;
use crate::error::AuthError;
use crate::limits::{PendingKey, PendingPermit, PendingRefusal};
use crate::metrics;
use crate::protocol::{ErrorCode, PENDING_ROOM, SERVER_BUSY};
use crate::session::{GoLive, Outcome, Session, SessionGuard, SessionState, Stage};

/// A refusal: the `connect_error` message.
type Refusal = Box<dyn Display + Send>;

/// The connect middleware. `Err` refuses the connection with that `connect_error` message.
/// `guests`: whether the namespace admits guests.
pub(crate) async fn admit<A, T, C, H>(
    auth: &JwtAuth<C>,
    handler: &H,
    children: Option<&Arc<Children>>,
    guests: bool,
    s: Arc<Socket<A>>,
    auth_payload: &Option<Value>,
) -> Result<(), Refusal>
where
    A: GatedAdapter,
    H: AuthenticatedHandler<A, T>,
    T: 'static,
    C: DeserializeOwned + Send + Sync + 'static,
{
    let gate = &auth.inner.gate;
    let now = Instant::now();
    let ns = children.map_or_else(
        || metrics::Namespace::new(s.ns()),
        |children| children.label().clone(),
    );
    if let Some(children) = children {
        // Counted before anything can refuse the socket, so that a refused socket's child goes too.
        lease_child(auth, children, &s, auth_payload, &ns)?;
    }
    let client_ip = gate.client_ip.as_ref().and_then(|f| f(s.req_parts()));
    if let (Some(failures), Some(ip)) = (&gate.failures, client_ip) {
        if failures.is_blocked(ip, now) {
            let err = AuthError::forbidden("too many failed authentications; retry later");
            return Err(refuse_before_session(&s, &ns, err));
        }
    }
    let address = client_ip.or_else(|| peer_address(s.req_parts()));
    if guests {
        match admit_guest(auth, &s, auth_payload, client_ip, address, &ns, now) {
            GuestAdmission::Guest(session) => {
                register_authenticate(auth, handler, &s, session);
                return Ok(());
            }
            GuestAdmission::Busy => return Err(Box::new(SERVER_BUSY)),
            GuestAdmission::NotAGuest => {}
        }
    }
    let permit = acquire_pending(auth, &s, address, &ns)?;
    s.join(PENDING_ROOM);
    let weak_socket = Arc::downgrade(&s);
    let session = Session::new(
        SessionState::pending(now, gate.timeout, permit, ns),
        client_ip,
        |session| Arc::new(SocketDeadline::new(weak_socket, session, auth.clone())),
    );
    register_authenticate(auth, handler, &s, session.clone());
    if !gate.mode.reads_handshake() {
        // Waits for `authenticate` until its deadline.
        session.arm();
        return Ok(());
    }
    verify_handshake(auth, &s, &session, auth_payload).await
}

/// Takes one of the parent connection's child leases (`Err`: the parent holds its share).
fn lease_child<A: GatedAdapter, C>(
    auth: &JwtAuth<C>,
    children: &Arc<Children>,
    s: &Arc<Socket<A>>,
    auth_payload: &Option<Value>,
    ns: &metrics::Namespace,
) -> Result<(), Refusal> {
    let Ok(io) = SocketIo::<A>::from_connect_parts(s, auth_payload);
    let Some(lease) = children.lease(&io, s.ns()) else {
        metrics::authentication(SERVER_BUSY, auth.inner.gate.default_via(), ns);
        return Err(Box::new(SERVER_BUSY));
    };
    s.extensions.insert(Arc::new(lease));
    Ok(())
}

/// A place among the pending sockets: within the total and within the shares of the socket's
/// address and engine.io session (`Err`: `server_busy`, said in a warning).
fn acquire_pending<A: GatedAdapter, C>(
    auth: &JwtAuth<C>,
    s: &Socket<A>,
    address: Option<std::net::IpAddr>,
    ns: &metrics::Namespace,
) -> Result<PendingPermit, Refusal> {
    let gate = &auth.inner.gate;
    let shares = [
        address.map(|ip| (PendingKey::address(ip), gate.max_pending_per_address)),
        Some((
            PendingKey::session(s.req_parts()),
            gate.max_pending_per_session,
        )),
    ];
    let refusal = match gate.pending.try_acquire(gate.max_pending, shares) {
        Ok(permit) => return Ok(permit),
        Err(refusal) => refusal,
    };
    match refusal {
        PendingRefusal::Full => {
            tracing::warn!(sid = %s.id, ns = s.ns(), max = gate.max_pending, "too many pending sockets: connection refused")
        }
        PendingRefusal::Share(PendingKey::Address(ip)) => {
            tracing::warn!(sid = %s.id, ns = s.ns(), %ip, max = gate.max_pending_per_address, "this address holds its share of pending sockets: connection refused")
        }
        PendingRefusal::Share(PendingKey::Session(_)) => {
            tracing::warn!(sid = %s.id, ns = s.ns(), max = gate.max_pending_per_session, "this engine.io session holds its share of pending sockets: connection refused")
        }
    }
    metrics::authentication(SERVER_BUSY, gate.default_via(), ns);
    Err(Box::new(SERVER_BUSY))
}

/// Handshake and either mode: verifies the token of the `auth` payload (or of the place the
/// credentials settings read), or, in either mode without one, waits for `authenticate`.
async fn verify_handshake<A, C>(
    auth: &JwtAuth<C>,
    s: &Arc<Socket<A>>,
    session: &Arc<Session<C>>,
    auth_payload: &Option<Value>,
) -> Result<(), Refusal>
where
    A: GatedAdapter,
    C: DeserializeOwned + Send + Sync + 'static,
{
    let gate = &auth.inner.gate;
    // The `auth` payload through the same reader as the `authenticate` event's.
    let offered = match TryData::<MessageCredentials>::from_connect_parts(s, auth_payload) {
        Ok(TryData(payload)) => payload.unwrap_or(MessageCredentials::Missing),
        Err(never) => match never {},
    };
    let token = match gate.credentials.handshake_token(offered, s.req_parts()) {
        Ok(Some(token)) => token,
        Ok(None) if gate.mode == AuthMode::Either => {
            // Waits for `authenticate` until its deadline.
            session.arm();
            return Ok(());
        }
        Ok(None) => {
            let err = ErrorCode::CredentialsRequired.into();
            return Err(refuse_handshake(s, auth, session, err));
        }
        Err(e) => return Err(refuse_handshake(s, auth, session, e)),
    };
    session.update_in_place(|st| st.try_begin_verification());
    // Armed only if the verification waits (a key to fetch, the application's check): its
    // deadline bounds that wait. One that finishes at once arms the token's deadlines only,
    // one entry in the queue instead of an entry armed and then moved. `MaybeDone` keeps the
    // result where the future was (this future stays under 1 KiB, the size glibc serves from
    // its per-thread cache).
    let mut verifying = std::pin::pin!(maybe_done(verify_first(auth, s, session, &token)));
    if std::future::poll_fn(|cx| Poll::Ready(verifying.as_mut().poll(cx).is_pending())).await {
        session.arm();
        verifying.as_mut().await;
    }
    let Some(result) = verifying.as_mut().take_output() else {
        // Unreachable: a finished `MaybeDone` holds its output until taken, once.
        return Err(refuse_handshake(
            s,
            auth,
            session,
            ErrorCode::Timeout.into(),
        ));
    };
    let rules = gate.expiry_rules();
    let outcome = session.update(|st| {
        let now = Instant::now();
        st.finish_verification_with(result, Stage::First, GoLive::InConnectHandler, now, rules)
    });
    match outcome {
        // The connect handler goes live once socketioxide added the socket to the namespace.
        Outcome::FirstAuthentication(_) => Ok(()),
        Outcome::Refused(e) => Err(refuse_handshake(s, auth, session, e)),
        // Closed during the verification (a revocation, the timer), which refused it already:
        // no second refusal, no second failure counted.
        Outcome::Ignored => Err(Box::new(AuthError::new(ErrorCode::Timeout))),
        Outcome::Refreshed(_) | Outcome::KeptNewer(_) => {
            let err = AuthError::new(ErrorCode::Timeout);
            Err(refuse_handshake(s, auth, session, err))
        }
    }
}

/// The `authenticate` event's handler (a first authentication, or a refresh), which keeps the
/// socket's `session` for as long as socketioxide keeps the handler: the socket's lifetime.
fn register_authenticate<A, T, C, H>(
    auth: &JwtAuth<C>,
    handler: &H,
    s: &Arc<Socket<A>>,
    session: Arc<Session<C>>,
) where
    A: GatedAdapter,
    H: AuthenticatedHandler<A, T>,
    T: 'static,
    C: DeserializeOwned + Send + Sync + 'static,
{
    s.on::<_, ViaAuthenticated<T>>(
        auth.inner.gate.events.authenticate.clone(),
        AuthenticateEvent {
            auth: auth.clone(),
            handler: handler.clone(),
            session: SessionGuard::keep(s, session),
        },
    );
}

/// The peer address axum recorded (`into_make_service_with_connect_info::<SocketAddr>()`).
fn peer_address(parts: &http::request::Parts) -> Option<std::net::IpAddr> {
    #[cfg(feature = "axum")]
    {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = parts;
        None
    }
}
