use super::fetch::max_age;
use super::*;

#[test]
fn cache_control() {
    let parse = |value: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CACHE_CONTROL, value.parse().unwrap());
        max_age(&headers)
    };
    assert_eq!(parse("public, max-age=600"), Some(Duration::from_secs(600)));
    assert_eq!(parse("no-store"), Some(Duration::ZERO));
    assert_eq!(parse("no-cache, max-age=600"), Some(Duration::ZERO));
    assert_eq!(parse("public"), None);
    assert_eq!(max_age(&http::HeaderMap::new()), None);
}

#[test]
fn urls() {
    assert!(check_url("https://idp.example/jwks").is_ok());
    assert!(check_url("http://127.0.0.1:8080/jwks").is_ok());
    assert!(check_url("http://localhost/jwks").is_ok());
    assert!(matches!(
        check_url("http://idp.example/jwks"),
        Err(JwksError::InsecureUrl(_))
    ));
}

#[test]
fn unusable_keys_are_skipped() {
    let set = serde_json::json!({ "keys": [
        { "kty": "oct", "k": "c2VjcmV0", "kid": "sym" },
        { "kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB" },
        { "kty": "nope" },
    ]});
    assert!(matches!(
        parse_key_set(set.to_string().as_bytes()),
        Err(JwksError::NoUsableKey)
    ));
    assert!(matches!(
        parse_key_set(b"garbage"),
        Err(JwksError::Parse(_))
    ));
}
