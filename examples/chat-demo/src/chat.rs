//! The real-time side: `whoami`, `chat message` (to everyone, or to a room the token grants) and
//! presence, for authenticated sockets; with `--allow-guests`, guests too, in the `lobby` room
//! only (they hear it, authenticated users speak there).

use serde::Deserialize;
use serde_json::json;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::SocketIo;
use socketioxide_jwt::extract::SocketClaimsExt;
use socketioxide_jwt::protocol::ErrorObject;
use socketioxide_jwt::{Claims, ErrorCode, GatedAdapter, JwtAuth, StandardClaims};

use crate::rooms;

const MAX_MESSAGE_CHARS: usize = 500;

/// `join` `{ room, token }`: a room token from `POST /rooms/{room}/token`.
#[derive(Deserialize)]
struct JoinIn {
    room: String,
    token: String,
}

#[derive(Deserialize)]
struct ChatIn {
    text: String,
    /// A chat room the sender's token grants; none: everyone.
    #[serde(default)]
    room: Option<String>,
}

/// The room guests and authenticated users share with `--allow-guests`.
pub const LOBBY: &str = "lobby";

/// Registers the chat on `/`, on any gated adapter (local, or Redis for several processes);
/// `guests`: whether sockets without a token stay, as guests. With a remote adapter, the
/// returned value must be awaited.
pub fn register<A: GatedAdapter>(io: &SocketIo<A>, auth: &JwtAuth, guests: bool) -> A::InitRes {
    let users = auth.clone();
    let authenticated = auth.on_authenticated(move |socket: SocketRef<A>, io: SocketIo<A>| {
        if guests {
            socket.join(rooms::socket_room(LOBBY));
        }
        on_authenticated(socket, io, users.clone())
    });
    if guests {
        io.ns("/", authenticated.or_guest(on_guest::<A>))
    } else {
        io.ns("/", authenticated)
    }
}

/// A guest: in the lobby, `whoami` says so, and it may not speak.
async fn on_guest<A: GatedAdapter>(socket: SocketRef<A>) {
    socket.join(rooms::socket_room(LOBBY));
    socket.on("whoami", async |ack: AckSender<A>| {
        ack.send(&json!({ "guest": true })).ok();
    });
    socket.on("chat message", async |ack: AckSender<A>| {
        let refusal = ErrorObject::new(
            ErrorCode::Forbidden,
            "guests may read the lobby; log in to speak",
        );
        ack.send(&refusal).ok();
    });
}

async fn on_authenticated<A: GatedAdapter>(socket: SocketRef<A>, io: SocketIo<A>, auth: JwtAuth) {
    socket.on(
        "whoami",
        async |Claims(me): Claims<StandardClaims>, ack: AckSender<A>| {
            ack.send(&*me).ok();
        },
    );
    socket.on("chat message", on_chat_message::<A>);
    let joining = auth.clone();
    socket.on(
        "join",
        async move |socket: SocketRef<A>, TryData(join): TryData<JoinIn>, ack: AckSender<A>| {
            let Ok(join) = join else {
                let refusal = ErrorObject::new(ErrorCode::Forbidden, "send { room, token }");
                ack.send(&refusal).ok();
                return;
            };
            // Room tokens name the socket room (`room:<name>`), as /rooms/{room}/token makes them.
            let room = rooms::socket_room(&join.room);
            match joining.join_room(&socket, &room, &join.token).await {
                Ok(grant) => {
                    let ms = u64::try_from(grant.expires_in.as_millis()).unwrap_or(u64::MAX);
                    ack.send(&json!({ "ok": true, "expires_in_ms": ms })).ok()
                }
                Err(e) => ack.send(&e.to_object()).ok(),
            };
        },
    );
    let on_leave = auth.clone();
    socket.on_disconnect(async move |socket: SocketRef<A>, io: SocketIo<A>| {
        // Who it was, also when it was refused: the library's user (its `sub`, or the
        // --identity-claim), keyed as its per-user room is.
        let me = socket.jwt_user::<StandardClaims>();
        let room = me
            .zip(on_leave.user_room_prefix())
            .map(|(user, prefix)| format!("{prefix}{}", user.key()));
        let leaving = room.as_deref().map(|room| (room, &socket));
        broadcast_presence(&io, &on_leave, leaving).await;
    });
    broadcast_presence(&io, &auth, None).await;
}

async fn on_chat_message<A: GatedAdapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    // Authenticated sockets only (a guest's handler answers guests).
    Claims(_): Claims<StandardClaims>,
    TryData(msg): TryData<ChatIn>,
    ack: AckSender<A>,
) {
    let (text, room) = match msg {
        Ok(m) if !m.text.trim().is_empty() && m.text.chars().count() <= MAX_MESSAGE_CHARS => {
            (m.text, m.room)
        }
        _ => {
            ack.send(&json!({ "error": "bad_message", "message": format!("send {{ text }} with 1 to {MAX_MESSAGE_CHARS} characters") })).ok();
            return;
        }
    };
    // The user as the library names it (`sub`, or the --identity-claim).
    let from = socket
        .jwt_user::<StandardClaims>()
        .map(|user| user.sub().to_owned())
        .unwrap_or_default();
    // JwtAdapter keeps sockets that have not authenticated out of this broadcast.
    let sent = match room {
        None => {
            io.emit("chat message", &json!({ "from": from, "text": text }))
                .await
        }
        Some(room) => {
            // Its rooms decide: the ones its token's claims grant (rooms_from_claims keeps them
            // joined), the lobby (--allow-guests), and the ones a room token let it into.
            let joined = socket
                .rooms()
                .iter()
                .any(|r| *r == rooms::socket_room(&room));
            if !joined {
                let refusal = ErrorObject::new(
                    ErrorCode::Forbidden,
                    format!("your token does not grant the room {room:?}"),
                );
                ack.send(&refusal).ok();
                return;
            }
            let out = json!({ "from": from, "text": text, "room": room });
            io.to(rooms::socket_room(&room))
                .emit("chat message", &out)
                .await
        }
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "chat broadcast failed");
    }
    ack.send(&json!({ "ok": true })).ok();
}

/// Tells everyone who is online, from the per-user rooms (a user is `<iss>#<sub>` when
/// the demo trusts issuers: `--issuer`, `--oidc-issuer`). `leaving`: the room of a socket that is disconnecting (still in its rooms
/// until its handler returns).
async fn broadcast_presence<A: GatedAdapter>(
    io: &SocketIo<A>,
    auth: &JwtAuth,
    leaving: Option<(&str, &SocketRef<A>)>,
) {
    let prefix = auth.user_room_prefix().unwrap_or("user:");
    let rooms = match io.rooms().await {
        Ok(rooms) => rooms,
        Err(e) => return tracing::warn!(error = %e, "could not list rooms"),
    };
    let mut users = Vec::new();
    for room in rooms {
        let Some(user) = room.strip_prefix(prefix) else {
            continue;
        };
        if let Some((leaving_room, socket)) = leaving {
            if leaving_room == room {
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
