//! OpenID Shared Signals (SSF 1.0) with the CAEP and RISC event profiles (feature `ssf`): an
//! identity provider says "this session is revoked", "these claims changed", "this account is
//! disabled", and the sockets concerned close or are asked for a fresh token, on every
//! instance, within the revocation list's delivery time.
//!
//! - [`SsfTransmitter::discover`] reads a transmitter's metadata and keys;
//! - [`SsfReceiver::receive`] verifies a SET (RFC 8417) and carries out its events: call it
//!   from the push endpoint (RFC 8935), whose answers [`SetError`] gives;
//! - [`SsfReceiver::poll`] polls a transmitter (RFC 8936).
//!
//! | event | effect |
//! |---|---|
//! | CAEP `session-revoked` | the login session's sockets close (`sid` from a complex subject's `session`), else the user's tokens issued before the event |
//! | CAEP `token-claims-change`, `assurance-level-change` | the user's sockets are asked for a fresh token |
//! | CAEP `credential-change`; RISC `credential-compromise`, `account-disabled`, `account-purged`, `sessions-revoked` | the user's tokens issued before the event are revoked |
//! | anything else (SSF `verification` included) | acknowledged and counted |
//!
//! Subjects (RFC 9493): `iss_sub` names the user `sub` at that issuer (one the transmitter
//! [speaks for](SsfTransmitter::speaks_for)); `email` and `phone_number` name the user when the
//! configuration keys users by that claim ([`identity_claim`](crate::JwtAuthBuilder::identity_claim));
//! `aliases` by any of its identifiers; an `opaque` session subject names the `sid`. Other
//! formats match no one (acknowledged, counted as `no_subject_matched`).

mod error;
mod events;
mod poll;
mod push;
mod receiver;
pub(crate) mod set;
mod subject;
mod transmitter;

pub use self::error::{SetError, SetErrorCode};
pub use self::events::{Effect, EventKind};
pub use self::poll::{PollError, PollOptions};
pub use self::push::is_secevent_content_type;
pub use self::receiver::{Outcome, Received, SsfReceiver};
pub use self::subject::Subject;
pub use self::transmitter::{DeliveryMethod, SsfTransmitter};

#[cfg(test)]
mod tests;
