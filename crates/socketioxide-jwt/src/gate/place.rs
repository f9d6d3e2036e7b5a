//! The sockets-per-user cap (`JwtAuthBuilder::max_sockets_per_user`): a socket authenticated for
//! the first time takes one of its user's places before it goes live.

use crate::auth::JwtAuth;
use crate::error::AuthError;
use crate::keys::BoxFuture;
use crate::session::Session;
use crate::user_sockets::UserSockets;

/// What taking a place decided.
pub(crate) enum Place {
    /// Taken (or no cap applies): the socket may go live.
    Taken,
    /// The session closed meanwhile (timer, revocation): nothing more to do.
    Closed,
}

/// Takes a place for the session's user; `Err` (forbidden) when the user holds the cap already.
/// `None` when no cap is configured: the caller goes on at once, without a future to poll.
pub(crate) fn take_place<'a, C: Send + Sync>(
    auth: &'a JwtAuth<C>,
    session: &'a Session<C>,
) -> Option<BoxFuture<'a, Result<Place, AuthError>>> {
    let (max, sockets) = auth.inner.gate.user_cap.as_ref()?;
    Some(Box::pin(take(*max, sockets, session)))
}

async fn take<C>(
    max: usize,
    sockets: &UserSockets,
    session: &Session<C>,
) -> Result<Place, AuthError> {
    let Some(sub) = session.read(|st| st.registered().and_then(|r| r.sub.clone())) else {
        return Ok(Place::Taken);
    };
    let Some(place) = sockets.acquire(&sub, max).await else {
        return Err(AuthError::forbidden(format!(
            "too many connections for this user: at most {max} at once; close one and retry"
        )));
    };
    // Dropped (the place given back) if the session closed during the wait.
    if session.update(|st| st.hold_place(place)) {
        Ok(Place::Taken)
    } else {
        Ok(Place::Closed)
    }
}

/// Awaits `taking` when there is one.
pub(crate) async fn place_taken(
    taking: Option<BoxFuture<'_, Result<Place, AuthError>>>,
) -> Result<Place, AuthError> {
    match taking {
        None => Ok(Place::Taken),
        Some(taking) => taking.await,
    }
}
