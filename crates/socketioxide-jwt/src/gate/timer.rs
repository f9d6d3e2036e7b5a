//! The per-socket deadline timer: the authentication timeout while pending, the token's expiry
//! (and the `token_expiring` warning before it) once authenticated.

use std::sync::Weak;

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;
use tokio::sync::watch;
use tokio::time::Instant;

use super::refuse::refuse_socket;
use crate::auth::JwtAuth;
use crate::session::{Due, Session};
use crate::time::wall_clock;

/// Refuses the socket when its deadline passes. Ends when the session is dropped with its
/// socket, or closes.
pub(crate) async fn run_deadline_timer<A: Adapter, C: Send + Sync + 'static>(
    socket: Weak<Socket<A>>,
    session: Weak<Session<C>>,
    mut deadline_rx: watch::Receiver<Option<Instant>>,
    auth: JwtAuth<C>,
) {
    loop {
        let deadline = *deadline_rx.borrow_and_update();
        let fired = match deadline {
            None => false,
            Some(at) => tokio::select! {
                () = tokio::time::sleep_until(at) => true,
                changed = deadline_rx.changed() => {
                    if changed.is_err() { return; }
                    false
                }
            },
        };
        if !fired {
            if deadline.is_none() && deadline_rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let (Some(s), Some(session)) = (socket.upgrade(), session.upgrade()) else {
            return;
        };
        match session.update(|st| st.on_deadline(Instant::now(), wall_clock())) {
            Some(Due::Warn(payload)) => {
                tracing::debug!(sid = %s.id, exp = payload.exp, "token expiring: client warned");
                if let Err(e) = s.emit(&auth.inner.gate.events.token_expiring, &payload) {
                    tracing::debug!(sid = %s.id, error = %e, "could not emit token_expiring");
                }
            }
            Some(Due::Refuse(err)) => {
                // Waiting for `authenticate`, or a token that expired however it came.
                let mode = match err.code() {
                    crate::protocol::ErrorCode::Timeout => "message",
                    _ => auth.inner.gate.mode_label(),
                };
                refuse_socket(s, &err, None, &auth, &session, mode);
                return;
            }
            // The deadline moved (refresh) or the session closed; the loop reads the new one.
            None if session.read(|st| st.deadline().is_none()) => return,
            None => {}
        }
    }
}
