#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! - `machine`: the state machine. Every decision (when to refresh, whether a refusal can be
//!   recovered from, how long to wait after `server_busy`), with the time passed in.
//! - `driver`: the glue over rust_socketio. It feeds callbacks to the machine and carries out
//!   its effects; every task it starts ends with the client.
//! - [`AuthClientBuilder`] and [`AuthClient`]: the public face.
//! - [`protocol`], [`TokenSource`], [`Error`]: the wire names, where tokens come from, what
//!   goes wrong.

mod client;
mod driver;
mod error;
mod machine;
pub mod protocol;
mod token;

pub use client::{AuthClient, AuthClientBuilder};
pub use error::{AuthError, Error};
pub use machine::{Mode, Refusal};
pub use protocol::{AuthenticatedPayload, EventNames, WireCode};
pub use token::{TokenError, TokenRequest, TokenSource};
