//! Rooms authorized when joined: a **room token** (a short-lived JWT typed `room+jwt`, naming
//! a room and the socket's user, signed by the keys that sign its tokens) lets an authenticated
//! socket into that room until the room token expires, with a warning first
//! (`room_expiring`), and not a moment longer once the room token, or its user, is revoked, on
//! every instance behind the same revocation list.
//!
//! For rooms a token's claims can list, [`rooms_from_claims`](crate::JwtAuthBuilder::rooms_from_claims)
//! is simpler; for a yes/no over the claims, guard the application's own `join` handler with
//! [`JwtAuth::require`](crate::JwtAuth::require). Room tokens are for rooms no claim can list
//! (thousands of conversations), granted one at a time by the application's REST side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::{Sid, Socket};
use tokio::sync::oneshot;

use crate::auth::JwtAuth;
use crate::claims::RegisteredClaims;
use crate::error::AuthError;
use crate::extract::SocketClaimsExt;
use crate::protocol::{ErrorCode, RoomExpiringPayload, GUEST_ROOM, PENDING_ROOM};
use crate::revocation::{LiveTicket, ToSocket};
use crate::time::{until_unix, wall_clock};

/// The most rooms one socket holds by room tokens at once.
pub const MAX_ROOM_GRANTS: usize = 64;

/// A room joined with a room token: which, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomGrant {
    /// The room joined.
    pub room: String,
    /// How long until the socket leaves it (the room token's `exp` + leeway, by the server's
    /// clock).
    pub expires_in: Duration,
}

/// The rooms a socket holds by room tokens: each with what ends it early (its timer task, told
/// by dropping the sender; its revocation entry).
#[derive(Default)]
struct RoomGrants(Mutex<HashMap<String, Held>>);

struct Held {
    _cancel: oneshot::Sender<()>,
    _ticket: Option<LiveTicket>,
}

impl RoomGrants {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Joins `socket` (authenticated with this configuration) to `room` on the strength of a
    /// room token: typed `room+jwt`, signed by the keys that sign its tokens, for the same
    /// user, with `"room": room`, an `exp`, not revoked. The socket stays until the room token
    /// expires (its `exp` + leeway): `room_expiring` (`{ room, expires_in_ms }`) is sent as
    /// `token_expiring` is for the socket (the same lead, at most half the room token's life),
    /// then the socket leaves the room; joining again with a later room token extends it.
    /// Revoking the room token (its `jti`), its user or its `sid` ends it at once, on every
    /// instance sharing the revocation list (`room_expiring` with `expires_in_ms: 0`).
    ///
    /// # Errors
    /// `forbidden` for a socket that is not authenticated here, a room token for another user
    /// or room, a reserved room (the pending or guests' room, a per-user room), or more than
    /// [`MAX_ROOM_GRANTS`] rooms; `invalid_token` for a token that is not a valid room token
    /// (a login token included); `token_expired`, `revoked`.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use socketioxide::extract::{AckSender, Data, SocketRef};
    /// use socketioxide_jwt::{JwtAuth, JwtLocalAdapter as A};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Join { room: String, token: String }
    ///
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
    /// let handler = auth.clone();
    /// let _ = auth.on_authenticated(async move |socket: SocketRef<A>| {
    ///     let auth = handler.clone();
    ///     socket.on("join", async move |socket: SocketRef<A>, Data(j): Data<Join>, ack: AckSender<A>| {
    ///         match auth.join_room(&socket, &j.room, &j.token).await {
    ///             Ok(grant) => ack.send(&serde_json::json!({ "ok": true, "expires_in_ms": grant.expires_in.as_millis() as u64 })).ok(),
    ///             Err(e) => ack.send(&e.to_object()).ok(),
    ///         };
    ///     });
    /// });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn join_room<A: Adapter>(
        &self,
        socket: &Socket<A>,
        room: &str,
        token: &str,
    ) -> Result<RoomGrant, AuthError> {
        let registered = self.verify_grant(socket, room, token).await?;
        let (expires_in, warn_in) = self.grant_times(registered.exp.unwrap_or_default());

        let grants = match socket.extensions.get::<Arc<RoomGrants>>() {
            Some(grants) => grants,
            None => {
                let grants = Arc::new(RoomGrants::default());
                socket.extensions.insert(grants.clone());
                grants
            }
        };
        let ops = socket.local();
        let sid = socket.id;
        let event = self.inner.gate.events.room_expiring.clone();
        let ticket = self.inner.verifier.revocations().map(|list| {
            let (ops, room, grants) = (ops.clone(), room.to_owned(), grants.clone());
            let event = event.clone();
            list.track(
                &registered,
                Box::new(move |told: &ToSocket<'_>| {
                    if matches!(told, ToSocket::Revoked) {
                        end_grant(&ops, sid, &room, &grants, Some(&event));
                    }
                }),
            )
        });
        let (cancel, cancelled) = oneshot::channel();
        {
            let mut held = grants.lock();
            if !held.contains_key(room) && held.len() >= MAX_ROOM_GRANTS {
                return Err(AuthError::forbidden(
                    "too many rooms joined with room tokens",
                ));
            }
            held.insert(
                room.to_owned(),
                Held {
                    _cancel: cancel,
                    _ticket: ticket,
                },
            );
        }
        // Revoked between the check and the tracking: it would not be told again.
        if self
            .inner
            .verifier
            .revocations()
            .is_some_and(|list| list.is_revoked(&registered))
        {
            grants.lock().remove(room);
            return Err(AuthError::new(ErrorCode::Revoked));
        }
        socket.join(room.to_owned());
        tokio::spawn(expire_grant(
            ops,
            sid,
            room.to_owned(),
            grants,
            event,
            warn_in,
            expires_in,
            cancelled,
        ));
        Ok(RoomGrant {
            room: room.to_owned(),
            expires_in,
        })
    }

    /// The claims of `token`, a room token for this socket's user and for `room`, which the
    /// socket may join (authenticated, not a room the library keeps).
    async fn verify_grant<A: Adapter>(
        &self,
        socket: &Socket<A>,
        room: &str,
        token: &str,
    ) -> Result<RegisteredClaims, AuthError> {
        let Some(user) = socket.jwt_user::<C>() else {
            return Err(AuthError::forbidden("authenticate before joining rooms"));
        };
        if !socket.is_authenticated::<C>() {
            return Err(AuthError::forbidden("authenticate before joining rooms"));
        }
        if room == PENDING_ROOM
            || room == GUEST_ROOM
            || self.user_room_prefix().is_some_and(|p| room.starts_with(p))
        {
            return Err(AuthError::forbidden("this room cannot be joined"));
        }
        let (registered, token_user, granted) =
            self.inner.verifier.verify_room_token(token).await?;
        // The user as the library keys it (with one issuer the `sub` alone, whichever `iss`
        // each token carries; with several, `iss#sub`).
        if token_user.as_ref().map(crate::identity::UserId::key) != Some(user.key()) {
            return Err(AuthError::forbidden("this room token is for another user"));
        }
        if granted != room {
            return Err(AuthError::forbidden("this room token is for another room"));
        }
        Ok(registered)
    }

    /// How long a grant expiring at `exp` lasts (with the leeway), and when `room_expiring`
    /// warns (never before half its lifetime), from now.
    fn grant_times(&self, exp: u64) -> (Duration, Option<Duration>) {
        let now_unix = wall_clock();
        let expires_in = until_unix(exp, self.inner.gate.leeway, now_unix);
        let lifetime = until_unix(exp, Duration::ZERO, now_unix);
        let warn_in = self
            .inner
            .gate
            .expiry_warning
            .map(|lead| lifetime - lead.min(lifetime / 2));
        (expires_in, warn_in)
    }
}

/// Waits out a grant: warns at `warn_in`, ends it at `expires_in`; stops early when the grant
/// is replaced, revoked or the socket gone (its sender dropped).
#[allow(clippy::too_many_arguments)]
async fn expire_grant<A: Adapter>(
    ops: BroadcastOperators<A>,
    sid: Sid,
    room: String,
    grants: Arc<RoomGrants>,
    event: String,
    warn_in: Option<Duration>,
    expires_in: Duration,
    mut cancelled: oneshot::Receiver<()>,
) {
    let started = tokio::time::Instant::now();
    if let Some(warn_in) = warn_in {
        tokio::select! {
            _ = &mut cancelled => return,
            () = tokio::time::sleep(warn_in) => {}
        }
        if let Some(socket) = ops.get_socket(sid) {
            let left = expires_in.saturating_sub(started.elapsed());
            let payload = RoomExpiringPayload::new(&room, left);
            if let Err(e) = socket.emit(&event, &payload) {
                tracing::debug!(sid = %sid, error = %e, "could not emit room_expiring");
            }
        }
    }
    tokio::select! {
        _ = &mut cancelled => return,
        () = tokio::time::sleep_until(started + expires_in) => {}
    }
    end_grant(&ops, sid, &room, &grants, None);
}

/// Ends a grant: the socket leaves the room, the grant is forgotten. `revoked`: the event to
/// tell the client with (`expires_in_ms: 0`), for a grant ended before its time.
fn end_grant<A: Adapter>(
    ops: &BroadcastOperators<A>,
    sid: Sid,
    room: &str,
    grants: &RoomGrants,
    revoked: Option<&str>,
) {
    let ended = grants.lock().remove(room);
    if ended.is_none() {
        return;
    }
    if let Some(socket) = ops.get_socket(sid) {
        socket.leave(room.to_owned());
        if let Some(event) = revoked {
            let payload = RoomExpiringPayload::new(room, Duration::ZERO);
            if let Err(e) = socket.emit(event, &payload) {
                tracing::debug!(sid = %sid, error = %e, "could not emit room_expiring");
            }
        }
        let revoked = revoked.is_some();
        tracing::info!(sid = %sid, ns = socket.ns(), room, revoked, "left a room its room token granted");
    }
    // The grant's revocation entry goes after the registry told every socket (never under
    // its lock: see `revocation::live`).
    drop(ended);
}

#[cfg(test)]
mod tests {
    use crate::protocol::is_room_token_type;

    #[test]
    fn room_token_types() {
        for typ in [
            "room+jwt",
            "ROOM+JWT",
            "application/room+jwt",
            "Application/Room+JWT",
        ] {
            assert!(is_room_token_type(typ), "{typ}");
        }
        for typ in [
            "JWT",
            "at+jwt",
            "room",
            "application/",
            "application/jwt",
            "xroom+jwt",
            "room+jwt ",
            "",
        ] {
            assert!(!is_room_token_type(typ), "{typ}");
        }
    }
}
