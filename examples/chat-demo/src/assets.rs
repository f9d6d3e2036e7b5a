//! The page's scripts (the JS client and socket.io-client): embedded in the binary at build time
//! (see `build.rs`), or read from `--client-dir`, or missing, in which case the page says so.

use std::path::PathBuf;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

include!(concat!(env!("OUT_DIR"), "/client_assets.rs"));

/// What to run when the binary was built without the JS client.
pub const BUILD_HINT: &str =
    "./scripts/demo.sh (or `npm ci && npm run build` in clients/js, then rebuild chat-demo)";

/// Where the page's scripts come from.
#[derive(Debug, Clone)]
pub enum ClientScripts {
    /// Embedded in the binary at build time.
    Embedded,
    /// Served from a built `clients/js` package on disk (`--client-dir`).
    Dir(PathBuf),
    /// The binary was built without them and no `--client-dir` was given.
    Missing,
}

impl ClientScripts {
    /// `--client-dir` when given, else what the build embedded.
    pub fn choose(client_dir: Option<PathBuf>) -> Self {
        match client_dir {
            Some(dir) => Self::Dir(dir),
            None if CLIENT_ASSETS.is_empty() => Self::Missing,
            None => Self::Embedded,
        }
    }

    /// Why the page cannot work, if it cannot.
    pub fn problem(&self) -> Option<String> {
        match self {
            Self::Embedded => None,
            Self::Dir(dir) if dir.join("dist/index.js").is_file() => None,
            Self::Dir(dir) => Some(format!(
                "--client-dir {} holds no built JS client (no dist/index.js)",
                dir.display()
            )),
            Self::Missing => Some(format!(
                "this binary was built without the page's JS client: run {BUILD_HINT}"
            )),
        }
    }

    /// Routes under `/vendor`.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        match self {
            Self::Embedded => Router::new().route("/vendor/{*path}", get(embedded)),
            Self::Dir(dir) => Router::new()
                .nest_service(
                    "/vendor/socket.io-client",
                    ServeDir::new(dir.join("node_modules/socket.io-client/dist")),
                )
                .nest_service(
                    "/vendor/socketioxide-jwt-client",
                    ServeDir::new(dir.join("dist")),
                ),
            Self::Missing => Router::new(),
        }
    }
}

async fn embedded(Path(path): Path<String>) -> Response {
    let url = format!("/vendor/{path}");
    match CLIENT_ASSETS.iter().find(|(name, _)| *name == url) {
        Some((_, body)) => ([(header::CONTENT_TYPE, "text/javascript")], *body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
