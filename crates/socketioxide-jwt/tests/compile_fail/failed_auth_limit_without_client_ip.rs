// The failed-authentication limit counts per client IP: it takes the way to find it (was
// `ConfigError::FailedAuthLimitNeedsClientIp`).
use std::time::Duration;
use socketioxide_jwt::{keys::Keys, limits::FailedAuthLimit, JwtAuth};

fn main() {
    let limit = FailedAuthLimit::new(5, Duration::from_secs(60), Duration::from_secs(300));
    let _ = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).failed_auth_limit(limit);
}
