//! `build()`: every setting checked once, then the configuration made.

use std::collections::HashSet;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::*;
use crate::auth::{GateSettings, GuestCaps, Inner, JwtAuth};
use crate::credentials::{CredentialRules, CredentialSource};
use crate::error::ConfigError;
use crate::keys::{Audience, Keys, KeysKind, StaticKeys};
use crate::layer::normalize_origin;
use crate::limits::{FailureTracker, PendingGauge};
use crate::protocol::{EventNames, RESERVED_EVENTS};
use crate::verify::{ClaimRules, KeySource, Verifier};

impl<C> JwtAuthBuilder<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Checks every value and builds the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first value that is wrong.
    pub fn build(self) -> Result<JwtAuth<C>, ConfigError> {
        let Self {
            settings: mut s,
            check,
            rooms,
        } = self;
        ensure_crypto_backend()?;
        check_values(&s)?;
        let credentials = credential_rules(
            std::mem::take(&mut s.credential_sources),
            s.allow_query_token,
            s.cookie_origins.take(),
        )?;
        let (sources, logout_clients) = verification_sources(&s)?;
        if s.identity_claim != "sub" && !logout_clients.is_empty() {
            return Err(ConfigError::IdentityClaimWithLogout);
        }
        // Logouts are recorded in a revocation list: this process's, unless one was given.
        if s.revocations.is_none() && !logout_clients.is_empty() {
            tracing::warn!(
                "back-channel logouts are recorded in this process only: with several \
                 instances, give the builder a shared RevocationList (revocations(..))"
            );
            s.revocations = Some(crate::revocation::RevocationList::in_memory());
        }
        if let Some(list) = &s.revocations {
            // A revoked token stays refused while this configuration could still accept it.
            list.accept_leeway(s.leeway);
        }
        let mut verifier = Verifier::new(sources, s.max_token_len, s.revocations.take(), check);
        verifier.identify_by(&s.identity_claim);
        for (iss, client_id) in logout_clients {
            let accepted = verifier.accept_logouts(&iss, &client_id);
            debug_assert!(accepted, "{iss} was added above");
        }
        Ok(JwtAuth {
            inner: Arc::new(Inner {
                verifier,
                rooms,
                gate: gate_settings(s, credentials),
            }),
        })
    }
}

/// Every value that must not be zero, empty or too large.
fn check_values(s: &Settings) -> Result<(), ConfigError> {
    let zero = [
        ("refresh_grace", s.refresh_grace.is_zero()),
        (
            "max_session_age",
            s.max_session_age.is_some_and(|d| d.is_zero()),
        ),
        (
            "max_token_lifetime",
            s.max_token_lifetime.is_some_and(|d| d.is_zero()),
        ),
        ("max_token_len", s.max_token_len == 0),
        ("timeout", s.timeout.is_zero()),
        ("max_pending", s.max_pending == 0),
        (
            "max_pending_per_address",
            s.max_pending_per_address == Some(0),
        ),
        ("max_pending_per_session", s.max_pending_per_session == 0),
        ("max_guests", s.max_guests == 0),
        (
            "max_guests_per_address",
            s.max_guests_per_address == Some(0),
        ),
        (
            "max_auth_attempts_per_minute",
            s.max_auth_attempts_per_minute == 0,
        ),
        ("max_sockets_per_user", matches!(s.user_cap, Some((0, _)))),
        (
            "expiry_warning (use None to turn it off)",
            s.expiry_warning.is_some_and(|w| w.is_zero()),
        ),
        (
            "failed_auth_limit",
            s.failed_auth_limit
                .as_ref()
                .is_some_and(|l| l.max_failures == 0 || l.window.is_zero() || l.cooldown.is_zero()),
        ),
    ];
    if let Some((setting, _)) = zero.into_iter().find(|(_, is_zero)| *is_zero) {
        return Err(ConfigError::Zero(setting));
    }
    if s.leeway > MAX_LEEWAY {
        return Err(ConfigError::LeewayTooLarge(s.leeway));
    }
    if s.identity_claim.is_empty() {
        return Err(ConfigError::EmptyIdentityClaim);
    }
    check_event_names(&s.events)
}

/// A logout client: the issuer, and the application's client id there.
type LogoutClient = (String, String);

/// A set of keys with the claim rules of its issuer.
type Source = (KeySource, ClaimRules);

/// The key source, as the verifier uses it: each set of keys with the claim rules of its
/// issuer, and the issuers whose back-channel logouts are accepted.
fn verification_sources(s: &Settings) -> Result<(Vec<Source>, Vec<LogoutClient>), ConfigError> {
    let claim_rules = |issuers: Vec<String>, audience: Audience| ClaimRules {
        issuers,
        audience,
        require_exp: s.require_exp,
        leeway: s.leeway,
        max_token_lifetime: s.max_token_lifetime,
        max_session_age: s.max_session_age,
    };
    let issuers = match &s.source {
        crate::issuer::KeySource::Keys(keys) => {
            let rules = claim_rules(Vec::new(), audience(keys)?);
            return Ok((
                vec![(key_source(keys, s.min_hmac_secret_len)?, rules)],
                Vec::new(),
            ));
        }
        crate::issuer::KeySource::Issuers(issuers) if issuers.is_empty() => {
            return Err(ConfigError::NoKey)
        }
        crate::issuer::KeySource::Issuers(issuers) => issuers,
    };
    let mut sources: Vec<Source> = Vec::new();
    let mut logout_clients = Vec::new();
    for trusted in issuers {
        let iss = &trusted.iss;
        let in_issuer = |error: ConfigError| ConfigError::TrustedIssuer {
            iss: iss.clone(),
            error: Box::new(error),
        };
        if iss.is_empty() {
            return Err(in_issuer(ConfigError::EmptyIssuerOrAudience));
        }
        if iss.contains(crate::identity::ISSUER_SEPARATOR) {
            // Users are keyed `iss#sub`: an issuer with `#` would make two pairs one key.
            return Err(ConfigError::IssuerWithSeparator(iss.clone()));
        }
        if sources
            .iter()
            .any(|(_, rules)| rules.issuers.first() == Some(iss))
        {
            return Err(ConfigError::DuplicateIssuer(iss.clone()));
        }
        if let Some(client_id) = &trusted.client_id {
            if client_id.is_empty() {
                return Err(in_issuer(ConfigError::EmptyIssuerOrAudience));
            }
            logout_clients.push((iss.clone(), client_id.clone()));
        }
        let keys = key_source(&trusted.keys, s.min_hmac_secret_len).map_err(&in_issuer)?;
        let audience = audience(&trusted.keys).map_err(&in_issuer)?;
        sources.push((keys, claim_rules(vec![iss.clone()], audience)));
    }
    Ok((sources, logout_clients))
}

/// The audience rule of `keys`, its audiences non-empty.
fn audience(keys: &Keys) -> Result<Audience, ConfigError> {
    match &keys.audience {
        Audience::OneOf(list) if list.iter().any(String::is_empty) => {
            Err(ConfigError::EmptyIssuerOrAudience)
        }
        rule => Ok(rule.clone()),
    }
}

/// What the gate needs, from the settings.
fn gate_settings(s: Settings, credentials: CredentialRules) -> GateSettings {
    let share =
        |max: usize| (max * DEFAULT_PENDING_SHARE_PERCENT / 100).max(MIN_PENDING_PER_ADDRESS);
    GateSettings {
        leeway: s.leeway,
        expiry_warning: s.expiry_warning,
        max_session_age: s.max_session_age,
        refresh_grace: s.refresh_grace,
        deadlines: Arc::default(),
        user_cap: s.user_cap,
        mode: s.mode,
        timeout: s.timeout,
        events: s.events,
        credentials,
        user_room_prefix: s.user_room_prefix,
        max_pending: s.max_pending,
        max_pending_per_address: s
            .max_pending_per_address
            .unwrap_or_else(|| share(s.max_pending)),
        max_pending_per_session: s.max_pending_per_session,
        pending: PendingGauge::default(),
        guests: GuestCaps {
            max: s.max_guests,
            per_address: s
                .max_guests_per_address
                .unwrap_or_else(|| share(s.max_guests)),
            places: PendingGauge::default(),
        },
        max_auth_attempts_per_minute: s.max_auth_attempts_per_minute,
        failures: s.failed_auth_limit.map(FailureTracker::new),
        client_ip: s.client_ip,
    }
}

fn check_event_names(names: &EventNames) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for name in names.all() {
        if name.is_empty() || RESERVED_EVENTS.contains(&name) || !seen.insert(name) {
            return Err(ConfigError::InvalidEventName(name.to_owned()));
        }
    }
    Ok(())
}

/// Makes sure jsonwebtoken has a crypto provider, so no decode can panic.
///
/// With exactly one backend feature jsonwebtoken picks it; with both (a workspace that unifies
/// features), this installs aws-lc-rs, the faster one.
pub(crate) fn ensure_crypto_backend() -> Result<(), ConfigError> {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_some() {
        return Ok(());
    }
    #[cfg(feature = "aws-lc-rs")]
    {
        // Another thread may have installed one in between: either way one is there now.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
    CryptoProvider::try_get_default()
        .map(|_| ())
        .ok_or(ConfigError::NoCryptoBackend)
}

/// The verifier's key source for `keys`: static keys checked, each one.
fn key_source(keys: &Keys, min_hmac_secret_len: usize) -> Result<KeySource, ConfigError> {
    let keys = match &keys.kind {
        KeysKind::Resolver(resolver) => return Ok(KeySource::Resolver(resolver.clone())),
        KeysKind::Static(keys) if keys.is_empty() => return Err(ConfigError::NoKey),
        KeysKind::Static(keys) => keys,
    };
    for key in keys {
        key.validate(min_hmac_secret_len)?;
    }
    // Several keys without a `kid`, and none with one: a secret and the ones it replaced, each
    // tried in turn.
    let kid_less = keys.iter().filter(|k| k.key_id().is_none()).count();
    if kid_less > 1 && kid_less == keys.len() {
        return Ok(KeySource::Rotation(keys.clone()));
    }
    let mut set = StaticKeys::default();
    for key in keys {
        set.insert(key.clone())?;
    }
    Ok(KeySource::Static(set))
}

/// How tokens are read: at least one source; a cookie only with the origins that may send it.
fn credential_rules(
    sources: Vec<CredentialSource>,
    allow_query: bool,
    cookie_origins: Option<Vec<String>>,
) -> Result<CredentialRules, ConfigError> {
    if sources.is_empty() {
        return Err(ConfigError::NoCredentialSource);
    }
    let has_cookie = sources
        .iter()
        .any(|s| matches!(s, CredentialSource::Cookie(_)));
    let cookie_origins = match cookie_origins {
        Some(origins) if origins.iter().any(|o| o.trim().is_empty()) => {
            return Err(ConfigError::EmptyCookieOrigin)
        }
        Some(origins) => origins.iter().map(|o| normalize_origin(o)).collect(),
        None if has_cookie => return Err(ConfigError::CookieWithoutOrigins),
        None => HashSet::new(),
    };
    Ok(CredentialRules {
        sources: sources.into_boxed_slice(),
        allow_query,
        cookie_origins,
    })
}
