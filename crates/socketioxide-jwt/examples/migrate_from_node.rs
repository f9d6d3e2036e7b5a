//! A Node socket.io + socketio-jwt server moved to Rust (docs/MIGRATING-FROM-NODE.md): message
//! mode at the Node server's `path`, `whoami` and a chat broadcast. Its clients (any
//! socket.io-client, 1.x to 4.x: socketioxide's `v4` feature serves 1.x/2.x) keep their code.
//!
//! Pages that loaded the client with `<script src="/socket.io-client/socket.io.js">` (Node's
//! `serveClient`) keep loading it: `SOCKET_IO_CLIENT_JS` names the file to serve there, the
//! `dist/socket.io.js` of the socket.io-client version those pages were written for. Serve the
//! pages themselves as routes of the same router (tower-http's `ServeDir`, for one).
//!
//! ```sh
//! JWT_SECRET=<32+ bytes> SOCKET_IO_CLIENT_JS=node_modules/socket.io-client/dist/socket.io.js \
//!   cargo run -p socketioxide-jwt --example migrate_from_node
//! ```

use socketioxide_jwt::keys::Keys;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;
use socketioxide_jwt::{Claims, JwtAuth, JwtLocalAdapter as A, StandardClaims};

#[derive(serde::Deserialize)]
struct ChatIn {
    text: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = JwtAuth::builder(Keys::hmac(std::env::var("JWT_SECRET")?)) // at least 32 bytes by default
        .timeout(Duration::from_millis(5000))
        .build()?;
    let (sockets, io) = SocketIo::builder()
        .req_path("/socket.io-client") // the Node server's `path`
        .with_adapter::<A>(()) // keeps pending sockets out of broadcasts
        .build_svc();
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
    // Routes first, Socket.IO for the rest: its service answers every path under its own, the
    // client script's included, so that one must be routed before it.
    let mut app = Router::new();
    if let Some(path) = std::env::var_os("SOCKET_IO_CLIENT_JS") {
        let script = std::fs::read(&path)
            .map_err(|e| format!("SOCKET_IO_CLIENT_JS={}: {e}", path.to_string_lossy()))?;
        let script = axum::body::Bytes::from(script);
        let serve = move || {
            let script = script.clone();
            async move { ([(CONTENT_TYPE, "application/javascript")], script) }
        };
        app = app.route("/socket.io-client/socket.io.js", get(serve));
    }
    let app = app.fallback_service(sockets);
    let port = std::env::var("PORT").unwrap_or_else(|_| "3001".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
