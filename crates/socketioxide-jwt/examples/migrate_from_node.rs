//! A Node socket.io + socketio-jwt server of the seed's kind, moved to Rust
//! (docs/MIGRATING-FROM-NODE.md): message mode at the seed's path, `whoami` and a chat broadcast.
//! Its clients (any socket.io-client, 1.x to 4.x) keep their code.
//!
//! `JWT_SECRET=<32+ bytes> cargo run -p socketioxide-jwt --example migrate_from_node`

use std::time::Duration;

use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;
use socketioxide_jwt::{Claims, JwtAuth, JwtLocalAdapter as A, StandardClaims};

#[derive(serde::Deserialize)]
struct ChatIn {
    text: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = JwtAuth::builder()
        .hmac_secret(std::env::var("JWT_SECRET")?) // at least 32 bytes by default
        .timeout(Duration::from_millis(5000))
        .build()?;
    let (layer, io) = SocketIo::builder()
        .req_path("/socket.io-client") // the Node server's `path`
        .with_adapter::<A>(()) // keeps pending sockets out of broadcasts
        .build_layer();
    io.ns(
        "/",
        auth.on_authenticated(async |s: SocketRef<A>| {
            s.on(
                "whoami",
                async |Claims(me): Claims<StandardClaims>, ack: AckSender<A>| {
                    ack.send(&*me).ok();
                },
            );
            s.on(
                "chat message",
                async |io: SocketIo<A>,
                       Claims(me): Claims<StandardClaims>,
                       Data(msg): Data<ChatIn>| {
                    let out = serde_json::json!({ "from": me.sub, "text": msg.text });
                    io.emit("chat message", &out).await.ok();
                },
            );
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, axum::Router::new().layer(layer)).await?;
    Ok(())
}
