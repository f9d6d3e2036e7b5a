//! Handshake mode: the token comes with the connection (Socket.IO's `auth` payload, or
//! `Authorization: Bearer`); a missing or bad one refuses it. `iss` and `aud` are required.
//!
//! ```sh
//! JWT_SECRET=a-32-byte-long-secret-for-hs256! cargo run -p socketioxide-jwt --example handshake_mode
//! ```
//! Client (stock socket.io-client):
//! ```js
//! const socket = io("http://127.0.0.1:3001", { auth: (cb) => cb({ token: currentToken() }) });
//! socket.on("authenticated", ({ sub, exp }) => console.log("connected as", sub));
//! socket.on("connect_error", (err) => console.error(err.message)); // the code, e.g. "token_expired"
//! ```

use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::SocketIo;
use socketioxide_jwt::{keys::Keys, TrustedIssuer};
use socketioxide_jwt::{AuthMode, Claims, JwtAuth, JwtLocalAdapter as A, StandardClaims};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Tokens of this issuer only (a `TrustedIssuer` requires and matches `iss`), for "chat".
    let keys = Keys::hmac(std::env::var("JWT_SECRET")?).audience("chat");
    let auth = JwtAuth::builder(TrustedIssuer::new("https://auth.example.com", keys))
        .mode(AuthMode::Handshake) // AuthMode::Either also waits for `authenticate`
        .build()?;
    let (layer, io) = SocketIo::builder().with_adapter::<A>(()).build_layer();
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
