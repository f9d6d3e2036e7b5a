//! `build()`: every setting checked once, then the configuration made.

use std::collections::HashSet;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::*;
use crate::auth::{GateSettings, GuestCaps, Inner, JwtAuth};
use crate::credentials::{CredentialRules, CredentialSource};
use crate::error::ConfigError;
use crate::keys::{KeyResolver, StaticKeys, VerificationKey};
use crate::layer::normalize_origin;
use crate::limits::{FailureTracker, PendingGauge};
use crate::protocol::{EventNames, RESERVED_EVENTS};
use crate::verify::{AudiencePolicy, ClaimRules, KeySource, Verifier};

impl<C> JwtAuthBuilder<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Checks every setting and builds the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first setting that is wrong.
    pub fn build(self) -> Result<JwtAuth<C>, ConfigError> {
        let Self {
            settings: s,
            check,
            rooms,
            lost_to_claims,
        } = self;
        if let Some(setting) = lost_to_claims {
            return Err(ConfigError::ClaimsAfterTypedSetting(setting));
        }
        ensure_crypto_backend()?;
        let own = key_source(s.keys, s.resolver, s.min_hmac_secret_len)?;
        if own.is_none() && s.trusted_issuers.is_empty() {
            return Err(ConfigError::NoKey);
        }
        if s.issuers.iter().chain(&s.audiences).any(String::is_empty) {
            return Err(ConfigError::EmptyIssuerOrAudience);
        }
        if own.is_some() && !s.trusted_issuers.is_empty() && s.issuers.is_empty() {
            return Err(ConfigError::KeysWithoutIssuer);
        }
        let claim_rules = |issuers: Vec<String>, audience: AudiencePolicy| ClaimRules {
            issuers,
            audience,
            require_exp: s.require_exp,
            leeway: s.leeway,
            max_token_lifetime: s.max_token_lifetime,
            max_session_age: s.max_session_age,
        };
        let mut sources = Vec::new();
        let mut logout_clients = Vec::new();
        if let Some(keys) = own {
            let resolved = matches!(keys, KeySource::Resolver(_));
            let audience = audience_policy(s.audiences, s.any_audience, resolved)?;
            sources.push((keys, claim_rules(s.issuers.clone(), audience)));
        }
        for trusted in s.trusted_issuers {
            let iss = trusted.iss.clone();
            let in_issuer = |error: ConfigError| ConfigError::TrustedIssuer {
                iss: iss.clone(),
                error: Box::new(error),
            };
            if iss.is_empty() || trusted.audiences.iter().any(String::is_empty) {
                return Err(in_issuer(ConfigError::EmptyIssuerOrAudience));
            }
            if let Some(client_id) = trusted.client_id {
                if client_id.is_empty() {
                    return Err(in_issuer(ConfigError::EmptyIssuerOrAudience));
                }
                if s.revocations.is_none() {
                    return Err(in_issuer(ConfigError::LogoutWithoutRevocations));
                }
                logout_clients.push((iss.clone(), client_id));
            }
            let keys = key_source(trusted.keys, trusted.resolver, s.min_hmac_secret_len)
                .map_err(&in_issuer)?
                .ok_or_else(|| in_issuer(ConfigError::NoKey))?;
            let resolved = matches!(keys, KeySource::Resolver(_));
            let audience = audience_policy(trusted.audiences, trusted.any_audience, resolved)
                .map_err(&in_issuer)?;
            if sources
                .iter()
                .any(|(_, rules)| rules.issuers.first() == Some(&iss))
            {
                return Err(ConfigError::DuplicateIssuer(iss));
            }
            sources.push((keys, claim_rules(vec![iss], audience)));
        }
        if sources.len() > 1 {
            // Users are then keyed `iss#sub`: an issuer with `#` would make two pairs one key.
            let separator = crate::identity::ISSUER_SEPARATOR;
            let issuers = sources.iter().flat_map(|(_, rules)| &rules.issuers);
            if let Some(iss) = issuers.into_iter().find(|iss| iss.contains(separator)) {
                return Err(ConfigError::IssuerWithSeparator(iss.clone()));
            }
        }
        if s.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge(s.leeway));
        }
        if s.refresh_grace.is_zero() {
            return Err(ConfigError::Zero("refresh_grace"));
        }
        if s.max_session_age.is_some_and(|max| max.is_zero()) {
            return Err(ConfigError::Zero("max_session_age"));
        }
        if s.max_token_lifetime.is_some_and(|max| max.is_zero()) {
            return Err(ConfigError::Zero("max_token_lifetime"));
        }
        if s.max_token_len == 0 {
            return Err(ConfigError::Zero("max_token_len"));
        }
        if s.timeout.is_zero() {
            return Err(ConfigError::Zero("timeout"));
        }
        check_event_names(&s.events)?;
        if s.max_pending == 0 {
            return Err(ConfigError::Zero("max_pending"));
        }
        if s.max_pending_per_address == Some(0) {
            return Err(ConfigError::Zero("max_pending_per_address"));
        }
        if s.max_pending_per_session == 0 {
            return Err(ConfigError::Zero("max_pending_per_session"));
        }
        let share =
            |max: usize| (max * DEFAULT_PENDING_SHARE_PERCENT / 100).max(MIN_PENDING_PER_ADDRESS);
        let max_pending_per_address = s
            .max_pending_per_address
            .unwrap_or_else(|| share(s.max_pending));
        if s.max_guests == 0 {
            return Err(ConfigError::Zero("max_guests"));
        }
        if s.max_guests_per_address == Some(0) {
            return Err(ConfigError::Zero("max_guests_per_address"));
        }
        let guests = GuestCaps {
            max: s.max_guests,
            per_address: s
                .max_guests_per_address
                .unwrap_or_else(|| share(s.max_guests)),
            places: PendingGauge::default(),
        };
        if s.max_auth_attempts_per_minute == 0 {
            return Err(ConfigError::Zero("max_auth_attempts_per_minute"));
        }
        if s.max_sockets_per_user == Some(0) {
            return Err(ConfigError::Zero("max_sockets_per_user"));
        }
        if s.expiry_warning.is_some_and(|w| w.is_zero()) {
            return Err(ConfigError::Zero(
                "expiry_warning (use None to turn it off)",
            ));
        }
        if s.user_sockets.is_some() && s.max_sockets_per_user.is_none() {
            return Err(ConfigError::UserSocketsWithoutMax);
        }
        if let Some(limit) = &s.failed_auth_limit {
            if s.client_ip.is_none() {
                return Err(ConfigError::FailedAuthLimitNeedsClientIp);
            }
            if limit.max_failures == 0 || limit.window.is_zero() || limit.cooldown.is_zero() {
                return Err(ConfigError::Zero("failed_auth_limit"));
            }
        }

        let credentials =
            credential_rules(s.credential_sources, s.allow_query_token, s.cookie_origins)?;
        if let Some(list) = &s.revocations {
            // A revoked token stays refused while this configuration could still accept it.
            list.accept_leeway(s.leeway);
        }
        if s.identity_claim.is_empty() {
            return Err(ConfigError::EmptyIdentityClaim);
        }
        if s.identity_claim != "sub" && !logout_clients.is_empty() {
            return Err(ConfigError::IdentityClaimWithLogout);
        }
        let mut verifier = Verifier::new(sources, s.max_token_len, s.revocations, check);
        verifier.identify_by(&s.identity_claim);
        for (iss, client_id) in logout_clients {
            let accepted = verifier.accept_logouts(&iss, &client_id);
            debug_assert!(accepted, "{iss} was added above");
        }
        Ok(JwtAuth {
            inner: Arc::new(Inner {
                verifier,
                rooms,
                gate: GateSettings {
                    leeway: s.leeway,
                    expiry_warning: s.expiry_warning,
                    max_session_age: s.max_session_age,
                    refresh_grace: s.refresh_grace,
                    deadlines: Arc::default(),
                    user_cap: s
                        .max_sockets_per_user
                        .map(|max| (max, s.user_sockets.unwrap_or_default())),
                    mode: s.mode,
                    timeout: s.timeout,
                    events: s.events,
                    credentials,
                    user_room_prefix: s.user_room_prefix,
                    max_pending: s.max_pending,
                    max_pending_per_address,
                    max_pending_per_session: s.max_pending_per_session,
                    pending: PendingGauge::default(),
                    guests,
                    max_auth_attempts_per_minute: s.max_auth_attempts_per_minute,
                    failures: s.failed_auth_limit.map(FailureTracker::new),
                    client_ip: s.client_ip,
                },
            }),
        })
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

/// The key source of `keys` or `resolver` (static keys checked, each one), `None` for neither.
fn key_source(
    keys: Vec<VerificationKey>,
    resolver: Option<Arc<dyn KeyResolver>>,
    min_hmac_secret_len: usize,
) -> Result<Option<KeySource>, ConfigError> {
    match (resolver, keys.is_empty()) {
        (Some(_), false) => Err(ConfigError::KeysAndResolver),
        (Some(resolver), true) => Ok(Some(KeySource::Resolver(resolver))),
        (None, true) => Ok(None),
        (None, false) => {
            for key in &keys {
                key.validate(min_hmac_secret_len)?;
            }
            // Several keys without a `kid`, and none with one: a secret and the ones it
            // replaced, each tried in turn.
            let kid_less = keys.iter().filter(|k| k.key_id().is_none()).count();
            if kid_less > 1 && kid_less == keys.len() {
                return Ok(Some(KeySource::Rotation(keys)));
            }
            let mut set = StaticKeys::default();
            for key in keys {
                set.insert(key)?;
            }
            Ok(Some(KeySource::Static(set)))
        }
    }
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

/// What `aud` must be: one of `audiences`, anything (`any`), or absent. Keys from a resolver
/// (a provider's, shared by all its clients) need an audience.
fn audience_policy(
    audiences: Vec<String>,
    any: bool,
    resolved: bool,
) -> Result<AudiencePolicy, ConfigError> {
    match (audiences.is_empty(), any) {
        (false, true) => Err(ConfigError::AudienceAndAnyAudience),
        (false, false) => Ok(AudiencePolicy::OneOf(audiences)),
        (true, true) => Ok(AudiencePolicy::Any),
        (true, false) if resolved => Err(ConfigError::ResolverWithoutAudience),
        (true, false) => Ok(AudiencePolicy::NoneExpected),
    }
}
