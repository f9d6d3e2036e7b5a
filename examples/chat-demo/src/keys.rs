//! Where the demo's verification keys come from (`--secret`, `--public-key`, `--jwks`,
//! `--oidc-issuer`), and its own token issuer when it has a secret to sign with.

use std::time::Duration;

use socketioxide_jwt::jwks::{Jwks, JwksOptions, OidcProvider};
use socketioxide_jwt::keys::Keys;
use socketioxide_jwt::{KeySource, TrustedIssuer, VerificationKey};

use crate::cli::{self, Args};
use crate::secret;
use crate::tokens::TokenIssuer;
use crate::BoxError;

/// The OpenID providers of `--oidc-issuer`, each found by discovery.
pub async fn providers(args: &Args) -> Result<Vec<OidcProvider>, BoxError> {
    let mut providers = Vec::with_capacity(args.oidc_issuer.len());
    for issuer in &args.oidc_issuer {
        let provider = OidcProvider::discover(issuer, JwksOptions::default())
            .await
            .map_err(|e| format!("OIDC discovery at {issuer} failed: {e}"))?;
        tracing::info!(issuer = %provider.issuer, keys = ?provider.jwks.key_ids(), "also accepting this OpenID provider's tokens");
        providers.push(provider);
    }
    Ok(providers)
}

/// The verification key and, unless only a public key was given, the token issuer.
pub async fn keys(args: &Args) -> Result<(Verifier, Option<TokenIssuer>), BoxError> {
    let ttl = Duration::from_secs(args.token_ttl_secs);
    if let Some(source) = &args.jwks {
        let jwks = if source.starts_with("http://") || source.starts_with("https://") {
            Jwks::from_url(source, JwksOptions::default()).await
        } else {
            Jwks::from_file(source, JwksOptions::default()).await
        }
        .map_err(|e| format!("cannot load the JWKS {source}: {e}"))?;
        tracing::info!(keys = ?jwks.key_ids(), "verifying with a JWKS; /login is disabled");
        return Ok((Verifier::Jwks(jwks), None));
    }
    if let Some(path) = &args.public_key {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let key = VerificationKey::rsa_pem(&pem)
            .or_else(|_| VerificationKey::ec_pem(&pem))
            .or_else(|_| VerificationKey::ed_pem(&pem))
            .map_err(|_| {
                format!(
                    "{} is not an RSA, EC or Ed25519 public key in PEM",
                    path.display()
                )
            })?;
        tracing::info!(family = ?key.family(), "verifying with a public key; /login is disabled");
        return Ok((Verifier::Keys(vec![key]), None));
    }
    // An empty --secret or JWT_SECRET was read as none (`Args::read_secret_files`).
    let secrets = match args.secret.as_slice() {
        [] => vec![secret::load_or_create(&args.data_dir)?],
        given => given.to_vec(),
    };
    // The library's minimum, kept: the app people copy must not weaken it.
    if let Some(short) = secrets.iter().find(|s| s.len() < 32) {
        return Err(format!(
            "an HMAC secret is {} bytes long: HS256 needs at least 32 (RFC 7518 §3.2); \
             omit --secret to have one generated",
            short.len()
        )
        .into());
    }
    let issuer = TokenIssuer::new(
        secrets[0].as_bytes(),
        ttl,
        args.issuer
            .clone()
            .unwrap_or_else(|| cli::DEFAULT_OWN_ISSUER.to_owned()),
        args.audience.clone(),
    )
    .ok_or("the secret must not be empty")?;
    if secrets.len() > 1 {
        tracing::info!(
            secrets = secrets.len(),
            "signing with the first secret; every one verifies"
        );
    }
    let keys = secrets
        .iter()
        .map(|s| VerificationKey::hmac(s.as_bytes()))
        .collect();
    Ok((Verifier::Keys(keys), Some(issuer)))
}

/// Where verification keys come from.
pub enum Verifier {
    /// One key, or several HMAC secrets without a `kid` (a rotation: each verifies).
    Keys(Vec<VerificationKey>),
    Jwks(Jwks),
}

/// Whose tokens the demo accepts: its own (or `--public-key` / `--jwks`) keys, with the
/// audience rule of `--audience` / `--any-audience`, alone or, with `--issuer` or beside each
/// `--oidc-issuer`, as an issuer of its own.
pub fn key_source(
    args: &Args,
    verifier: Verifier,
    providers: Vec<OidcProvider>,
) -> Result<KeySource, BoxError> {
    let own = match verifier {
        Verifier::Keys(keys) => {
            let keys = match &args.audience {
                Some(aud) => Keys::new(keys).audience(aud.clone()),
                None => Keys::new(keys),
            };
            if args.any_audience {
                keys.insecure_any_audience()
            } else {
                keys
            }
        }
        Verifier::Jwks(jwks) => resolved(args, jwks)?,
    };
    let own_iss = match (&args.issuer, providers.is_empty()) {
        (Some(iss), _) => iss.clone(),
        (None, true) => return Ok(own.into()),
        // Beside providers, the own tokens are told apart by the `iss` they carry.
        (None, false) => cli::DEFAULT_OWN_ISSUER.to_owned(),
    };
    let mut issuers = vec![TrustedIssuer::new(own_iss, own)];
    // Each provider's tokens are verified with its own keys, chosen by their `iss`.
    for provider in providers {
        let mut trusted = TrustedIssuer::new(provider.issuer, resolved(args, provider.jwks)?);
        if let Some(client_id) = &args.oidc_client_id {
            trusted = trusted.client_id(client_id.clone());
        }
        issuers.push(trusted);
    }
    Ok(issuers.into())
}

/// Keys from a JWKS, for `--audience` (or, with `--any-audience`, whatever `aud` says).
fn resolved(args: &Args, jwks: Jwks) -> Result<Keys, BoxError> {
    match (&args.audience, args.any_audience) {
        (_, true) => Ok(Keys::insecure_resolver_any_audience(jwks)),
        (Some(aud), false) => Ok(Keys::resolver(jwks, aud.clone())),
        (None, false) => Err(crate::configure::NEEDS_AUDIENCE.into()),
    }
}
