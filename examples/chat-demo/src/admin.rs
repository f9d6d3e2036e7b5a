//! The `/admin/*` routes: revoke tokens, users and login sessions; change a user's rooms. Who
//! may use them: [`require_admin`].

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use socketioxide_jwt::revocation::{RefreshTarget, RevocationError};
use socketioxide_jwt::{AuthError, Claims, ErrorCode, StandardClaims};

use crate::http::{ApiError, AppState};
use crate::rooms;

/// A JSON answer with its status.
type Answer = Result<(StatusCode, Json<serde_json::Value>), ApiError>;

/// The admin rule of the `/admin/*` routes. Admin rights come only from
/// - a token the demo issued itself (its own `iss`: [`AccountPolicy::issued_here`]) with the
///   `admin` role, whose user is an admin in the user database now, or
/// - a token of an issuer named with `--admin-issuer` (its exact `iss`) whose `role` or `roles`
///   claim holds `admin`: that issuer decides who its admins are.
///
/// Any other verified token is refused with `forbidden`, whatever roles it claims: the tokens of
/// `--oidc-issuer` providers, of `--jwks` or `--public-key` issuers, or signed with a shared
/// `--secret` without the demo's `iss` name users of another system, whose admins are not the
/// demo's.
pub async fn require_admin(
    state: &AppState,
    claims: &StandardClaims,
    action: &str,
) -> Result<(), ApiError> {
    let admin = claims.has_role("admin")
        && if state.accounts.issued_here(claims) {
            let sub = claims.sub.clone().unwrap_or_default();
            let role = state.users.role(sub).await.map_err(ApiError::internal)?;
            role.as_deref() == Some("admin")
        } else {
            let named = |iss: &str| state.admin_issuers.iter().any(|a| a == iss);
            claims.iss.as_deref().is_some_and(named)
        };
    if admin {
        Ok(())
    } else {
        Err(AuthError::forbidden(format!("only admins may {action}")).into())
    }
}

#[derive(Deserialize)]
pub struct RoomsRequest {
    sub: String,
    rooms: Vec<String>,
}

/// Changes the chat rooms of one of the demo's users (`{ "sub", "rooms": [...] }`; admins
/// only), then asks that user's sockets, on every instance, for a fresh token at once
/// (`request_refresh`): the page's helper refreshes through `/token/refresh` and the room
/// picker shows the new rooms without a reload. The grant is kept in this instance's memory.
pub async fn set_rooms(
    State(state): State<AppState>,
    Claims(admin): Claims<StandardClaims>,
    body: Result<Json<RoomsRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&state, &admin, "change rooms").await?;
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                r#"expected {{ "sub": "...", "rooms": [...] }} with at most {} rooms of 1 to {} bytes"#,
                rooms::MAX_ROOMS,
                rooms::MAX_ROOM_LEN
            ),
        )
    };
    let Json(req) = body.map_err(|_| bad())?;
    let valid = |r: &String| !r.is_empty() && r.len() <= rooms::MAX_ROOM_LEN;
    if req.rooms.len() > rooms::MAX_ROOMS || !req.rooms.iter().all(valid) {
        return Err(bad());
    }
    let issuer = state.issuer.clone().ok_or_else(ApiError::no_signing_key)?;
    issuer.grants.set(&req.sub, req.rooms.clone());
    let target = RefreshTarget::user_of(issuer.name(), req.sub.clone());
    let asked = state.auth.request_refresh(target).await;
    if let Err(e) = &asked {
        tracing::warn!(error = %e, "refresh request reached this instance only");
    }
    tracing::info!(by = admin.sub.as_deref(), sub = %req.sub, "rooms changed");
    Ok(Json(
        json!({ "sub": req.sub, "rooms": req.rooms, "all_instances": asked.is_ok() }),
    ))
}

#[derive(Deserialize)]
pub struct RevokeRequest {
    sub: Option<String>,
    jti: Option<String>,
    /// With `jti`: the token's `exp` (seconds since the epoch), until when it is revoked. Read
    /// as any JSON value so that a wrong one gets its own message.
    exp: Option<serde_json::Value>,
    /// A token handed in whole, instead of `jti` and `exp`.
    token: Option<String>,
    sid: Option<String>,
    /// With `sub` or `sid`: that issuer's user or session only (`sub` "42" of one provider is
    /// not "42" of another); without: every issuer's.
    iss: Option<String>,
}

const REVOKE_FORMS: &str =
    r#"expected { "sub", "iss"? }, { "sid", "iss"? }, { "jti", "exp" } or { "token" }"#;

/// What a [`RevokeRequest`] asks to revoke: one of its forms, no field left over.
enum Revoke {
    User {
        sub: String,
        iss: Option<String>,
    },
    Session {
        sid: String,
        iss: Option<String>,
    },
    Token {
        jti: String,
        exp: Option<serde_json::Value>,
    },
    Whole(String),
}

impl RevokeRequest {
    fn form(self) -> Result<Revoke, ApiError> {
        Ok(match self {
            Self {
                sub: Some(sub),
                iss,
                sid: None,
                jti: None,
                exp: None,
                token: None,
            } => Revoke::User { sub, iss },
            Self {
                sid: Some(sid),
                iss,
                sub: None,
                jti: None,
                exp: None,
                token: None,
            } => Revoke::Session { sid, iss },
            Self {
                jti: Some(jti),
                exp,
                sub: None,
                sid: None,
                iss: None,
                token: None,
            } => Revoke::Token { jti, exp },
            Self {
                token: Some(token),
                sub: None,
                sid: None,
                jti: None,
                exp: None,
                iss: None,
            } => Revoke::Whole(token),
            _ => {
                return Err(ApiError::bad_request(format!(
                    r#"{REVOKE_FORMS}: "exp" only with "jti", "iss" only with "sub" or "sid""#
                )))
            }
        })
    }
}

/// Revokes every token of a user (`{ "sub", "iss"? }`), of one login session
/// (`{ "sid", "iss"? }`) or one token: `{ "jti", "exp" }` with the token's `exp` (seconds since
/// the epoch), or `{ "token" }` with the token itself (verified as the routes verify it, then
/// revoked by its `jti` and `exp`). One token stays revoked until it would be refused anyway:
/// its `exp` (plus `--leeway-secs`), whatever the demo's own `--token-ttl-secs`; a token expired
/// already needs no revocation: `200` with `"expired": true`, nothing stored. Admins only
/// ([`require_admin`]). Every socket holding such a token, on every instance, is disconnected
/// with `revoked`. `202` when Redis is down: applied here now, on the other instances when it
/// is back.
pub async fn revoke(
    State(state): State<AppState>,
    Claims(admin): Claims<StandardClaims>,
    body: Result<Json<RevokeRequest>, JsonRejection>,
) -> Answer {
    require_admin(&state, &admin, "revoke tokens").await?;
    let Json(req) = body.map_err(|_| ApiError::bad_request(REVOKE_FORMS))?;
    let list = &state.revocations;
    match req.form()? {
        Revoke::User { sub, iss: None } => {
            revoked(&admin, list.revoke_user(&sub).await, json!({ "sub": sub }))
        }
        Revoke::User {
            sub,
            iss: Some(iss),
        } => revoked(
            &admin,
            list.revoke_user_of(&iss, &sub).await,
            json!({ "sub": sub, "iss": iss }),
        ),
        Revoke::Session { sid, iss } => {
            let result = match iss.as_deref() {
                Some(iss) => list.revoke_session_of(iss, &sid).await,
                None => list.revoke_session(&sid).await,
            };
            revoked(&admin, result, json!({ "sid": sid, "iss": iss }))
        }
        Revoke::Token { jti, exp } => {
            let exp = exp.as_ref().and_then(serde_json::Value::as_u64).ok_or_else(|| {
                ApiError::bad_request(
                    r#""jti" needs "exp": the token's expiry, a whole number of seconds since the epoch (the revocation is kept until then)"#,
                )
            })?;
            revoke_token(&state, &admin, jti, exp).await
        }
        Revoke::Whole(token) => match token_id(&state, &token).await? {
            Some((jti, exp)) => revoke_token(&state, &admin, jti, exp).await,
            None => Ok(expired()),
        },
    }
}

/// A whole token's `jti` and `exp`, verified as the routes verify it (`None`: expired already).
async fn token_id(state: &AppState, token: &str) -> Result<Option<(String, u64)>, ApiError> {
    match state.auth.verify(token).await {
        Ok(claims) => match (&claims.jti, claims.exp) {
            (Some(jti), Some(exp)) => Ok(Some((jti.clone(), exp))),
            _ => Err(ApiError::bad_request(
                r#"this token has no "jti" or no "exp": revoke its login session ("sid") or its user ("sub")"#,
            )),
        },
        Err(e) if e.code() == ErrorCode::TokenExpired => Ok(None),
        // Revoked already, or refused for another reason: its claims are not read.
        Err(e) => Err(ApiError::bad_request(format!(
            r#"this token is refused ({}: {}); to revoke it anyway, send its {{ "jti", "exp" }}"#,
            e.code().as_str(),
            e.message()
        ))),
    }
}

/// Revokes the token `jti` until its `exp`, unless it has expired already.
async fn revoke_token(state: &AppState, admin: &StandardClaims, jti: String, exp: u64) -> Answer {
    // A token is accepted until `exp` + the leeway (whole seconds); the list keeps its
    // revocation as long (it knows the leeway of the configuration using it).
    if exp.saturating_add(state.leeway.as_secs()) < jsonwebtoken::get_current_timestamp() {
        return Ok(expired());
    }
    let result = state.revocations.revoke_token(&jti, exp).await;
    revoked(admin, result, json!({ "jti": jti, "exp": exp }))
}

/// The answer for a token that has expired already: refused without a revocation.
fn expired() -> (StatusCode, Json<serde_json::Value>) {
    let note = "this token has expired already: it is refused without a revocation; nothing stored";
    (
        StatusCode::OK,
        Json(json!({ "expired": true, "note": note })),
    )
}

/// The answer for a revocation made by `admin` (`revoked` names what it revoked).
fn revoked(
    admin: &StandardClaims,
    result: Result<(), RevocationError>,
    revoked: serde_json::Value,
) -> Answer {
    let (by, by_iss) = (admin.sub.as_deref(), admin.iss.as_deref());
    tracing::info!(by, by_iss, %revoked, "revocation");
    match result {
        Ok(()) => Ok((StatusCode::OK, Json(json!({ "revoked": revoked })))),
        // Applied on this instance; the others get it when Redis is back.
        Err(RevocationError::Queued(e)) => {
            tracing::warn!(error = %e, "revocation queued for the other instances");
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "revoked": revoked, "queued": true })),
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "revocation applied on this instance only");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the revocation store is unreachable: applied on this instance only; retry",
            ))
        }
    }
}
