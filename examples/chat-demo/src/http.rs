//! The REST side: log in, refresh a token, who am I, revoke; the page and its scripts. Routes
//! that need a token take the library's `Claims` extractor: the same verifier as the sockets.
//! The `/admin/*` routes are in [`admin`].

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketioxide_jwt::limits::TrustedProxies;
use socketioxide_jwt::logout::LogoutError;
use socketioxide_jwt::{AuthError, Claims, JwtAuth, RevocationList, StandardClaims};
use std::time::Duration;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::GlobalKeyExtractor;
use tower_governor::GovernorLayer;

use crate::admin;
use crate::assets::ClientScripts;
use crate::cli::Mode;
use crate::cookie::{self, TokenCookie};
use crate::identity::AccountPolicy;
use crate::proxies::ClientKey;
use crate::tokens::{LoginSession, TokenIssuer};
use crate::users::{StoreError, UserStore};

const MAX_FIELD_LEN: usize = 256;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub users: UserStore,
    /// Which tokens need a local account (the identity rule).
    pub accounts: AccountPolicy,
    /// `None` when the demo only verifies (`--public-key`).
    pub issuer: Option<Arc<TokenIssuer>>,
    pub auth: JwtAuth,
    pub revocations: RevocationList,
    /// `--leeway-secs`: a token is accepted until `exp` + this (a `jti` revocation of a token
    /// expired longer ago has nothing to do).
    pub leeway: Duration,
    /// `--admin-issuer`: the other issuers whose tokens may carry admin rights.
    pub admin_issuers: Arc<[String]>,
    pub mode: Mode,
    pub auth_timeout_ms: u64,
    /// The Socket.IO endpoint path (`--path`), for the page.
    pub socket_path: String,
    /// `--token-cookie`: the cookie tokens are also set in.
    pub token_cookie: Option<Arc<TokenCookie>>,
    /// `--room-token-ttl-secs`.
    pub room_token_ttl: Duration,
    /// `--identity-claim`.
    pub identity_claim: Arc<str>,
}

impl FromRef<AppState> for JwtAuth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// Routes; `scripts` serves the page's JS client and socket.io-client; `proxies` says whose
/// forwarding headers give the client's address, for the per-address limits.
pub fn router(state: AppState, scripts: &ClientScripts, proxies: Arc<TrustedProxies>) -> Router {
    let page = match scripts {
        ClientScripts::Missing => include_str!("../web/not-built.html"),
        _ => include_str!("../web/index.html"),
    };
    // Logins per client address: a burst of 10, then one every 2 s; beyond, `429` with
    // `Retry-After` (keyed by the client's address: the peer, or what a trusted proxy says; an
    // IPv6 one by its /64). Each attempt costs an Argon2 hash; with the hashing threads' bounded
    // queue (`hashing`), a flood from one address cannot burn the login for everyone else.
    // Back-channel logouts alike, on a quota of their own sized for an identity provider (one
    // address) ending many sessions at once: a burst of 100, then 20 a second. Each costs a
    // signature check, not a password hash.
    let login_limit = per_address_limit(&proxies, Duration::from_secs(2), 10);
    let logout_limit = per_address_limit(&proxies, Duration::from_millis(50), 100);
    // And in all: a burst of 1000, then 200 a second (what the hashing threads take anyway).
    // The per-address maps are bounded on their own (`proxies::MAX_KEYS`).
    let all_logins = all_clients_limit(Duration::from_millis(5), 1000);
    let all_logouts = all_clients_limit(Duration::from_millis(5), 1000);
    Router::new()
        .route("/", get(move || async move { Html(page) }))
        .route(
            "/app.js",
            get(|| async { script(include_str!("../web/app.js")) }),
        )
        .route(
            "/style.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css")],
                    include_str!("../web/style.css"),
                )
            }),
        )
        // Browsers ask for an icon: the page names this one, and `/favicon.ico` is the same.
        .route("/favicon.svg", get(|| async { favicon() }))
        .route("/favicon.ico", get(|| async { favicon() }))
        .route("/config.json", get(config))
        // The limit for all before the one per address, so that a refused request adds no key.
        .route("/login", post(login).layer((all_logins, login_limit)))
        .route("/token/refresh", post(refresh))
        .route("/logout", post(cookie::logout))
        .route("/rooms/{room}/token", post(crate::room_tokens::room_token))
        .route("/api/me", get(me))
        .route("/admin/revoke", post(admin::revoke))
        .route("/admin/rooms", post(admin::set_rooms))
        .route(
            "/backchannel-logout",
            post(backchannel_logout).layer((logout_limit, all_logouts)),
        )
        .merge(scripts.routes())
        .with_state(state)
}

/// A limit per client address: a burst of `burst` requests, then one every `every` (`429` with
/// `Retry-After` beyond).
fn per_address_limit(
    proxies: &Arc<TrustedProxies>,
    every: Duration,
    burst: u32,
) -> GovernorLayer<ClientKey, governor::middleware::NoOpMiddleware, axum::body::Body> {
    let key = ClientKey::new(proxies.clone());
    let limits = GovernorConfigBuilder::default()
        .period(every)
        .burst_size(burst)
        .key_extractor(key.clone())
        .finish()
        .expect("a positive period and burst");
    key.feeds(limits.limiter().clone());
    // Forget addresses whose quota has refilled, and give the memory back: the map stays as
    // small as the recent clients.
    let limiter = limits.limiter().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
    GovernorLayer::new(limits)
}

/// A limit on every client together: a burst of `burst` requests, then one every `every`.
fn all_clients_limit(
    every: Duration,
    burst: u32,
) -> GovernorLayer<GlobalKeyExtractor, governor::middleware::NoOpMiddleware, axum::body::Body> {
    let limits = GovernorConfigBuilder::default()
        .period(every)
        .burst_size(burst)
        .key_extractor(GlobalKeyExtractor)
        .finish()
        .expect("a positive period and burst");
    GovernorLayer::new(limits)
}

fn favicon() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        include_str!("../web/favicon.svg"),
    )
}

fn script(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript")], body)
}

/// A refused request: the demo's own errors as `{ "error": code, "message": text }`, and token
/// refusals as the library answers them (RFC 6750 status and the contract's error object).
pub enum ApiError {
    Demo {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    Token(AuthError),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Token(e)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Demo {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn no_signing_key() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "verification_only",
            "this server only verifies tokens (started with --public-key); it cannot issue them",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Demo {
                status,
                code,
                message,
            } => (status, Json(json!({ "error": code, "message": message }))).into_response(),
            Self::Token(e) => e.into_response(),
        }
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize)]
pub struct TokenResponse {
    pub token: String,
}

async fn config(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({
        "mode": state.mode.as_str(),
        "authTimeoutMs": state.auth_timeout_ms,
        "path": state.socket_path,
        // The page keeps no token: the cookie carries it.
        "tokenCookie": state.token_cookie.is_some(),
    }))
}

async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(req) = body.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            r#"expected a JSON body: { "username": "...", "password": "..." }"#,
        )
    })?;
    if req.username.len() > MAX_FIELD_LEN || req.password.len() > MAX_FIELD_LEN {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "username or password too long",
        ));
    }
    let issuer = state.issuer.clone().ok_or_else(ApiError::no_signing_key)?;
    let user = state
        .users
        .verify(req.username.clone(), req.password)
        .await
        .map_err(|e| match e {
            StoreError::Busy(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many logins at once; retry in a moment",
            ),
            e => ApiError::internal(e),
        })?
        .ok_or_else(|| {
            tracing::info!(username = %req.username, "login refused");
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong username or password",
            )
        })?;
    tracing::info!(sub = %user.username, "login");
    // A new login session: its `sid` and `auth_time` stay the same across refreshes.
    let token = issuer
        .issue(&user.username, &user.role, &LoginSession::new())
        .map_err(ApiError::internal)?;
    Ok((
        cookie::with_token(&state, &token),
        Json(TokenResponse { token }),
    ))
}

/// A fresh token for the holder of a valid one the demo issued (`Authorization: Bearer`).
async fn refresh(
    State(state): State<AppState>,
    Claims(claims): Claims<StandardClaims>,
) -> Result<impl IntoResponse, ApiError> {
    let issuer = state.issuer.clone().ok_or_else(ApiError::no_signing_key)?;
    if !state.accounts.issued_here(&claims) {
        return Err(AuthError::forbidden(
            "this token was issued elsewhere: refresh it with its issuer",
        )
        .into());
    }
    let sub = claims.sub.clone().unwrap_or_default();
    let role = state
        .users
        .role(sub.clone())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(crate::identity::no_account)?;
    // The same login session (past --max-session-age-secs, its token is refused above).
    let token = issuer
        .issue(&sub, &role, &LoginSession::of(&claims))
        .map_err(ApiError::internal)?;
    Ok((
        cookie::with_token(&state, &token),
        Json(TokenResponse { token }),
    ))
}

/// The verified claims of the request's token: what the server knows about its holder.
async fn me(Claims(me): Claims<StandardClaims>) -> Json<StandardClaims> {
    Json((*me).clone())
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// OpenID Connect Back-Channel Logout 1.0 (§2.5, §2.8): a provider (--oidc-issuer, with
/// --oidc-client-id) posts `logout_token`; the sockets of the login session or user it names
/// are disconnected on every instance. `200` when done, `400` with `{ error,
/// error_description }` for an invalid or replayed token, `503` if it could not be recorded.
async fn backchannel_logout(
    State(state): State<AppState>,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> impl IntoResponse {
    let no_store = || [(header::CACHE_CONTROL, "no-store")];
    let refuse = |status: StatusCode, description: String| {
        let body = json!({ "error": "invalid_request", "error_description": description });
        (status, no_store(), Json(body))
    };
    let Ok(Form(form)) = form else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "expected the form field logout_token".into(),
        );
    };
    match state.auth.backchannel_logout(&form.logout_token).await {
        Ok(logout) => {
            tracing::info!(iss = %logout.iss, sid = logout.sid.as_deref(), sub = logout.sub.as_deref(), "back-channel logout");
            (StatusCode::OK, no_store(), Json(json!({})))
        }
        Err(LogoutError::Unavailable(e)) => {
            tracing::warn!(error = %e, "back-channel logout applied on this instance only");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the logout could not be recorded; retry".into(),
            )
        }
        Err(e) => {
            tracing::info!(error = %e, "back-channel logout refused");
            refuse(StatusCode::BAD_REQUEST, e.to_string())
        }
    }
}
