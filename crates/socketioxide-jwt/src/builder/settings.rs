//! The builder's settings that do not depend on the claims type, with their defaults.

use std::time::Duration;

use super::*;
use crate::auth::{AuthMode, ClientIpFn};
use crate::credentials::{CredentialSource, DEFAULT_SOURCES};
use crate::issuer::KeySource;
use crate::limits::FailedAuthLimit;
use crate::protocol::EventNames;
use crate::revocation::RevocationList;
use crate::user_sockets::UserSockets;

/// Every setting that does not depend on the claims type, each written once here (the builder's
/// setters fill it, `build()` checks and consumes it).
pub(super) struct Settings {
    pub(super) source: KeySource,
    pub(super) require_exp: bool,
    pub(super) leeway: Duration,
    pub(super) max_token_lifetime: Option<Duration>,
    pub(super) max_session_age: Option<Duration>,
    pub(super) refresh_grace: Duration,
    pub(super) max_token_len: usize,
    pub(super) min_hmac_secret_len: usize,
    pub(super) mode: AuthMode,
    pub(super) timeout: Duration,
    pub(super) events: EventNames,
    pub(super) allow_query_token: bool,
    pub(super) user_room_prefix: Option<String>,
    pub(super) max_pending: usize,
    pub(super) max_pending_per_address: Option<usize>,
    pub(super) max_pending_per_session: usize,
    pub(super) max_guests: usize,
    pub(super) max_guests_per_address: Option<usize>,
    pub(super) max_auth_attempts_per_minute: u32,
    pub(super) failed_auth_limit: Option<FailedAuthLimit>,
    pub(super) client_ip: Option<ClientIpFn>,
    pub(super) revocations: Option<RevocationList>,
    /// Where a handshake (and a REST request) looks for the token, in order.
    pub(super) credential_sources: Vec<CredentialSource>,
    /// Origins whose pages may send the token in a cookie (`None`: not set).
    pub(super) cookie_origins: Option<Vec<String>>,
    /// The claim that names the user (`sub` by default).
    pub(super) identity_claim: String,
    pub(super) expiry_warning: Option<Duration>,
    pub(super) user_cap: Option<(usize, UserSockets)>,
}

impl Settings {
    pub(super) fn new(source: KeySource) -> Self {
        Self {
            source,
            require_exp: true,
            leeway: Duration::ZERO,
            max_token_lifetime: None,
            max_session_age: None,
            refresh_grace: DEFAULT_REFRESH_GRACE,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            min_hmac_secret_len: DEFAULT_MIN_HMAC_SECRET_LEN,
            mode: AuthMode::default(),
            timeout: DEFAULT_AUTH_TIMEOUT,
            events: EventNames::default(),
            allow_query_token: false,
            user_room_prefix: None,
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_per_address: None,
            max_pending_per_session: DEFAULT_MAX_PENDING_PER_SESSION,
            max_guests: DEFAULT_MAX_GUESTS,
            max_guests_per_address: None,
            max_auth_attempts_per_minute: DEFAULT_MAX_AUTH_ATTEMPTS_PER_MINUTE,
            failed_auth_limit: None,
            client_ip: None,
            revocations: None,
            credential_sources: DEFAULT_SOURCES.to_vec(),
            cookie_origins: None,
            identity_claim: "sub".to_owned(),
            expiry_warning: Some(DEFAULT_EXPIRY_WARNING),
            user_cap: None,
        }
    }
}
