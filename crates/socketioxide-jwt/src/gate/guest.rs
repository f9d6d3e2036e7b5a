//! Guests: on a namespace that admits them ([`OnAuthenticated::or_guest`]), a socket without a
//! token stays as a guest instead of being timed out. It sits in
//! [`GUEST_ROOM`](crate::protocol::GUEST_ROOM) (out of every broadcast to everyone), runs the
//! guest handler's event handlers only, holds a guest's place (never a pending one), and becomes
//! an authenticated socket when an `authenticate` succeeds; a refused one disconnects it, as
//! any refusal does.
//!
//! [`OnAuthenticated::or_guest`]: super::OnAuthenticated::or_guest

use std::net::IpAddr;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::extract::TryData;
use socketioxide::handler::FromConnectParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value;
use tokio::time::Instant;

use super::timer::SocketDeadline;
use crate::app_handler::{AuthenticatedHandler, ExtractError};
use crate::auth::{AuthMode, JwtAuth};
use crate::credentials::MessageCredentials;
use crate::future::BoxFuture;
use crate::limits::{PendingKey, PendingRefusal};
use crate::metrics;
use crate::protocol::{GUEST_ROOM, SERVER_BUSY};
use crate::session::{Session, SessionState};

/// What a namespace does with a socket that has no token: refuse it ([`NoGuests`], the default),
/// or keep it as a guest and run a handler for it ([`Guests`]). Implemented by those two only.
#[doc(hidden)]
pub trait GuestHandler<A: Adapter, T>: Clone + Send + Sync + 'static {
    /// Whether guests are admitted.
    fn admits_guests(&self) -> bool;
    /// The guest handler's future, when guests are admitted.
    fn call(
        &self,
        s: Arc<Socket<A>>,
        auth: Option<Value>,
    ) -> Option<Result<BoxFuture<'static, ()>, ExtractError>>;
}

/// No guests: a socket that does not authenticate in time is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGuests;

impl<A: Adapter> GuestHandler<A, ()> for NoGuests {
    fn admits_guests(&self) -> bool {
        false
    }

    fn call(
        &self,
        _: Arc<Socket<A>>,
        _: Option<Value>,
    ) -> Option<Result<BoxFuture<'static, ()>, ExtractError>> {
        None
    }
}

/// Guests admitted, with this handler run for each (see
/// [`OnAuthenticated::or_guest`](super::OnAuthenticated::or_guest)).
#[derive(Debug, Clone)]
pub struct Guests<G>(pub(super) G);

impl<A: Adapter, T, G: AuthenticatedHandler<A, T>> GuestHandler<A, T> for Guests<G> {
    fn admits_guests(&self) -> bool {
        true
    }

    fn call(
        &self,
        s: Arc<Socket<A>>,
        auth: Option<Value>,
    ) -> Option<Result<BoxFuture<'static, ()>, ExtractError>> {
        Some(self.0.call(s, auth))
    }
}

/// What [`admit_guest`] decided.
pub(super) enum GuestAdmission<C> {
    /// A guest now, with this session (the caller gives it to the socket).
    Guest(Arc<Session<C>>),
    /// It offered a token, or no guest place is left and it may still authenticate: the usual
    /// way (a pending place, the handshake's token).
    NotAGuest,
    /// A handshake-mode handshake without a token, and no guest place left.
    Busy,
}

/// Admits `s` as a guest if it offers no handshake token (message mode offers none) and a
/// guest's place is free. Synchronous, and out of the connect middleware's future: that future
/// stays as small for namespaces without guests.
pub(super) fn admit_guest<A: Adapter, C: Send + Sync + 'static>(
    auth: &JwtAuth<C>,
    s: &Arc<Socket<A>>,
    auth_payload: &Option<Value>,
    client_ip: Option<IpAddr>,
    address: Option<IpAddr>,
    ns: &metrics::Namespace,
    now: Instant,
) -> GuestAdmission<C> {
    let gate = &auth.inner.gate;
    if gate.mode.reads_handshake() {
        let offered = match TryData::<MessageCredentials>::from_connect_parts(s, auth_payload) {
            Ok(TryData(payload)) => payload.unwrap_or(MessageCredentials::Missing),
            Err(never) => match never {},
        };
        // A token, or a malformed one: verified (or refused) as on any namespace.
        if !matches!(
            gate.credentials.handshake_token(offered, s.req_parts()),
            Ok(None)
        ) {
            return GuestAdmission::NotAGuest;
        }
    }
    let caps = &gate.guests;
    let shares = [
        address.map(|ip| (PendingKey::address(ip), caps.per_address)),
        Some((
            PendingKey::session(s.req_parts()),
            gate.max_pending_per_session,
        )),
    ];
    let place = match caps.places.try_acquire(caps.max, shares) {
        Ok(place) => place,
        Err(refusal) => {
            let why = match refusal {
                PendingRefusal::Full => "every guest place is taken",
                PendingRefusal::Share(PendingKey::Address(_)) => {
                    "this address holds its share of guest places"
                }
                PendingRefusal::Share(PendingKey::Session(_)) => {
                    "this engine.io session holds its share of guest places"
                }
            };
            tracing::info!(sid = %s.id, ns = s.ns(), why, "not admitted as a guest");
            return match gate.mode {
                AuthMode::Handshake => {
                    metrics::authentication(SERVER_BUSY, gate.default_via(), ns);
                    GuestAdmission::Busy
                }
                _ => GuestAdmission::NotAGuest,
            };
        }
    };
    s.join(GUEST_ROOM);
    let weak_socket = Arc::downgrade(s);
    let session = Session::new(
        SessionState::guest(now, place, ns.clone()),
        client_ip,
        |session| Arc::new(SocketDeadline::new(weak_socket, session, auth.clone())),
    );
    tracing::debug!(sid = %s.id, ns = s.ns(), "admitted as a guest");
    GuestAdmission::Guest(session)
}
