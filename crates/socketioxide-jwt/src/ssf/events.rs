//! The security events a receiver acts on (CAEP 1.0, RISC 1.0, SSF 1.0) and what each does to
//! the sockets.

/// CAEP event types: `https://schemas.openid.net/secevent/caep/event-type/<name>`.
const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
/// RISC event types.
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
/// SSF event types.
const SSF: &str = "https://schemas.openid.net/secevent/ssf/event-type/";

/// What an event type means for the sockets.
///
/// # Example
/// ```
/// use socketioxide_jwt::ssf::{EventKind, Effect};
/// let kind = EventKind::from_uri("https://schemas.openid.net/secevent/caep/event-type/session-revoked");
/// assert_eq!(kind, EventKind::SessionRevoked);
/// assert_eq!(kind.effect(), Effect::CloseSession);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// CAEP `session-revoked`.
    SessionRevoked,
    /// CAEP `token-claims-change`.
    TokenClaimsChange,
    /// CAEP `assurance-level-change`.
    AssuranceLevelChange,
    /// CAEP `credential-change`.
    CredentialChange,
    /// RISC `credential-compromise`.
    CredentialCompromise,
    /// RISC `account-disabled`.
    AccountDisabled,
    /// RISC `account-purged`.
    AccountPurged,
    /// RISC `sessions-revoked`.
    SessionsRevoked,
    /// SSF `verification`: a transmitter checking the stream; acknowledged.
    Verification,
    /// Any other event type (`device-compliance-change`, `account-enabled`, ...):
    /// acknowledged and counted, not acted on.
    Other,
}

/// What an event does to the sockets of its subject, on every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// The login session's sockets are closed (`revoked`): its `sid` when the subject names
    /// the session, else the user's tokens issued before the event.
    CloseSession,
    /// The user's sockets are asked for a fresh token (`request_refresh`).
    RequestRefresh,
    /// The user's tokens issued before the event are revoked: their sockets close.
    RevokeUser,
    /// Nothing.
    None,
}

impl EventKind {
    /// The kind of the event type `uri`.
    pub fn from_uri(uri: &str) -> Self {
        if let Some(name) = uri.strip_prefix(CAEP) {
            match name {
                "session-revoked" => Self::SessionRevoked,
                "token-claims-change" => Self::TokenClaimsChange,
                "assurance-level-change" => Self::AssuranceLevelChange,
                "credential-change" => Self::CredentialChange,
                _ => Self::Other,
            }
        } else if let Some(name) = uri.strip_prefix(RISC) {
            match name {
                "credential-compromise" => Self::CredentialCompromise,
                "account-disabled" => Self::AccountDisabled,
                "account-purged" => Self::AccountPurged,
                "sessions-revoked" => Self::SessionsRevoked,
                _ => Self::Other,
            }
        } else if uri.strip_prefix(SSF) == Some("verification") {
            Self::Verification
        } else {
            Self::Other
        }
    }

    /// What it does to the sockets.
    pub fn effect(self) -> Effect {
        match self {
            Self::SessionRevoked => Effect::CloseSession,
            Self::TokenClaimsChange | Self::AssuranceLevelChange => Effect::RequestRefresh,
            Self::CredentialChange
            | Self::CredentialCompromise
            | Self::AccountDisabled
            | Self::AccountPurged
            | Self::SessionsRevoked => Effect::RevokeUser,
            Self::Verification | Self::Other => Effect::None,
        }
    }

    /// A short name, for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::SessionRevoked => "session-revoked",
            Self::TokenClaimsChange => "token-claims-change",
            Self::AssuranceLevelChange => "assurance-level-change",
            Self::CredentialChange => "credential-change",
            Self::CredentialCompromise => "credential-compromise",
            Self::AccountDisabled => "account-disabled",
            Self::AccountPurged => "account-purged",
            Self::SessionsRevoked => "sessions-revoked",
            Self::Verification => "verification",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_maps_to_its_effect() {
        let cases = [
            (CAEP, "session-revoked", Effect::CloseSession),
            (CAEP, "token-claims-change", Effect::RequestRefresh),
            (CAEP, "assurance-level-change", Effect::RequestRefresh),
            (CAEP, "credential-change", Effect::RevokeUser),
            (RISC, "credential-compromise", Effect::RevokeUser),
            (RISC, "account-disabled", Effect::RevokeUser),
            (RISC, "account-purged", Effect::RevokeUser),
            (RISC, "sessions-revoked", Effect::RevokeUser),
            (SSF, "verification", Effect::None),
            (CAEP, "device-compliance-change", Effect::None),
            (RISC, "account-enabled", Effect::None),
            (RISC, "session-revoked", Effect::None),
            ("urn:example:", "session-revoked", Effect::None),
        ];
        for (prefix, name, effect) in cases {
            let kind = EventKind::from_uri(&format!("{prefix}{name}"));
            assert_eq!(kind.effect(), effect, "{prefix}{name}");
            if effect != Effect::None {
                assert_eq!(kind.label(), name);
            }
        }
    }
}
