//! Reading a JWKS: the keys usable for signature verification.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::keys::{StaticKeys, VerificationKey};

use super::JwksError;

#[derive(Deserialize)]
pub(super) struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// Parses a JWKS, keeping the keys usable for signature verification.
pub(super) fn parse_key_set(bytes: &[u8]) -> Result<StaticKeys, JwksError> {
    let raw: RawKeySet = serde_json::from_slice(bytes)?;
    let mut keys = StaticKeys::default();
    for value in raw.keys {
        let jwk: Jwk = match serde_json::from_value(value) {
            Ok(jwk) => jwk,
            Err(e) => {
                tracing::warn!(error = %e, "JWKS: skipped a key that does not parse");
                continue;
            }
        };
        let kid = jwk.common.key_id.clone();
        match key_from_jwk(&jwk) {
            Ok(key) => {
                if let Err(e) = keys.insert(key) {
                    tracing::warn!(?kid, error = %e, "JWKS: skipped a duplicate key");
                }
            }
            Err(reason) => tracing::warn!(?kid, reason, "JWKS: skipped a key"),
        }
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(keys)
}

/// A signature key from a JWK, verifying with the JWK's algorithm only (or the one its key type
/// and curve imply when `alg` is absent).
pub(super) fn key_from_jwk(jwk: &Jwk) -> Result<VerificationKey, &'static str> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("use is \"enc\", not a signature key");
    }
    let (family, implied) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => (AlgorithmFamily::Ec, Algorithm::ES256),
            EllipticCurve::P384 => (AlgorithmFamily::Ec, Algorithm::ES384),
            _ => return Err("unsupported curve"),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            (AlgorithmFamily::Ed, Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric key has no place in a public JWKS")
        }
        _ => return Err("unsupported key type"),
    };
    let alg = match jwk.common.key_algorithm {
        Some(alg) => Algorithm::try_from(alg).map_err(|_| "unsupported alg")?,
        None => implied,
    };
    if alg.family() != family {
        return Err("alg does not fit the key type");
    }
    if family == AlgorithmFamily::Ec && alg != implied {
        return Err("alg does not fit the curve");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "key material does not parse")?;
    let mut key = VerificationKey::from_decoding_key(key).algorithms([alg]);
    if let Some(kid) = &jwk.common.key_id {
        key = key.kid(kid.clone());
    }
    Ok(key)
}
