//! Whatever crypto backend features are enabled (one, or both as a unified workspace build
//! would), building a configuration makes verification work instead of panicking.

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use socketioxide_jwt::keys::Keys;
use socketioxide_jwt::{ErrorCode, JwtAuth};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn verification_works_with_the_enabled_backends() {
    let auth = JwtAuth::builder(Keys::hmac(SECRET))
        .build()
        .expect("a backend is enabled");
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let token = encode(
        &Header::default(),
        &json!({"sub": "alice", "exp": exp}),
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    let claims = auth.verify(&token).await.unwrap();
    assert_eq!(claims.sub.as_deref(), Some("alice"));
    let last = if token.ends_with('x') { 'y' } else { 'x' };
    let tampered = format!("{}{last}", &token[..token.len() - 1]);
    assert_eq!(
        auth.verify(&tampered).await.unwrap_err().code(),
        ErrorCode::InvalidToken
    );
}
