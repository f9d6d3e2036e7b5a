//! Message mode: clients connect, then emit `authenticate` with `{ token }`. Until then the socket
//! is inert (no handler runs, no broadcast reaches it).
//!
//! ```sh
//! JWT_SECRET=a-32-byte-long-secret-for-hs256! cargo run -p socketioxide-jwt --example message_mode
//! ```
//! Client (stock socket.io-client):
//! ```js
//! const socket = io("http://127.0.0.1:3001");
//! socket.on("connect", () => socket.emit("authenticate", { token })); // every (re)connect
//! socket.on("authenticated", () => socket.emit("whoami", (me) => console.log(me.sub)));
//! socket.on("unauthorized", (err) => console.error(err.data.code)); // then disconnected
//! ```

use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::SocketIo;
use socketioxide_jwt::keys::Keys;
use socketioxide_jwt::{Claims, JwtAuth, JwtLocalAdapter as A, StandardClaims};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = JwtAuth::builder(Keys::hmac(std::env::var("JWT_SECRET")?)).build()?;
    // JwtAdapter keeps unauthenticated sockets out of every broadcast, io.emit included.
    let (layer, io) = SocketIo::builder().with_adapter::<A>(()).build_layer();
    // Runs only once the socket is authenticated; `authenticated` is sent after it registered
    // its handlers.
    io.ns(
        "/",
        auth.on_authenticated(
            async |s: SocketRef<A>, Claims(me): Claims<StandardClaims>| {
                s.on("whoami", async move |ack: AckSender<A>| {
                    ack.send(&*me).ok();
                });
            },
        ),
    );
    let port = std::env::var("PORT").unwrap_or_else(|_| "3001".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, axum::Router::new().layer(layer)).await?;
    Ok(())
}
