//! What a socket's deadline does when it passes: the authentication timeout while pending, the
//! `token_expiring` warning and the token's expiry once authenticated. The deadlines themselves
//! sit in the configuration's queue (`deadlines`); this is the per-socket entry.

use std::sync::{Arc, Weak};

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;
use tokio::time::Instant;

use super::live::emit_token_expiring;
use super::refuse::refuse_socket;
use crate::auth::JwtAuth;
use crate::deadlines::{Armed, Deadlines, Expire};
use crate::metrics::Via;
use crate::protocol::ErrorCode;
use crate::session::{Due, Session};
use crate::time::wall_clock;

/// A socket's entry in the deadline queue.
pub(crate) struct SocketDeadline<A: Adapter, C> {
    socket: Weak<Socket<A>>,
    session: Weak<Session<C>>,
    auth: JwtAuth<C>,
    armed: Armed,
}

impl<A: Adapter, C: Send + Sync + 'static> SocketDeadline<A, C> {
    pub(crate) fn new(
        socket: Weak<Socket<A>>,
        session: Weak<Session<C>>,
        auth: JwtAuth<C>,
    ) -> Self {
        Self {
            socket,
            session,
            auth,
            armed: Armed::default(),
        }
    }
}

impl<A: Adapter, C: Send + Sync + 'static> Expire for SocketDeadline<A, C> {
    fn deadlines(&self) -> &Arc<Deadlines> {
        &self.auth.inner.gate.deadlines
    }

    fn armed(&self) -> &Armed {
        &self.armed
    }

    /// Refuses the socket when its deadline passed, or warns it that the token expires soon.
    /// A deadline that moved meanwhile (a refresh) is left to the re-armed entry.
    fn expire(self: Arc<Self>) {
        let (Some(s), Some(session)) = (self.socket.upgrade(), self.session.upgrade()) else {
            return;
        };
        let auth = &self.auth;
        match session.update(|st| st.on_deadline(Instant::now(), wall_clock())) {
            Some(Due::Warn(payload)) => {
                tracing::debug!(sid = %s.id, exp = payload.exp, "token expiring: client warned");
                emit_token_expiring(auth, &s, &payload);
            }
            Some(Due::Refuse(err)) => {
                // Waiting for `authenticate`, or a token that expired however it came.
                let via = match err.code() {
                    ErrorCode::Timeout => Via::Message,
                    _ => auth.inner.gate.default_via(),
                };
                refuse_socket(s, &err, None, auth, &session, via);
            }
            None => {}
        }
    }
}
