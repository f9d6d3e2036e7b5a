//! The REST side: log in, refresh a token, the page and its scripts.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketioxide_jwt::{JwtAuth, RevocationList, StandardClaims};
use std::time::Duration;

use crate::assets::ClientScripts;
use crate::cli::Mode;
use crate::identity::AccountPolicy;
use crate::tokens::TokenIssuer;
use crate::users::UserStore;

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
    /// Lifetime of issued tokens (how long a revoked `jti` is kept).
    pub token_ttl: Duration,
    pub mode: Mode,
    pub auth_timeout_ms: u64,
}

/// Routes; `scripts` serves the page's JS client and socket.io-client.
pub fn router(state: AppState, scripts: &ClientScripts) -> Router {
    let page = match scripts {
        ClientScripts::Missing => include_str!("../web/not-built.html"),
        _ => include_str!("../web/index.html"),
    };
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
        .route("/config.json", get(config))
        .route("/login", post(login))
        .route("/token/refresh", post(refresh))
        .route("/admin/revoke", post(revoke))
        .merge(scripts.routes())
        .with_state(state)
}

fn script(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript")], body)
}

/// A JSON error: `{ "error": code, "message": text }`.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server",
        )
    }

    fn no_signing_key() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "verification_only",
            "this server only verifies tokens (started with --public-key); it cannot issue them",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct TokenResponse {
    token: String,
}

async fn config(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({ "mode": state.mode.as_str(), "authTimeoutMs": state.auth_timeout_ms }))
}

async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
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
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            tracing::info!(username = %req.username, "login refused");
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong username or password",
            )
        })?;
    tracing::info!(sub = %user.username, "login");
    let token = issuer
        .issue(&user.username, &user.role)
        .map_err(ApiError::internal)?;
    Ok(Json(TokenResponse { token }))
}

#[derive(Deserialize)]
struct RefreshRequest {
    token: String,
}

/// A fresh token for the holder of a valid one (`Authorization: Bearer`, or `{ "token" }`).
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenResponse>, ApiError> {
    let issuer = state.issuer.clone().ok_or_else(ApiError::no_signing_key)?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let from_body = || {
        serde_json::from_slice::<RefreshRequest>(&body)
            .ok()
            .map(|b| b.token)
    };
    let token = bearer.or_else(from_body).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "credentials_required",
            "send the current token as Authorization: Bearer",
        )
    })?;
    let claims = state.auth.verify(&token).await.map_err(|e| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            e.code().as_str(),
            e.message().to_owned(),
        )
    })?;
    if !state.accounts.issued_here(&claims) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token was issued elsewhere: refresh it with its issuer",
        ));
    }
    let sub = claims.sub.clone().unwrap_or_default();
    let role = state
        .users
        .role(sub.clone())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the user no longer exists",
            )
        })?;
    let token = issuer.issue(&sub, &role).map_err(ApiError::internal)?;
    Ok(Json(TokenResponse { token }))
}

#[derive(Deserialize)]
struct RevokeRequest {
    sub: Option<String>,
    jti: Option<String>,
}

/// The verified claims of the `Authorization: Bearer` token.
async fn bearer_claims(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Arc<StandardClaims>, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "credentials_required",
                "send a token as Authorization: Bearer",
            )
        })?;
    state.auth.verify(token).await.map_err(|e| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            e.code().as_str(),
            e.message().to_owned(),
        )
    })
}

/// Revokes every token of a user (`{ "sub" }`) or one token (`{ "jti" }`); admins only. Every
/// socket holding such a token, on every instance, is disconnected with `revoked`.
async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<RevokeRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let admin = bearer_claims(&state, &headers).await?;
    if !admin.has_role("admin") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only admins may revoke tokens",
        ));
    }
    let Json(req) = body.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            r#"expected { "sub": "..." } or { "jti": "..." }"#,
        )
    })?;
    let (result, revoked) = match (req.sub, req.jti) {
        (Some(sub), None) => (
            state.revocations.revoke_user(&sub).await,
            json!({ "sub": sub }),
        ),
        (None, Some(jti)) => {
            let until = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
                + state.token_ttl.as_secs();
            (
                state.revocations.revoke_token(&jti, until).await,
                json!({ "jti": jti }),
            )
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                r#"send exactly one of "sub" and "jti""#,
            ));
        }
    };
    tracing::info!(by = admin.sub.as_deref(), %revoked, "revocation");
    result.map_err(|e| {
        tracing::warn!(error = %e, "revocation applied on this instance only");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the revocation store is unreachable: applied on this instance only; retry",
        )
    })?;
    Ok(Json(json!({ "revoked": revoked })))
}
