//! `POST /rooms/{room}/token`: a room token (see `socketioxide_jwt::room_grant`) for one of the
//! caller's rooms, living `--room-token-ttl-secs`; the socket event `join { room, token }`
//! (`chat`) lets the caller's socket into that room with it.

use axum::extract::{Path, State};
use axum::Json;
use socketioxide_jwt::{AuthError, Claims, StandardClaims};

use crate::http::{ApiError, AppState, TokenResponse};
use crate::rooms;

/// Only for a room the caller's token grants (its `rooms` claim).
pub async fn room_token(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Claims(claims): Claims<StandardClaims>,
) -> Result<Json<TokenResponse>, ApiError> {
    let issuer = state.issuer.clone().ok_or_else(ApiError::no_signing_key)?;
    if !rooms::in_claims(&claims).any(|granted| granted == room) {
        return Err(
            AuthError::forbidden(format!("your token does not grant the room {room:?}")).into(),
        );
    }
    let sub = claims.sub.clone().unwrap_or_default();
    // The room token names the user as the caller's token does.
    let identity = match &*state.identity_claim {
        "sub" => None,
        claim => claims.extra.get(claim).map(|v| (claim, v.clone())),
    };
    let token = issuer
        .issue_room_token(
            &sub,
            &rooms::socket_room(&room),
            state.room_token_ttl,
            identity,
        )
        .map_err(ApiError::internal)?;
    Ok(Json(TokenResponse { token }))
}
