// Several issuers are each a `TrustedIssuer` with its own keys: no keys without an `iss` beside
// them (was `ConfigError::KeysWithoutIssuer`).
use socketioxide_jwt::{keys::Keys, JwtAuth, TrustedIssuer};

fn main() {
    let partner = TrustedIssuer::new("https://idp.example", Keys::hmac(b"the-partner's-own-32-byte-secret"));
    let _ = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).trusted_issuer(partner);
}
