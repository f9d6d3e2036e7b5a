//! Memory per held socket: copy the request head out of hyper's read buffer.
//!
//! hyper parses a request's URI and header values as slices of its connection read buffer
//! (8–16 KiB). socketioxide keeps the handshake request's head for the whole life of the socket
//! (`socket.req_parts()`), and with it that entire buffer: about 16 KiB per held socket, more
//! than half of what a connected socket costs. [`CompactHeadLayer`] copies the URI and the header
//! values into one allocation of their own size (typically a few hundred bytes) before
//! socketioxide sees the request, so the read buffer is freed when the connection upgrades.
//! `bench/README.md` has the measurements.

use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue};
use http::{Request, Uri};
use tower_layer::Layer;
use tower_service::Service;

/// A tower layer that copies each Socket.IO request's URI and headers out of hyper's read
/// buffer, so a long-lived socket does not keep that buffer alive.
///
/// Only requests under the Socket.IO path (`/socket.io` by default) are copied; the copy costs
/// well under a microsecond. Everything else about the request is left as it is.
///
/// With axum, wrap the whole `Router` (as with tower-http's `NormalizePath`), not a route inside
/// it: the router stores the original URI in an `OriginalUri` extension before any of its own
/// layers run, and socketioxide keeps the extensions too.
///
/// # Example
/// ```
/// use socketioxide::SocketIo;
/// use socketioxide_jwt::{layer::CompactHeadLayer, JwtLocalAdapter};
/// use tower_layer::Layer as _;
///
/// # async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// let (socket_layer, _io) = SocketIo::builder()
///     .with_adapter::<JwtLocalAdapter>(())
///     .build_layer();
/// let router = axum::Router::new().layer(socket_layer);
/// let app = CompactHeadLayer::new().layer(router);
/// let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
/// axum::serve(listener, app).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CompactHeadLayer {
    path_prefix: std::sync::Arc<str>,
}

impl Default for CompactHeadLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CompactHeadLayer {
    /// Copies the head of requests under `/socket.io`, socketioxide's default path.
    pub fn new() -> Self {
        Self {
            path_prefix: "/socket.io".into(),
        }
    }

    /// Copies the head of requests under this path instead.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.path_prefix = prefix.as_ref().into();
        self
    }
}

impl<S> Layer<S> for CompactHeadLayer {
    type Service = CompactHead<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CompactHead {
            inner,
            path_prefix: self.path_prefix.clone(),
        }
    }
}

/// The service made by [`CompactHeadLayer`].
#[derive(Debug, Clone)]
pub struct CompactHead<S> {
    inner: S,
    path_prefix: std::sync::Arc<str>,
}

impl<S, B> Service<Request<B>> for CompactHead<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.uri().path().starts_with(&*self.path_prefix) {
            self.inner.call(compact_head(req))
        } else {
            self.inner.call(req)
        }
    }
}

/// Returns the request with its URI and header values copied into one buffer of their own.
///
/// A value that cannot be rebuilt (never the case for a head hyper parsed) is kept as it was.
pub fn compact_head<B>(req: Request<B>) -> Request<B> {
    let (mut parts, body) = req.into_parts();
    // Origin-form (`/socket.io/?EIO=4...`), what a server sees, without going through `fmt`.
    let uri_text: std::borrow::Cow<'_, str> = match parts.uri.path_and_query() {
        Some(pq) if parts.uri.scheme().is_none() && parts.uri.authority().is_none() => {
            pq.as_str().into()
        }
        _ => parts.uri.to_string().into(),
    };
    let size = uri_text.len() + parts.headers.values().map(|v| v.len()).sum::<usize>();
    let mut buf = BytesMut::with_capacity(size);
    buf.extend_from_slice(uri_text.as_bytes());
    for value in parts.headers.values() {
        buf.extend_from_slice(value.as_bytes());
    }
    let buf: Bytes = buf.freeze();
    let uri_len = uri_text.len();
    drop(uri_text);

    if let Ok(uri) = Uri::from_maybe_shared(buf.slice(..uri_len)) {
        parts.uri = uri;
    }
    let mut offset = uri_len;
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let copy = buf.slice(offset..offset + value.len());
        offset += value.len();
        let mut copied = HeaderValue::from_maybe_shared(copy).unwrap_or_else(|_| value.clone());
        copied.set_sensitive(value.is_sensitive());
        headers.append(name.clone(), copied);
    }
    parts.headers = headers;
    Request::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `part` points into `buffer`.
    fn inside(buffer: &Bytes, part: &[u8]) -> bool {
        let range = buffer.as_ptr_range();
        range.contains(&part.as_ptr())
    }

    /// A request whose URI and header values are slices of one big buffer, as hyper makes them.
    fn parsed_like_hyper() -> (Bytes, Request<()>) {
        let mut raw = BytesMut::with_capacity(8192);
        raw.extend_from_slice(b"/socket.io/?EIO=4&transport=websocketchat.example.comsecret");
        let raw = raw.freeze();
        let uri = Uri::from_maybe_shared(raw.slice(0..37)).expect("uri");
        let host = HeaderValue::from_maybe_shared(raw.slice(37..53)).expect("host");
        let mut cookie = HeaderValue::from_maybe_shared(raw.slice(53..59)).expect("cookie");
        cookie.set_sensitive(true);
        let req = Request::builder()
            .uri(uri)
            .header(http::header::HOST, host)
            .header(http::header::COOKIE, cookie.clone())
            .header(http::header::COOKIE, cookie)
            .body(())
            .expect("request");
        (raw, req)
    }

    #[test]
    fn the_copy_shares_nothing_with_the_read_buffer_and_keeps_every_value() {
        let (raw, req) = parsed_like_hyper();
        assert!(inside(&raw, req.uri().path().as_bytes()), "precondition");

        let req = compact_head(req);

        assert_eq!(req.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert!(!inside(&raw, req.uri().path().as_bytes()));
        assert_eq!(req.headers()["host"], "chat.example.com");
        let cookies: Vec<_> = req.headers().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["secret", "secret"]);
        for value in req.headers().values() {
            assert!(!inside(&raw, value.as_bytes()));
        }
        assert!(cookies[0].is_sensitive(), "sensitivity is kept");
    }

    #[test]
    fn an_absolute_form_uri_is_copied_whole() {
        let raw = Bytes::from_static(b"http://chat.example.com/socket.io/?EIO=4");
        let req = Request::builder()
            .uri(Uri::from_maybe_shared(raw.clone()).expect("uri"))
            .body(())
            .expect("request");
        let req = compact_head(req);
        assert_eq!(req.uri(), "http://chat.example.com/socket.io/?EIO=4");
        assert!(!inside(&raw, req.uri().path().as_bytes()));
    }

    #[test]
    fn other_paths_are_left_alone() {
        let (raw, req) = parsed_like_hyper();
        let (parts, ()) = req.into_parts();
        let mut other = parts.clone();
        other.uri = Uri::from_static("/login");
        let mut service = CompactHeadLayer::new().layer(tower_service_fn(|req: Request<()>| {
            req.headers()["host"].as_bytes().as_ptr()
        }));
        let host_ptr = service.call(Request::from_parts(other, ())).into_inner();
        assert!(raw.as_ptr_range().contains(&host_ptr.expect("infallible")));
        let host_ptr = service.call(Request::from_parts(parts, ())).into_inner();
        assert!(!raw.as_ptr_range().contains(&host_ptr.expect("infallible")));
    }

    /// A synchronous service from a function, enough to observe what the layer passes on.
    fn tower_service_fn<F, T>(f: F) -> FnService<F>
    where
        F: FnMut(Request<()>) -> T,
    {
        FnService(f)
    }

    struct FnService<F>(F);

    impl<F, T> Service<Request<()>> for FnService<F>
    where
        F: FnMut(Request<()>) -> T,
    {
        type Response = T;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<T, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: Request<()>) -> Self::Future {
            std::future::ready(Ok((self.0)(req)))
        }
    }
}
