//! Decoding a token: its key from a resolver, jsonwebtoken's decode with one key or a rotation,
//! its `iss` and registered claims read once, and jsonwebtoken's errors as the contract's.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Validation};
use serde::de::DeserializeOwned;

use super::IssuerKeys;
use crate::claims::{RegisteredClaims, StandardClaims};
use crate::error::AuthError;
use crate::future::BoxFuture;
use crate::issuer::claimed_issuer;
use crate::keys::{KeyResolver, VerificationKey};
use crate::protocol::ErrorCode;

/// The key a resolver gives for the token's header (its algorithm allowed for the key).
///
/// In a box of its own, built outside the `await` expression: the header (a `jwk` member makes it
/// several hundred bytes) then lives in this future only, not in every verification's, which
/// the one-key path (no resolver) keeps small enough to poll without a box.
pub(super) fn resolve_key<'a>(
    resolver: &'a dyn KeyResolver,
    issuer: &'a IssuerKeys,
    token: &'a str,
) -> BoxFuture<'a, Result<Arc<VerificationKey>, AuthError>> {
    Box::pin(async move {
        let header = decode_header(token).map_err(jwt_error)?;
        let key = resolver
            .resolve_for_issuer(issuer.iss.as_deref(), &header)
            .await?;
        if !key.allowed_algorithms().contains(&header.alg) {
            return Err(AuthError::new(ErrorCode::InvalidToken)
                .with_source("the token's algorithm is not allowed for this key"));
        }
        Ok(key)
    })
}

/// A token's verified claims, and whether its header types it as a room token.
pub(crate) struct Decoded<T> {
    pub(crate) claims: T,
    /// `typ` is [`ROOM_TOKEN_TYPE`](crate::protocol::ROOM_TOKEN_TYPE).
    pub(crate) room_token: bool,
}

impl<T> Decoded<T> {
    fn of(data: jsonwebtoken::TokenData<T>) -> Self {
        let room_token = data
            .header
            .typ
            .as_deref()
            .is_some_and(crate::protocol::is_room_token_type);
        Self {
            claims: data.claims,
            room_token,
        }
    }
}

/// The claims of `token`, verified with `key` and `validation`.
pub(super) fn decode_with<T: DeserializeOwned>(
    key: &VerificationKey,
    validation: &Validation,
    token: &str,
) -> Result<Decoded<T>, AuthError> {
    let decoding_key = key.decoding_key().ok_or_else(|| {
        AuthError::new(ErrorCode::InvalidToken).with_source("the resolved key is an empty secret")
    })?;
    decode::<T>(token, decoding_key, validation)
        .map(Decoded::of)
        .map_err(jwt_error)
}

/// The claims of `token`, verified with the first of `keys` whose signature (and algorithm)
/// matches it: a signature that does not match one key is tried on the next; any other error
/// (an expired token, a wrong `aud`) is the token's, whichever key signed it, and ends the
/// search. jsonwebtoken checks the signature before the claims, so a claims error means the
/// signature matched.
pub(super) fn decode_rotated<'a, T: DeserializeOwned>(
    keys: impl IntoIterator<Item = (&'a VerificationKey, &'a Validation)>,
    token: &str,
) -> Result<Decoded<T>, AuthError> {
    let mut last = AuthError::new(ErrorCode::InvalidToken).with_source("no key");
    for (key, validation) in keys {
        let Some(decoding_key) = key.decoding_key() else {
            continue;
        };
        match decode::<T>(token, decoding_key, validation) {
            Ok(data) => return Ok(Decoded::of(data)),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm
                ) =>
            {
                last = jwt_error(e);
            }
            Err(e) => return Err(jwt_error(e)),
        }
    }
    Err(last)
}

/// The trusted issuer the token claims: its keys may verify it (and the verification then
/// requires that `iss`). No `iss`, or one no configured issuer has, is `invalid_token`.
pub(super) fn issuer_of<'a>(
    by_iss: &'a HashMap<Box<str>, IssuerKeys>,
    token: &str,
) -> Result<&'a IssuerKeys, AuthError> {
    let refuse = |why: &'static str| AuthError::new(ErrorCode::InvalidToken).with_source(why);
    let iss = claimed_issuer(token)?
        .ok_or_else(|| refuse("the token has no iss, and several issuers are trusted"))?;
    by_iss
        .get(iss.as_str())
        .ok_or_else(|| refuse("the token's issuer is not a trusted one"))
}

/// The registered claims of the token's JSON, and the application's claims when reading the
/// registered ones read them too: [`StandardClaims`], the default claims type, carries every
/// registered claim, so its one reading serves both (the JSON is not parsed a second time).
pub(super) fn read_registered<C: DeserializeOwned + 'static>(
    json: &str,
) -> Result<(RegisteredClaims, Option<C>), AuthError> {
    if TypeId::of::<C>() == TypeId::of::<StandardClaims>() {
        let standard: StandardClaims = serde_json::from_str(json).map_err(claims_shape)?;
        let registered = RegisteredClaims::try_from(&standard).map_err(claims_shape)?;
        let mut slot = Some(standard);
        let claims = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<C>>()
            .and_then(Option::take);
        return Ok((registered, claims));
    }
    let registered = serde_json::from_str(json).map_err(claims_shape)?;
    Ok((registered, None))
}

/// `header.payload.signature`, each part base64url (the signature may be empty: `alg: none`
/// tokens have that shape and are refused later as `invalid_token`).
///
/// One pass over the bytes with a table: it runs on every token, before anything else.
pub(crate) fn has_jws_shape(token: &str) -> bool {
    let mut dots = [0usize; 2];
    let mut found = 0;
    for (i, &b) in token.as_bytes().iter().enumerate() {
        if b == b'.' {
            if found == 2 {
                return false;
            }
            dots[found] = i;
            found += 1;
        } else if !BASE64URL[usize::from(b)] {
            return false;
        }
    }
    // Three parts; the header and payload are not empty.
    found == 2 && dots[0] > 0 && dots[1] > dots[0] + 1
}

/// The base64url alphabet (RFC 4648 §5), unpadded.
const BASE64URL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        b += 1;
    }
    table
};

pub(super) fn claims_shape(e: serde_json::Error) -> AuthError {
    AuthError::new(ErrorCode::InvalidToken).with_source(e)
}

/// Maps jsonwebtoken's error kinds to the contract's codes.
pub(super) fn jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    let code = match e.kind() {
        ErrorKind::ExpiredSignature => ErrorCode::TokenExpired,
        _ => ErrorCode::InvalidToken,
    };
    AuthError::new(code).with_source(e)
}
