//! One verifier for REST and sockets: `Claims<T>` is an axum extractor too, with the same keys,
//! claim rules, revocation list and application check. Bad tokens get RFC 6750 answers.
//!
//! ```sh
//! JWT_SECRET=a-32-byte-long-secret-for-hs256! cargo run -p socketioxide-jwt --example rest_and_socket
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3001/api/me
//! ```

use axum::routing::get;
use axum::{Json, Router};
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::SocketIo;
use socketioxide_jwt::keys::Keys;
use socketioxide_jwt::{Claims, JwtAuth, JwtLocalAdapter as A, StandardClaims};

/// `401` without a token or with a bad one, `403` when the application check refuses it.
async fn me(Claims(me): Claims<StandardClaims>) -> Json<StandardClaims> {
    Json((*me).clone())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = JwtAuth::builder(Keys::hmac(std::env::var("JWT_SECRET")?))
        .check(|claims| async move {
            match claims.has_role("banned") {
                true => Err(socketioxide_jwt::AuthError::forbidden(
                    "this account is suspended",
                )),
                false => Ok(()),
            }
        })
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
    let app = Router::new()
        .route("/api/me", get(me))
        .with_state(auth) // the extractor finds the configuration in the state
        .layer(layer);
    let port = std::env::var("PORT").unwrap_or_else(|_| "3001".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
