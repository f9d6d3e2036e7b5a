//! What a socket holds once authenticated, acquired before the one session update that
//! authenticates it: its entry in the revocation list (tracked by the verifier before it checks
//! the token there) and its place under the sockets-per-user cap
//! (`JwtAuthBuilder::max_sockets_per_user`).

use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;

use super::live::emit_token_expiring;
use super::refuse::refuse_socket;
use crate::auth::JwtAuth;
use crate::error::AuthError;
use crate::identity::UserId;
use crate::revocation::{LiveFn, ToSocket};
use crate::session::{Holdings, Session};
use crate::user_sockets::{UserPlace, UserSockets};
use crate::verify::Verified;

/// Verifies a token, tracked in the revocation list before its check: a revocation of it at
/// any moment reaches the socket. A refresh holds nothing more (the session swaps its entry for
/// this one); a first authentication also takes a place ([`verify_first`]).
pub(crate) async fn verify_refresh<A, C>(
    auth: &JwtAuth<C>,
    s: &Arc<Socket<A>>,
    session: &Arc<Session<C>>,
    token: &str,
) -> Result<(Verified<C>, Holdings), AuthError>
where
    A: Adapter,
    C: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    verify_tracked(auth, s, session, token, false).await
}

/// Verifies a token, tracked (see [`verify_refresh`]); `first`: a new socket's.
async fn verify_tracked<A, C>(
    auth: &JwtAuth<C>,
    s: &Arc<Socket<A>>,
    session: &Arc<Session<C>>,
    token: &str,
    first: bool,
) -> Result<(Verified<C>, Holdings), AuthError>
where
    A: Adapter,
    C: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (verified, ticket) = auth
        .inner
        .verifier
        .verify_tracked(token, first, || kick(auth, s, session))
        .await?;
    Ok((
        verified,
        Holdings {
            ticket,
            place: None,
        },
    ))
}

/// What the revocation list does to a tracked socket: a revocation refuses it, pending or not;
/// a refresh request asks it for a fresh token (see [`ask_for_refresh`]).
fn kick<A, C>(auth: &JwtAuth<C>, s: &Arc<Socket<A>>, session: &Arc<Session<C>>) -> LiveFn
where
    A: Adapter,
    C: Send + Sync + 'static,
{
    let (socket, weak_session, kick_auth) =
        (Arc::downgrade(s), Arc::downgrade(session), auth.clone());
    Box::new(move |to: &ToSocket<'_>| {
        let (Some(s), Some(session)) = (socket.upgrade(), weak_session.upgrade()) else {
            return;
        };
        match to {
            ToSocket::Revoked => {
                let via = kick_auth.inner.gate.default_via();
                refuse_socket(s, &AuthError::revoked(), None, &kick_auth, &session, via);
            }
            ToSocket::RefreshNow { room, since } => {
                let in_room = room
                    .is_none_or(|(ns, room)| s.ns() == ns && s.rooms().iter().any(|r| r == room));
                if in_room {
                    ask_for_refresh(&kick_auth, &s, &session, *since);
                }
            }
        }
    })
}

/// Asks an authenticated socket for a fresh token now: `token_expiring` with nothing left
/// (`expires_in_ms: 0`), and a refusal (`token_expired`) if none comes within the grace period.
fn ask_for_refresh<A: Adapter, C>(
    auth: &JwtAuth<C>,
    s: &Socket<A>,
    session: &Session<C>,
    since: u64,
) {
    let grace = auth.inner.gate.refresh_grace;
    let payload = session.request_refresh(tokio::time::Instant::now(), since, grace);
    if let Some(payload) = payload {
        tracing::debug!(sid = %s.id, "refresh requested: client asked for a fresh token");
        emit_token_expiring(auth, s, &payload);
    }
}

/// Verifies a socket's first token and acquires what it will hold (its revocation entry, its
/// user place). Err: the refusal.
pub(crate) async fn verify_first<A, C>(
    auth: &JwtAuth<C>,
    s: &Arc<Socket<A>>,
    session: &Arc<Session<C>>,
    token: &str,
) -> Result<(Verified<C>, Holdings), AuthError>
where
    A: Adapter,
    C: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (mut verified, mut holdings) = verify_tracked(auth, s, session, token, true).await?;
    holdings.place = take_place(auth, verified.user.as_ref().map(UserId::key)).await?;
    if holdings.place.is_some() {
        // Counting may have waited on Redis: the session measures `exp` from now, not from
        // before (which would give the socket that wait beyond `exp`).
        verified.checked_at = crate::time::wall_clock();
    }
    Ok((verified, holdings))
}

/// Takes a place for the user; `Err` (forbidden) when the user holds the cap already. Without
/// a cap it returns at once; the counting future is boxed, so a configuration without a cap
/// carries a pointer, not that future, in every `authenticate`.
async fn take_place<C>(
    auth: &JwtAuth<C>,
    sub: Option<&str>,
) -> Result<Option<UserPlace>, AuthError> {
    match (&auth.inner.gate.user_cap, sub) {
        (Some((max, sockets)), Some(sub)) => Box::pin(take(*max, sockets, sub)).await.map(Some),
        // No cap, or a token without `sub` (not counted).
        _ => Ok(None),
    }
}

async fn take(max: usize, sockets: &UserSockets, sub: &str) -> Result<UserPlace, AuthError> {
    sockets.acquire(sub, max).await.ok_or_else(|| {
        AuthError::forbidden(format!(
            "too many connections for this user: at most {max} at once; close one and retry"
        ))
    })
}
