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

/// Each kind acted on or answered, with its profile's prefix and its name: the type URI is the
/// two together, the label the name.
const NAMED: [(EventKind, &str, &str); 9] = [
    (EventKind::SessionRevoked, CAEP, "session-revoked"),
    (EventKind::TokenClaimsChange, CAEP, "token-claims-change"),
    (
        EventKind::AssuranceLevelChange,
        CAEP,
        "assurance-level-change",
    ),
    (EventKind::CredentialChange, CAEP, "credential-change"),
    (
        EventKind::CredentialCompromise,
        RISC,
        "credential-compromise",
    ),
    (EventKind::AccountDisabled, RISC, "account-disabled"),
    (EventKind::AccountPurged, RISC, "account-purged"),
    (EventKind::SessionsRevoked, RISC, "sessions-revoked"),
    (EventKind::Verification, SSF, "verification"),
];

impl EventKind {
    /// The kind of the event type `uri`.
    pub fn from_uri(uri: &str) -> Self {
        NAMED
            .iter()
            .find(|(_, prefix, name)| uri.strip_prefix(prefix) == Some(name))
            .map_or(Self::Other, |(kind, _, _)| *kind)
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
        NAMED
            .iter()
            .find(|(kind, _, _)| *kind == self)
            .map_or("other", |(_, _, name)| name)
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
