// The claims type is chosen when the builder is made (`JwtAuthBuilder::<T>::new`), so a check
// written for one type can never be left behind by another (was
// `ConfigError::ClaimsAfterTypedSetting`).
use socketioxide_jwt::{keys::Keys, JwtAuth};

#[derive(serde::Deserialize)]
struct Mine {
    role: String,
}

fn main() {
    let _ = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
        .check(|_| async { Ok(()) })
        .claims::<Mine>();
}
