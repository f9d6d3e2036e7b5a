//! The sockets-per-user cap (`JwtAuthBuilder::max_sockets_per_user`): a socket authenticated for
//! the first time takes one of its user's places before it goes live.

use crate::auth::JwtAuth;
use crate::claims::RegisteredClaims;
use crate::error::AuthError;
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
/// Without a cap it returns at once; the counting future is boxed, so a configuration without a
/// cap carries a pointer, not that future, in every `authenticate`.
pub(crate) async fn take_place<C>(
    auth: &JwtAuth<C>,
    session: &Session<C>,
    registered: &RegisteredClaims,
) -> Result<Place, AuthError> {
    match (&auth.inner.gate.user_cap, registered.sub.as_deref()) {
        (Some((max, sockets)), Some(sub)) => Box::pin(take(*max, sockets, session, sub)).await,
        // No cap, or a token without `sub` (not counted).
        _ => Ok(Place::Taken),
    }
}

async fn take<C>(
    max: usize,
    sockets: &UserSockets,
    session: &Session<C>,
    sub: &str,
) -> Result<Place, AuthError> {
    let Some(place) = sockets.acquire(sub, max).await else {
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
