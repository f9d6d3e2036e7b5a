//! `--token-cookie NAME`: the token also travels in an `HttpOnly` cookie, so that the page never
//! has to keep it. `/login` and `/token/refresh` set it, `/logout` clears it; the library reads
//! it on socket handshakes and REST requests from the origins allowed to use it.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};

use crate::http::AppState;

/// The token cookie: its name, and whether it is `Secure` (every page origin is https).
#[derive(Debug, Clone)]
pub struct TokenCookie {
    name: String,
    secure: bool,
}

impl TokenCookie {
    /// The cookie `name` for pages at `origins`: `Secure` when they are all https. A `__Host-`
    /// name needs that (browsers drop it otherwise), and a name must be a cookie name.
    pub fn new(name: &str, origins: &[String]) -> Result<Self, String> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            return Err(format!(
                "--token-cookie {name:?} is not a cookie name (letters, digits, !#$%&'*+-.^_`|~)"
            ));
        }
        let secure = !origins.is_empty() && origins.iter().all(|o| o.starts_with("https://"));
        if name.starts_with("__Host-") && !secure {
            return Err(format!(
                "--token-cookie {name}: a __Host- cookie must be Secure, and the page's origins \
                 (--allowed-origin) are not all https"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            secure,
        })
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Set-Cookie` for `token`, living `max_age_secs` (the token's lifetime).
    pub fn set(&self, token: &str, max_age_secs: u64) -> HeaderValue {
        self.header(token, max_age_secs)
    }

    /// `Set-Cookie` that removes it.
    pub fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age_secs: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}",
            self.name
        );
        // A token is base64url and dots, the name checked: always a valid header value.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// The origins whose pages may use the cookie: `--allowed-origin`, else the demo's own address
/// (and `localhost` for a loopback one).
pub fn origins(allowed: &[String], addr: SocketAddr) -> Vec<String> {
    if !allowed.is_empty() {
        return allowed.to_vec();
    }
    let mut own = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        own.push(format!("http://localhost:{}", addr.port()));
        own.push(format!("http://127.0.0.1:{}", addr.port()));
    }
    own
}

/// The `Set-Cookie` headers that go with a token answer (none without `--token-cookie`).
pub fn with_token(
    state: &AppState,
    token: &str,
) -> AppendHeaders<Option<(header::HeaderName, HeaderValue)>> {
    let ttl = state.issuer.as_ref().map_or(0, |i| i.ttl().as_secs());
    AppendHeaders(
        state
            .token_cookie
            .as_ref()
            .map(|cookie| (header::SET_COOKIE, cookie.set(token, ttl))),
    )
}

/// `POST /logout`: clears the token cookie (`204`). The token itself stays valid until it
/// expires or is revoked: the page forgets it, as a page keeping it in storage would.
pub async fn logout(State(state): State<AppState>) -> impl IntoResponse {
    let clear = state
        .token_cookie
        .as_ref()
        .map(|cookie| (header::SET_COOKIE, cookie.clear()));
    (StatusCode::NO_CONTENT, AppendHeaders(clear))
}
