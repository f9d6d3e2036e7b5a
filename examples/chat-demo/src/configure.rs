//! From the command line to the library's configuration: the data directory and the admin
//! account, the token cookie, the trusted proxies, and the `JwtAuth` builder.

use std::sync::Arc;
use std::time::Duration;

use socketioxide_jwt::credentials::CredentialSource;
use socketioxide_jwt::limits::{ForwardingHeader, TrustedProxies, UserSockets};
use socketioxide_jwt::{AuthMode, JwtAuth, JwtAuthBuilder, KeySource, StandardClaims};

use crate::cli::{self, Args, Mode};
use crate::cookie::{self, TokenCookie};
use crate::identity::AccountPolicy;
use crate::rooms;
use crate::users::UserStore;
use crate::BoxError;

/// The token cookie and the origins that may send it.
pub type CookieSetting = Option<(TokenCookie, Vec<String>)>;

/// Opens the user store in `--data-dir`, and sets the admin account's password when one was
/// given; whether one was.
pub async fn users(args: &mut Args) -> Result<(UserStore, bool), BoxError> {
    std::fs::create_dir_all(&args.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            args.data_dir.display()
        )
    })?;
    let users = UserStore::open(&args.data_dir)?;
    let Some(password) = args.admin_password.take() else {
        return Ok((users, false));
    };
    let chars = password.chars().count();
    if !(8..=256).contains(&chars) {
        return Err(format!(
            "the admin password has {chars} characters: give 8 to 256 (logins take up to 256)"
        )
        .into());
    }
    users
        .set_password("admin".into(), password, "admin")
        .await?;
    tracing::info!("the admin account's password was set from the configuration");
    Ok((users, true))
}

/// Why a provider's keys cannot be used without an audience.
pub const NEEDS_AUDIENCE: &str = "--jwks and --oidc-issuer need --audience <the `aud` your \
     identity provider puts in this app's tokens> (or --any-audience to accept tokens it issued \
     for any of its clients)";

/// A provider's keys need the audience of this app's tokens (or `--any-audience`): said before
/// any key is fetched.
pub fn check_audience(args: &Args) -> Result<(), BoxError> {
    if (args.jwks.is_some() || !args.oidc_issuer.is_empty())
        && args.audience.is_none()
        && !args.any_audience
    {
        return Err(NEEDS_AUDIENCE.into());
    }
    Ok(())
}

/// `--token-cookie`: handshake mode only; its origins default to the demo's own address.
pub fn token_cookie(args: &Args, addr: std::net::SocketAddr) -> Result<CookieSetting, BoxError> {
    match &args.token_cookie {
        Some(_) if args.mode != Mode::Handshake => Err("--token-cookie needs --mode handshake: \
             a cookie travels with the handshake, not with the authenticate event"
            .into()),
        Some(name) => {
            let origins = cookie::origins(&args.allowed_origins, addr);
            Ok(Some((TokenCookie::new(name, &origins)?, origins)))
        }
        None => Ok(None),
    }
}

/// `--trusted-proxy` and `--forwarded-header`: behind them, the client is who the proxy says,
/// for the pending places shared per address, the logs, and the REST limits.
pub fn trusted_proxies(args: &Args) -> Result<Arc<TrustedProxies>, BoxError> {
    let header = match args.forwarded_header {
        cli::ForwardingHeaderArg::XForwardedFor => ForwardingHeader::XForwardedFor,
        cli::ForwardingHeaderArg::Forwarded => ForwardingHeader::Forwarded,
    };
    let proxies = TrustedProxies::new(&args.trusted_proxies)
        .map_err(|e| format!("--trusted-proxy: {e}"))?
        .header(header);
    Ok(Arc::new(proxies))
}

/// The `JwtAuth` builder for these flags (the revocation list and the Redis cap come later).
pub fn auth_builder(
    args: &Args,
    source: KeySource,
    cookie: &CookieSetting,
    proxies: &Arc<TrustedProxies>,
    accounts: &AccountPolicy,
) -> Result<JwtAuthBuilder, BoxError> {
    let mut builder = JwtAuth::builder(source)
        .mode(match args.mode {
            Mode::Message => AuthMode::Message,
            Mode::Handshake => AuthMode::Handshake,
        })
        .timeout(Duration::from_millis(args.auth_timeout_ms))
        .identity_claim(args.identity_claim.clone())
        .leeway(Duration::from_secs(args.leeway_secs))
        // Presence is read from the per-user rooms.
        .user_rooms()
        .expiry_warning(
            (args.expiry_warning_secs > 0).then(|| Duration::from_secs(args.expiry_warning_secs)),
        )
        .rooms_from_claims(|claims: &StandardClaims| {
            rooms::in_claims(claims)
                .map(rooms::socket_room)
                .collect::<Vec<_>>()
        });
    if let Some((cookie, origins)) = cookie {
        builder = builder.token_cookie(cookie.name()).cookie_origins(origins);
    }
    if !args.credential_sources.is_empty() {
        builder = builder.credential_sources(credential_sources(args, cookie)?);
    }
    if let Some(max) = args.max_pending {
        builder = builder.max_pending(max);
    }
    if let Some(max) = args.max_pending_per_address {
        builder = builder.max_pending_per_address(max);
    }
    if !args.trusted_proxies.is_empty() {
        let proxies = proxies.clone();
        builder = builder.client_ip(move |parts| proxies.client_ip_of(parts));
    }
    if let Some(max) = args.max_sockets_per_user {
        builder = builder.max_sockets_per_user(max, UserSockets::in_memory());
    }
    if args.max_session_age_secs > 0 {
        builder = builder.max_session_age(Duration::from_secs(args.max_session_age_secs));
    }
    if accounts.checks_anything() {
        let accounts = accounts.clone();
        builder = builder.check(move |claims| {
            let accounts = accounts.clone();
            async move { accounts.check(&claims).await }
        });
    }
    Ok(builder)
}

/// `--credential-source`, in order (`cookie` needs `--token-cookie`).
fn credential_sources(
    args: &Args,
    cookie: &CookieSetting,
) -> Result<Vec<CredentialSource>, BoxError> {
    args.credential_sources
        .iter()
        .map(|source| match source {
            cli::SourceArg::Auth => Ok(CredentialSource::AuthPayload),
            cli::SourceArg::Header => Ok(CredentialSource::AuthorizationHeader),
            cli::SourceArg::Cookie => match cookie {
                Some((cookie, _)) => Ok(CredentialSource::Cookie(cookie.name().to_owned())),
                None => Err("--credential-source cookie needs --token-cookie NAME".into()),
            },
        })
        .collect()
}

/// How long user and session revocations last: as long as a token they cover could still be
/// accepted. The demo's own tokens live `--token-ttl-secs`, a provider's may live a day
/// (Auth0's access tokens).
pub fn revocation_lifetime(args: &Args) -> Duration {
    let token_ttl = Duration::from_secs(args.token_ttl_secs);
    let issued_elsewhere =
        args.public_key.is_some() || args.jwks.is_some() || !args.oidc_issuer.is_empty();
    if issued_elsewhere {
        token_ttl.max(Duration::from_secs(24 * 3600))
    } else {
        token_ttl
    }
}
