//! Entry points for the fuzz targets (`fuzz/`) and the corpus replay tests (feature `fuzzing`). Not a public API.
//!
//! Each function takes untrusted bytes, runs them through the same code a socket's input goes
//! through, and panics only if a property is violated.

use crate::keys::Keys;
use std::sync::OnceLock;

use crate::auth::JwtAuth;
use crate::credentials;

use crate::protocol::ErrorCode;

/// The token bound of the fuzzing configuration (the builder's default).
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The HMAC secret of the fuzzing configuration (the seed corpus's valid tokens use it).
pub const SECRET: &[u8] = b"fuzzing-secret-0123456789abcdef!";

fn auth() -> &'static JwtAuth {
    static AUTH: OnceLock<JwtAuth> = OnceLock::new();
    AUTH.get_or_init(|| {
        JwtAuth::builder(Keys::hmac(SECRET))
            .build()
            .expect("fuzzing configuration")
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("fuzzing runtime");
    }
    RT.with(|rt| rt.block_on(f))
}

/// Verifies `token`; asserts the properties every result must have.
fn verify_checked(token: &str) {
    let result = block_on(auth().verify(token));
    match result {
        Ok(_) => {
            // Only HS256 with the configured secret can ever verify here.
            let header = jsonwebtoken::decode_header(token).expect("a verified token has a header");
            assert_eq!(
                header.alg,
                jsonwebtoken::Algorithm::HS256,
                "verified a non-HS256 token"
            );
            assert!(token.len() <= MAX_TOKEN_LEN);
        }
        Err(e) => {
            // Only fixed, public text goes over the wire: the code's own message, never anything
            // taken from the input.
            assert_eq!(e.message(), e.code().default_message());
        }
    }
}

/// An `authenticate` payload: JSON, then token extraction, then verification.
pub fn authenticate_payload(data: &[u8]) {
    let payload: credentials::MessageCredentials =
        serde_json::from_slice(data).unwrap_or(credentials::MessageCredentials::Missing);
    match payload.token() {
        Ok(token) => verify_checked(token),
        Err(e) => assert!(matches!(
            e.code(),
            ErrorCode::CredentialsRequired | ErrorCode::CredentialsBadFormat
        )),
    }
}

/// A handshake: the first line is the `auth` payload (JSON), the rest the `Authorization`
/// header, and the query string is the `?token=` form.
pub fn handshake(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (auth_json, header) = text.split_once('\n').unwrap_or((&text, ""));
    let auth: credentials::MessageCredentials =
        serde_json::from_str(auth_json).unwrap_or(credentials::MessageCredentials::Missing);
    let mut request = http::Request::builder().uri("/socket.io/?EIO=4&transport=websocket");
    if let Ok(value) = http::HeaderValue::from_str(header) {
        request = request.header(http::header::AUTHORIZATION, value);
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    for allow_query in [false, true] {
        let rules = credentials::CredentialRules::defaults(allow_query);
        match rules.handshake_token(auth.clone(), &parts) {
            Ok(Some(token)) => verify_checked(&token),
            Ok(None) => {}
            Err(e) => assert_eq!(e.code(), ErrorCode::CredentialsBadFormat),
        }
    }
}

/// Raw bytes as a token.
pub fn verify_token(data: &[u8]) {
    if let Ok(token) = std::str::from_utf8(data) {
        verify_checked(token);
    }
}

/// Raw bytes as the claims of a SET whose signature verified (feature `ssf`): never a panic;
/// what is accepted has 1 to 8 events, a `jti` of 1 to 255 bytes, an `iat` no more than a
/// minute ahead, and events that happened no later than the SET.
#[cfg(feature = "ssf")]
pub fn ssf_set_claims(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let now = 1_800_000_000;
    if let Ok(set) = crate::ssf::set::read_claims_json(json, now) {
        assert!((1..=8).contains(&set.events.len()));
        assert!((1..=255).contains(&set.jti.len()));
        assert!(set.iat <= now + 60);
        assert!(set.events.iter().all(|e| e.at <= set.iat));
    }
}
