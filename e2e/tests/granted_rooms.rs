//! `rooms_from_claims`: the rooms a token grants are joined when the socket is authenticated, and
//! derived again on every refresh; reserved names (another user's room) are never joined.

use serde::Deserialize;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide_jwt::{keys::Keys, JwtAuthBuilder};
use socketioxide_jwt::{Claims, JwtAuth};
use socketioxide_jwt_e2e::*;

#[derive(Debug, Deserialize)]
struct RoomClaims {
    sub: String,
    #[serde(default)]
    rooms: Vec<String>,
}

fn token(sub: &str, rooms: &[&str]) -> String {
    sign(&json!({ "sub": sub, "exp": now() + 600, "rooms": rooms }))
}

/// `say { room, text }`: to the members of `room:<room>` (or of the raw room name `to`).
fn install(io: &Io, auth: &JwtAuth<RoomClaims>) {
    io.ns(
        "/",
        auth.on_authenticated(async |socket: SocketRef<A>| {
            socket.on(
                "say",
                async |io: socketioxide::SocketIo<A>,
                       Claims(me): Claims<RoomClaims>,
                       Data(msg): Data<Value>,
                       ack: AckSender<A>| {
                    let room = match (msg["room"].as_str(), msg["to"].as_str()) {
                        (Some(room), _) => format!("room:{room}"),
                        (None, Some(raw)) => raw.to_owned(),
                        _ => return,
                    };
                    let out = json!({ "from": me.sub, "text": msg["text"] });
                    io.to(room).emit("said", &out).await.ok();
                    ack.send(&json!({"ok": true})).ok();
                },
            );
        }),
    );
}

/// Sends `text` to `room` from `from` and waits for the server's ack (the broadcast was made).
async fn say(c: &mut Client, from: &str, room: &str, text: &str) {
    c.emit_ack(from, "say", json!([{ "room": room, "text": text }]), text)
        .await;
    c.expect_ack(from, text).await;
}

fn heard(c: &Client, id: &str) -> Vec<String> {
    c.history(id)
        .iter()
        .filter(|m| m["kind"] == "event" && m["event"] == "said")
        .map(|m| m["args"][0]["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn granted_rooms_are_joined_and_derived_again_on_refresh() {
    let auth = JwtAuthBuilder::<RoomClaims>::new(Keys::hmac(SECRET))
        .rooms_from_claims(|c: &RoomClaims| {
            c.rooms
                .iter()
                .map(|r| format!("room:{r}"))
                .collect::<Vec<_>>()
        })
        .build()
        .unwrap();
    let server = Server::start(|io| install(io, &auth)).await;
    let mut c = Client::start().await;
    let url = server.url("/");
    c.login("alice", &url, &token("alice", &["tea", "garden"]))
        .await;
    c.login("bob", &url, &token("bob", &["tea"])).await;
    c.login("carol", &url, &token("carol", &[])).await;

    say(&mut c, "alice", "tea", "tea-1").await;
    say(&mut c, "alice", "garden", "garden-1").await;
    c.expect_event("bob", "said").await;
    // Alice's messages reach bob in order: once "tea-1" is in, "garden-1" would be before the
    // next one to arrive; carol is in no room and hears from the next broadcast to everyone.
    say(&mut c, "alice", "tea", "tea-2").await;
    wait_for_text(&mut c, "bob", "tea-2").await;
    assert_eq!(heard(&c, "bob"), ["tea-1", "tea-2"], "bob is only in tea");
    assert!(heard(&c, "carol").is_empty());

    // Bob's refreshed token grants garden instead of tea: he leaves one and joins the other.
    c.emit_ack(
        "bob",
        "authenticate",
        json!([{ "token": token("bob", &["garden"]) }]),
        "r",
    )
    .await;
    assert_eq!(c.expect_ack("bob", "r").await, json!({"ok": true}));
    say(&mut c, "alice", "tea", "tea-3").await;
    say(&mut c, "alice", "garden", "garden-2").await;
    wait_for_text(&mut c, "bob", "garden-2").await;
    assert_eq!(
        heard(&c, "bob"),
        ["tea-1", "tea-2", "garden-2"],
        "tea left, garden joined"
    );
    // Alice's own rooms were untouched by bob's refresh.
    assert_eq!(
        heard(&c, "alice"),
        ["tea-1", "garden-1", "tea-2", "tea-3", "garden-2"]
    );
}

async fn wait_for_text(c: &mut Client, id: &str, text: &str) {
    c.expect(
        |m| m["id"] == id && m["event"] == "said" && m["args"][0]["text"] == text,
        &format!("{text} on {id}"),
    )
    .await;
}

#[tokio::test]
async fn a_claim_never_puts_a_socket_in_another_users_room_or_the_pending_room() {
    let auth = JwtAuthBuilder::<RoomClaims>::new(Keys::hmac(SECRET))
        .user_rooms()
        // Raw names, unprefixed: the library must still refuse the reserved ones.
        .rooms_from_claims(|c: &RoomClaims| c.rooms.clone())
        .build()
        .unwrap();
    let server = Server::start(|io| install(io, &auth)).await;
    let mut c = Client::start().await;
    let url = server.url("/");
    c.login("alice", &url, &token("alice", &[])).await;
    c.login(
        "mallory",
        &url,
        &token(
            "mallory",
            &["user:alice", "socketioxide-jwt:pending", "lobby"],
        ),
    )
    .await;
    for to in ["user:alice", "lobby"] {
        c.emit_ack("alice", "say", json!([{ "to": to, "text": to }]), to)
            .await;
        c.expect_ack("alice", to).await;
    }
    wait_for_text(&mut c, "mallory", "lobby").await;
    assert_eq!(heard(&c, "mallory"), ["lobby"], "not alice's room");
    assert_eq!(heard(&c, "alice"), ["user:alice"]);
}
