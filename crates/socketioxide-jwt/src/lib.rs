#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Private modules, one job each; what users name is re-exported below.
mod app_handler;
mod auth;
mod authorize;
#[cfg(feature = "axum")]
mod axum;
mod client_ip;
pub mod credentials;
mod deadlines;
mod error;
mod forced_refresh;
mod gate;
mod issuer;
mod metrics;
mod session;
mod time;
mod user_sockets;
mod verify;

pub mod adapter;
mod builder;
pub mod claims;
pub mod extract;
mod future;
pub mod identity;
#[cfg(feature = "jwks")]
pub mod jwks;
pub mod keys;
pub mod layer;
pub mod limits;
pub mod logout;
pub mod protocol;
pub mod revocation;
pub mod room_grant;
#[cfg(feature = "ssf")]
pub mod ssf;

pub mod handler {
    //! Handlers for authenticated sockets: the connect handler [`OnAuthenticated`] (made by
    //! [`JwtAuth::on_authenticated`](crate::JwtAuth::on_authenticated)), the application's
    //! [`AuthenticatedHandler`], and [`Require`] for per-event authorization (made by
    //! [`JwtAuth::require`](crate::JwtAuth::require)), and guests
    //! ([`OnAuthenticated::or_guest`]: [`Guests`], or [`NoGuests`]).
    pub use crate::app_handler::{AuthenticatedHandler, ExtractError, ViaAuthenticated};
    pub use crate::authorize::Require;
    pub use crate::gate::{GuestHandler, Guests, NoGuests, OnAuthenticated};
}

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;

/// How many sockets of this process hold a session (pending, guest or authenticated), every
/// configuration together: what leak checks (the soak test, `bench/soak.py`) watch return to 0.
#[doc(hidden)]
pub fn __sessions_held() -> usize {
    session::sessions_held()
}

pub use adapter::{GatedAdapter, JwtAdapter, JwtLocalAdapter};
pub use auth::{AuthMode, JwtAuth};
pub use builder::JwtAuthBuilder;
pub use claims::StandardClaims;
pub use error::{AuthError, ConfigError};
pub use extract::Claims;
pub use issuer::{KeySource, TrustedIssuer};
pub use keys::VerificationKey;
pub use protocol::ErrorCode;
pub use revocation::RevocationList;

pub use future::BoxFuture;
pub use jsonwebtoken::{self, Algorithm};
