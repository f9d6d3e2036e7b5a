//! Rooms granted by the claims (`JwtAuthBuilder::rooms_from_claims`): joined when a socket goes
//! live, derived again at every refresh.

use std::collections::HashSet;

use socketioxide::adapter::Adapter;
use socketioxide::socket::Socket;

use crate::auth::JwtAuth;
use crate::protocol::PENDING_ROOM;

/// The rooms `claims` grant, without the names a claim must never reach: the pending room and
/// per-user rooms (another user's room would hand over their messages).
fn granted<C>(auth: &JwtAuth<C>, claims: &C) -> HashSet<String> {
    let Some(rooms) = &auth.inner.rooms else {
        return HashSet::new();
    };
    let user_prefix = auth.user_room_prefix();
    rooms(claims)
        .into_iter()
        .filter(|room| {
            let allowed = room != PENDING_ROOM
                && !user_prefix.is_some_and(|p| room.starts_with(p))
                && !room.is_empty();
            if !allowed {
                tracing::warn!(
                    room,
                    "a room granted by claims was not joined: reserved name"
                );
            }
            allowed
        })
        .collect()
}

/// Joins the rooms `claims` grant (first authentication).
pub(crate) fn join_granted<A: Adapter, C>(auth: &JwtAuth<C>, s: &Socket<A>, claims: &C) {
    let rooms: Vec<String> = granted(auth, claims).into_iter().collect();
    if !rooms.is_empty() {
        s.join(rooms);
    }
}

/// After a refresh: leaves the rooms `before` granted that `after` does not, joins the new ones.
pub(crate) fn regrant<A: Adapter, C>(auth: &JwtAuth<C>, s: &Socket<A>, before: &C, after: &C) {
    let (old, new) = (granted(auth, before), granted(auth, after));
    let left: Vec<String> = old.difference(&new).cloned().collect();
    let joined: Vec<String> = new.difference(&old).cloned().collect();
    if !left.is_empty() {
        tracing::debug!(sid = %s.id, ?left, "rooms no longer granted: left");
        s.leave(left);
    }
    if !joined.is_empty() {
        tracing::debug!(sid = %s.id, ?joined, "rooms newly granted: joined");
        s.join(joined);
    }
}
