//! Going live: a socket authenticated for the first time leaves the pending room, joins its
//! user's room and the rooms its claims grant, runs the application's handler, and hears
//! `authenticated`.

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;
use socketioxide_core::Value;

use super::rooms::join_granted;
use crate::app_handler::AuthenticatedHandler;
use crate::auth::JwtAuth;
use crate::future::BoxFuture;
use crate::identity::UserId;
use crate::metrics::{self, Via};
use crate::protocol::{AuthenticatedPayload, TokenExpiringPayload, GUEST_ROOM, PENDING_ROOM};
use crate::session::{Live, Session};

/// Where [`go_live`] is called from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// socketioxide's connect step (handshake mode): no lock held.
    ConnectHandler,
    /// The `authenticate` event handler (message mode): the socket's handler map is locked.
    MessageHandler,
}

/// Authenticated for the first time: leave the pending room, join the user's room, run the
/// application's handler up to its first pending `.await`, then tell the client. The session
/// already holds everything (revocation entry, user place): nothing here can fail or wait.
///
/// `from` says where it is called from: the application's handler may only be polled here
/// from the connect handler (see [`Caller`]).
pub(crate) fn go_live<A, T, C, H>(
    auth: &JwtAuth<C>,
    handler: &H,
    s: Arc<Socket<A>>,
    session: &Arc<Session<C>>,
    live: Live<C>,
    auth_payload: Option<Value>,
    from: Caller,
) where
    A: Adapter,
    H: AuthenticatedHandler<A, T>,
    C: Send + Sync + 'static,
{
    if let Some(room) = live.user.as_ref().and_then(|user| auth.room_of(user)) {
        s.join(room);
    }
    leave_pending(&s);
    join_granted(auth, &s, &live.claims);
    let (iss, sub) = crate::identity::log_fields(live.user.as_ref());
    tracing::info!(sid = %s.id, ns = s.ns(), iss, sub, "socket authenticated");
    let via = match from {
        Caller::ConnectHandler => Via::Handshake,
        Caller::MessageHandler => Via::Message,
    };
    metrics::authentication("authenticated", via, &session.ns);
    let handler = match handler.call(s.clone(), auth_payload) {
        Ok(handler) => Some(handler),
        Err(e) => {
            tracing::error!(sid = %s.id, error = %e, "the authenticated handler's arguments could not be extracted; it was not called");
            None
        }
    };
    if from == Caller::ConnectHandler {
        // Nothing is locked here: run the handler to its first pending `.await` at once,
        // and spawn a task only if it waits.
        let rest = handler.and_then(poll_once);
        emit_authenticated(auth, &s, session, live);
        if let Some(rest) = rest {
            tokio::spawn(rest);
        }
        return;
    }
    // A task of its own, never polled here: a message handler called us, and socketioxide
    // holds the socket's handler map locked meanwhile, where the application's handler
    // registers its handlers.
    let (auth, session) = (auth.clone(), session.clone());
    tokio::spawn(async move {
        let mut handler = handler;
        let pending = match handler.as_mut() {
            Some(fut) => {
                std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await
            }
            None => false,
        };
        emit_authenticated(&auth, &s, &session, live);
        drop((s, session));
        if let (true, Some(fut)) = (pending, handler) {
            fut.await;
        }
    });
}

/// Leaves the pending room. socketioxide's adapter keeps a socket's set of rooms once it is
/// empty (two hash-table entries, ~250 B per socket); when the pending room is the socket's only
/// room, `leave_all` drops the set with it.
/// Leaves the pending room, or a guest's room (keeping the rooms its guest handler joined).
fn leave_pending<A: Adapter>(s: &Socket<A>) {
    let rooms = s.rooms();
    if rooms.len() == 1 && rooms[0] == PENDING_ROOM {
        s.leave_all();
    } else if rooms.iter().any(|r| r == GUEST_ROOM) {
        s.leave(GUEST_ROOM);
    } else {
        s.leave(PENDING_ROOM);
    }
}

/// Tells the client who it is now (after the first authentication and every refresh), then,
/// while a refresh the server asked for is still awaited, asks again: a request that came
/// before the client heard `authenticated` (or while it was refreshing, which it ignores
/// `token_expiring` meanwhile), or a refresh that did not answer it.
pub(crate) fn emit_authenticated<A: Adapter, C>(
    auth: &JwtAuth<C>,
    s: &Socket<A>,
    session: &Session<C>,
    live: Live<C>,
) {
    let sub = live.user.map(UserId::into_sub);
    let mut payload = AuthenticatedPayload::new(sub, live.exp);
    if let Some(left) = live.expires_in {
        payload = payload.expires_in_ms(u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
    }
    if let Err(e) = s.emit(&auth.inner.gate.events.authenticated, &payload) {
        tracing::debug!(sid = %s.id, error = %e, "could not emit authenticated");
    }
    if let Some(exp) = session.refresh_awaited() {
        emit_token_expiring(auth, s, &TokenExpiringPayload::new(exp, 0));
    }
}

/// Sends `token_expiring`: the one place it is sent from, whether the token expires soon (the
/// warning), the server asks for a fresh token now (`expires_in_ms: 0`), or asks again.
pub(crate) fn emit_token_expiring<A: Adapter, C>(
    auth: &JwtAuth<C>,
    s: &Socket<A>,
    payload: &TokenExpiringPayload,
) {
    if let Err(e) = s.emit(&auth.inner.gate.events.token_expiring, payload) {
        tracing::debug!(sid = %s.id, error = %e, "could not emit token_expiring");
    }
}

/// Polls `future` once, here, and returns it if it has to wait (the caller spawns the rest).
///
/// A verification with its key at hand finishes in that one poll, which saves a task and a
/// trip through the scheduler per socket. A pending future is polled again by its task with a
/// real waker, as the `Future` contract expects. Never for the application's handler from a
/// message handler: socketioxide holds the socket's handler map locked while it calls one,
/// and the application's handler registers handlers (see [`Caller`]).
pub(crate) fn poll_once(mut future: BoxFuture<'static, ()>) -> Option<BoxFuture<'static, ()>> {
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(()) => None,
        Poll::Pending => Some(future),
    }
}
