//! The real-time side: `whoami`, `chat message` and presence, for authenticated sockets only.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::SocketIo;
use socketioxide_jwt::{Claims, GatedAdapter, JwtAuth, StandardClaims};

const MAX_MESSAGE_CHARS: usize = 500;

/// The prefix of the library's per-user rooms (`user:`): presence is read from them.
type UserRoomPrefix = Arc<str>;

#[derive(Deserialize)]
struct ChatIn {
    text: String,
}

/// Registers the chat on `/`, on any gated adapter (local, or Redis for several processes).
/// With a remote adapter, the returned value must be awaited.
pub fn register<A: GatedAdapter>(io: &SocketIo<A>, auth: &JwtAuth) -> A::InitRes {
    let prefix: UserRoomPrefix = auth.user_room_prefix().unwrap_or("user:").into();
    io.ns(
        "/",
        auth.on_authenticated(move |socket: SocketRef<A>, io: SocketIo<A>| {
            on_authenticated(socket, io, prefix.clone())
        }),
    )
}

async fn on_authenticated<A: GatedAdapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    prefix: UserRoomPrefix,
) {
    socket.on(
        "whoami",
        async |Claims(me): Claims<StandardClaims>, ack: AckSender<A>| {
            ack.send(&*me).ok();
        },
    );
    socket.on("chat message", on_chat_message::<A>);
    let on_leave = prefix.clone();
    socket.on_disconnect(
        async move |socket: SocketRef<A>, io: SocketIo<A>, Claims(me): Claims<StandardClaims>| {
            let leaving = me.sub.as_deref().map(|sub| (sub, &socket));
            broadcast_presence(&io, &on_leave, leaving).await;
        },
    );
    broadcast_presence(&io, &prefix, None).await;
}

async fn on_chat_message<A: GatedAdapter>(
    io: SocketIo<A>,
    Claims(me): Claims<StandardClaims>,
    TryData(msg): TryData<ChatIn>,
    ack: AckSender<A>,
) {
    let text = match msg {
        Ok(m) if !m.text.trim().is_empty() && m.text.chars().count() <= MAX_MESSAGE_CHARS => m.text,
        _ => {
            ack.send(&json!({ "error": "bad_message", "message": format!("send {{ text }} with 1 to {MAX_MESSAGE_CHARS} characters") })).ok();
            return;
        }
    };
    let from = me.sub.clone().unwrap_or_default();
    // JwtAdapter keeps sockets that have not authenticated out of this broadcast.
    if let Err(e) = io
        .emit("chat message", &json!({ "from": from, "text": text }))
        .await
    {
        tracing::warn!(error = %e, "chat broadcast failed");
    }
    ack.send(&json!({ "ok": true })).ok();
}

/// Tells everyone who is online, from the per-user rooms. `leaving` is a socket that is
/// disconnecting (still in its rooms until its handler returns).
async fn broadcast_presence<A: GatedAdapter>(
    io: &SocketIo<A>,
    prefix: &str,
    leaving: Option<(&str, &SocketRef<A>)>,
) {
    let rooms = match io.rooms().await {
        Ok(rooms) => rooms,
        Err(e) => return tracing::warn!(error = %e, "could not list rooms"),
    };
    let mut users = Vec::new();
    for room in rooms {
        let Some(user) = room.strip_prefix(prefix) else {
            continue;
        };
        if let Some((sub, socket)) = leaving {
            if sub == user {
                let others = io
                    .within(room.clone())
                    .fetch_sockets()
                    .await
                    .map(|s| s.iter().filter(|r| r.data().id != socket.id).count());
                if matches!(others, Ok(0)) {
                    continue;
                }
            }
        }
        users.push(user.to_owned());
    }
    users.sort();
    if let Err(e) = io.emit("presence", &json!({ "users": users })).await {
        tracing::warn!(error = %e, "presence broadcast failed");
    }
}
