//! Verifying a Security Event Token (RFC 8417, SSF 1.0 §4): signed by the transmitter its `iss`
//! names, with that transmitter's keys only, typed `secevent+jwt`, for this receiver's
//! audience, not issued in the future, with a `jti` and `events`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{SetError, SetErrorCode};
use super::subject::Subjects;
use super::transmitter::SsfTransmitter;
use crate::claims::numeric_date;
use crate::keys::KeyResolver;

/// The longest SET read, in bytes (a SET carries one or a few events: providers send < 4 KiB).
pub(crate) const MAX_SET_LEN: usize = 64 * 1024;
/// The most events one SET may carry (SSF 1.0 sends one per SET).
const MAX_EVENTS: usize = 8;
/// The longest `jti`, in bytes.
const MAX_JTI_LEN: usize = 255;

/// A verified SET.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedSet {
    pub(crate) iss: String,
    pub(crate) jti: String,
    pub(crate) iat: u64,
    /// Each event: its type URI, its payload, its subject.
    pub(crate) events: Vec<SetEvent>,
}

/// One event of a SET.
#[derive(Debug, Clone)]
pub(crate) struct SetEvent {
    pub(crate) uri: String,
    pub(crate) subjects: Subjects,
    /// When it happened (`event_timestamp`, else the SET's `toe`, else `iat`), never later
    /// than `iat`: a revocation "of tokens issued before the event" cannot reach the future.
    pub(crate) at: u64,
    /// CAEP `change_type` (`create`, `revoke`, `update`, `delete`), if a short string.
    pub(crate) change_type: Option<String>,
}

/// The claims of a SET, as signed.
#[derive(Deserialize)]
struct SetClaims {
    iss: String,
    jti: String,
    #[serde(deserialize_with = "numeric_date::required")]
    iat: u64,
    /// SSF 1.0: the subject of every event of the SET.
    #[serde(default)]
    sub_id: Option<Value>,
    /// RFC 8417 §2.2: the time of the event.
    #[serde(default)]
    toe: Option<Value>,
    events: Map<String, Value>,
}

/// Verifies `set` against the `transmitters` for `audience`, at `now` (seconds since the
/// epoch), allowing `skew_secs` of clock difference.
pub(crate) async fn verify_set<'a>(
    set: &str,
    transmitters: impl Fn(&str) -> Option<&'a SsfTransmitter>,
    audience: &str,
    now: u64,
    skew_secs: u64,
) -> Result<VerifiedSet, SetError> {
    if set.len() > MAX_SET_LEN {
        return Err(SetError::request("a SET has at most 64 KiB"));
    }
    if !crate::verify::has_jws_shape(set) {
        return Err(SetError::request("not a signed JWT (compact JWS)"));
    }
    let header = decode_header(set).map_err(|_| SetError::request("unreadable JWT header"))?;
    let typ = header
        .typ
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if typ != "secevent+jwt" && typ != "application/secevent+jwt" {
        return Err(SetError::request("not a SET (typ secevent+jwt)"));
    }
    let iss = crate::issuer::claimed_issuer(set)
        .map_err(|_| SetError::request("the SET's payload does not name its issuer once"))?
        .ok_or_else(|| SetError::new(SetErrorCode::InvalidIssuer, "the SET has no iss"))?;
    let transmitter = transmitters(&iss).ok_or_else(|| {
        SetError::new(
            SetErrorCode::InvalidIssuer,
            "the SET's issuer is no configured transmitter",
        )
    })?;
    let key = transmitter.jwks.resolve(&header).await.map_err(|_| {
        SetError::new(
            SetErrorCode::InvalidKey,
            "no key of this transmitter has the SET's kid",
        )
    })?;
    let decoding_key = key
        .decoding_key()
        .ok_or_else(|| SetError::new(SetErrorCode::InvalidKey, "an empty key"))?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.algorithms = key.allowed_algorithms().to_vec();
    validation.set_issuer(&[transmitter.issuer.as_str()]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.validate_exp = false;
    let claims = decode::<SetClaims>(set, decoding_key, &validation)
        .map_err(refusal)?
        .claims;
    read_set(claims, now, skew_secs)
}

/// The SET of verified `claims`: `iat` in range, `jti`, each event and its subject.
fn read_set(claims: SetClaims, now: u64, skew_secs: u64) -> Result<VerifiedSet, SetError> {
    check_claims(&claims, now, skew_secs)?;
    let events = claims
        .events
        .iter()
        .map(|(uri, payload)| read_event(uri, payload, &claims))
        .collect::<Result<_, _>>()?;
    Ok(VerifiedSet {
        iss: claims.iss,
        jti: claims.jti,
        iat: claims.iat,
        events,
    })
}

/// The claims path of a SET whose signature verified, from its JSON (the fuzz target's).
#[cfg(feature = "fuzzing")]
pub(crate) fn read_claims_json(json: &str, now: u64) -> Result<VerifiedSet, SetError> {
    let claims: SetClaims =
        serde_json::from_str(json).map_err(|_| SetError::request("malformed SET claims"))?;
    read_set(claims, now, 60)
}

/// The checks jsonwebtoken does not make: `iat` in range, `jti`, `events`.
fn check_claims(claims: &SetClaims, now: u64, skew_secs: u64) -> Result<(), SetError> {
    if claims.iat > now.saturating_add(skew_secs) {
        return Err(SetError::request("the SET is issued in the future (iat)"));
    }
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
        return Err(SetError::request("the SET's jti has 1 to 255 bytes"));
    }
    if claims.events.is_empty() || claims.events.len() > MAX_EVENTS {
        return Err(SetError::request("the SET carries 1 to 8 events"));
    }
    Ok(())
}

/// One event: its payload an object, its subject the SET's `sub_id` or its own `subject`.
fn read_event(uri: &str, payload: &Value, claims: &SetClaims) -> Result<SetEvent, SetError> {
    let Value::Object(payload) = payload else {
        return Err(SetError::request("an event's payload is a JSON object"));
    };
    let subjects = match claims.sub_id.as_ref().or_else(|| payload.get("subject")) {
        Some(subject) => Subjects::read(subject)?,
        None => Subjects::default(),
    };
    let time = |v: Option<&Value>| {
        v.and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0)
    };
    // Whole seconds, never after the SET was issued.
    let at = time(payload.get("event_timestamp"))
        .or_else(|| time(claims.toe.as_ref()))
        .map_or(claims.iat, |t| (t as u64).min(claims.iat));
    let change_type = payload
        .get("change_type")
        .and_then(Value::as_str)
        .filter(|t| t.len() <= 16)
        .map(String::from);
    Ok(SetEvent {
        uri: uri.to_owned(),
        subjects,
        at,
        change_type,
    })
}

/// jsonwebtoken's refusals as RFC 8935 codes.
fn refusal(e: jsonwebtoken::errors::Error) -> SetError {
    match e.kind() {
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => {
            SetError::new(
                SetErrorCode::InvalidKey,
                "the signature does not verify with the transmitter's key",
            )
        }
        ErrorKind::InvalidIssuer => SetError::new(SetErrorCode::InvalidIssuer, "unexpected iss"),
        ErrorKind::InvalidAudience => SetError::new(
            SetErrorCode::InvalidAudience,
            "the SET is for another audience",
        ),
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => {
            SetError::new(SetErrorCode::InvalidAudience, "the SET has no aud")
        }
        // Fixed text: serde's messages quote the claims' values.
        ErrorKind::Json(_) => SetError::request("the SET's claims are not of the expected shape"),
        _ => SetError::request("malformed SET"),
    }
}
