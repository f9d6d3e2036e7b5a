//! Accepting connections: the listener and the layers that belong to the transport, not to the
//! app (what a held socket costs, how fast a small frame leaves).

use std::future::IntoFuture;
use std::net::SocketAddr;

use axum::extract::Request;
use axum::serve::ListenerExt;
use axum::ServiceExt;
use socketioxide_jwt::layer::CompactHeadLayer;
use tower_layer::Layer;

/// A listener with a backlog of 1024 (tokio's default, 128, drops a reconnect storm, every
/// client at once after a deploy, into SYN retries).
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves `app` until the process ends. `socket_path` is the Socket.IO endpoint (`--path`).
pub fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    socket_path: &str,
) -> impl std::future::Future<Output = std::io::Result<()>> {
    // Nagle off: small Socket.IO frames go out at once (else ~40 ms with delayed ACKs).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // Outside the router, so even axum's `OriginalUri` holds the copy: without it every held
    // socket keeps hyper's 8–16 KiB read buffer alive (see `CompactHeadLayer`).
    let app = CompactHeadLayer::new().path_prefix(socket_path).layer(app);
    // With the peer address, so that pending places are shared fairly between addresses.
    let app = ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
    axum::serve(listener, app).into_future()
}
