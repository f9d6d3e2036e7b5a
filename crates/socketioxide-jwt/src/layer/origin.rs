//! Cross-site WebSocket hijacking protection: an allow-list of `Origin`s for the Socket.IO
//! endpoint.
//!
//! Browsers send `Origin` with every WebSocket handshake and every cross-origin request, but the
//! same-origin policy does not apply to WebSockets, and CORS headers do not stop them: a page on
//! any site can open a socket to your server. If the server authenticates with something the
//! browser attaches by itself (cookies) that page acts as the user. [`OriginLayer`] refuses such
//! requests with `403 Forbidden` before Socket.IO sees them.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{header, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

/// A tower layer that refuses Socket.IO requests whose `Origin` is not on an allow-list.
///
/// Only requests under the Socket.IO path (`/socket.io` by default) are checked. Requests
/// without an `Origin` (non-browser clients) pass, unless [`OriginLayer::require_origin`].
///
/// # Example
/// ```
/// use socketioxide::{adapter::LocalAdapter, SocketIo};
/// use socketioxide_jwt::{layer::OriginLayer, JwtAdapter};
/// let (socket_layer, _io) = SocketIo::builder().with_adapter::<JwtAdapter<LocalAdapter>>(()).build_layer();
/// let app = axum::Router::new()
///     .layer(socket_layer)
///     .layer(OriginLayer::new(["https://chat.example.com"]));
/// # let _: axum::Router = app;
/// ```
#[derive(Debug, Clone)]
pub struct OriginLayer {
    allowed: Arc<HashSet<String>>,
    path_prefix: Arc<str>,
    require_origin: bool,
}

impl OriginLayer {
    /// Allows these origins (`scheme://host[:port]`, compared case-insensitively).
    pub fn new<I, O>(origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let allowed = origins.into_iter().map(|o| normalize(o.as_ref())).collect();
        Self {
            allowed: Arc::new(allowed),
            path_prefix: "/socket.io".into(),
            require_origin: false,
        }
    }

    /// Checks requests under this path instead. Defaults to `/socket.io`, socketioxide's.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.path_prefix = prefix.as_ref().into();
        self
    }

    /// Refuses requests without an `Origin` header too (browser-only deployments).
    #[must_use]
    pub fn require_origin(mut self) -> Self {
        self.require_origin = true;
        self
    }

    /// Whether a request to `path` with this `Origin` may pass.
    pub fn allows(&self, path: &str, origin: Option<&str>) -> bool {
        if !path.starts_with(&*self.path_prefix) {
            return true;
        }
        match origin {
            None => !self.require_origin,
            Some(origin) => self.allowed.contains(&normalize(origin)),
        }
    }
}

/// An origin as compared: trimmed, without a trailing `/`, lowercase.
pub(crate) fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl<S> Layer<S> for OriginLayer {
    type Service = OriginCheck<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OriginCheck {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`OriginLayer`].
#[derive(Debug, Clone)]
pub struct OriginCheck<S> {
    inner: S,
    layer: OriginLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for OriginCheck<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = OriginFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("\u{0}"));
        if self.layer.allows(req.uri().path(), origin) {
            return OriginFuture::Inner {
                future: self.inner.call(req),
            };
        }
        tracing::warn!(
            origin,
            path = req.uri().path(),
            "request from a foreign origin refused"
        );
        let mut forbidden = Response::new(ResBody::default());
        *forbidden.status_mut() = StatusCode::FORBIDDEN;
        OriginFuture::Refused {
            response: Some(forbidden),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`OriginCheck`].
    #[project = OriginFutureProj]
    #[allow(missing_docs)]
    pub enum OriginFuture<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<B>> },
    }
}

impl<F, B, E> Future for OriginFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            OriginFutureProj::Inner { future } => future.poll(cx),
            OriginFutureProj::Refused { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                None => Poll::Pending,
            },
        }
    }
}

impl<F, B> std::fmt::Debug for OriginFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list() {
        let layer = OriginLayer::new(["https://Chat.Example.com/"]);
        assert!(layer.allows("/socket.io/", Some("https://chat.example.com")));
        assert!(!layer.allows("/socket.io/", Some("https://evil.example")));
        assert!(!layer.allows("/socket.io/", Some("null")));
        assert!(layer.allows("/socket.io/", None));
        assert!(
            layer.allows("/login", Some("https://evil.example")),
            "other paths are not checked"
        );
        assert!(!layer.clone().require_origin().allows("/socket.io/", None));
    }
}
