#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapter;
mod authorize;
mod claims;
mod compact;
mod config;
mod error;
mod extract;
#[doc(hidden)]
pub mod __fuzz {
    //! Fuzzing entry points; not a public API.
    pub use crate::fuzz::*;
}
mod fuzz;
mod gate;
mod handler;
#[cfg(feature = "jwks")]
mod jwks;
mod keys;
mod limits;
mod origin;
pub mod protocol;
mod revocation;
mod session;
mod token;

pub use adapter::{AuthenticatedOperators, GatedAdapter, JwtAdapter};
pub use authorize::Require;
pub use claims::{RegisteredClaims, StandardClaims};
pub use compact::{compact_head, CompactHead, CompactHeadLayer};
pub use config::{
    AuthMode, ClientIpFn, EventNames, JwtAuth, JwtAuthBuilder, DEFAULT_AUTH_TIMEOUT,
    DEFAULT_LEEWAY, DEFAULT_MAX_AUTH_ATTEMPTS_PER_MINUTE, DEFAULT_MAX_PENDING,
    DEFAULT_MAX_TOKEN_LEN, DEFAULT_MIN_HMAC_SECRET_LEN, DEFAULT_USER_ROOM_PREFIX,
};
pub use error::{
    AuthError, ConfigError, ErrorCode, ErrorData, ErrorObject, ERROR_TYPE, SERVER_BUSY,
};
pub use extract::{Claims, ClaimsRejection, MaybeClaims, SocketClaimsExt};
pub use gate::{OnAuthenticated, ViaAuthenticated};
pub use handler::{AuthenticatedHandler, ExtractError};
#[cfg(feature = "jwks")]
pub use jwks::{Jwks, JwksError, JwksOptions, OidcProvider};
pub use keys::{BoxFuture, KeyFamily, KeyResolver, VerificationKey};
pub use limits::FailedAuthLimit;
pub use origin::{OriginCheck, OriginFuture, OriginLayer};
#[cfg(feature = "redis")]
pub use revocation::RedisRevocationOptions;
pub use revocation::{Revocation, RevocationError, RevocationList, DEFAULT_MAX_TOKEN_LIFETIME};

pub use jsonwebtoken::{self, Algorithm};

/// [`JwtAdapter`] over socketioxide's in-memory adapter: the adapter of a single-process server.
pub type JwtLocalAdapter = JwtAdapter<socketioxide::adapter::LocalAdapter>;
