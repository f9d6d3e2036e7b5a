// One key source per configuration: static keys or a resolver, not both (was
// `ConfigError::KeysAndResolver`), and no key added after the source was chosen.
use socketioxide_jwt::{keys::Keys, JwtAuth, VerificationKey};

fn main() {
    let _ = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
        .key(VerificationKey::hmac(b"another-32-byte-secret-for-hs256"));
}
