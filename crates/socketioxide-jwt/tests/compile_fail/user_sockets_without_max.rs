// Where the per-user cap is counted comes with the cap (was `ConfigError::UserSocketsWithoutMax`).
use socketioxide_jwt::{keys::Keys, limits::UserSockets, JwtAuth};

fn main() {
    let _ = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
        .user_sockets(UserSockets::in_memory());
}
