use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn family_mismatch_is_refused() {
    let key = VerificationKey::hmac(SECRET).algorithms([Algorithm::RS256]);
    assert!(matches!(
        key.validate(32),
        Err(ConfigError::AlgorithmFamilyMismatch {
            algorithm: Algorithm::RS256,
            ..
        })
    ));
}

#[test]
fn short_secret_is_refused() {
    assert!(matches!(
        VerificationKey::hmac(b"short").validate(32),
        Err(ConfigError::WeakSecret { len: 5, min: 32 })
    ));
}

#[test]
fn kid_selection() {
    let mut keys = StaticKeys::default();
    keys.insert(VerificationKey::hmac(SECRET).kid("a")).unwrap();
    keys.insert(VerificationKey::hmac(SECRET).kid("b")).unwrap();
    assert!(keys.select(Some("a")).is_some());
    assert!(keys.select(Some("c")).is_none());
    assert!(keys.select(None).is_none(), "no kid-less key configured");
    assert!(matches!(
        keys.insert(VerificationKey::hmac(SECRET).kid("a")),
        Err(ConfigError::DuplicateKid(Some(_)))
    ));
}

#[test]
fn single_kidless_key_ignores_token_kid() {
    let mut keys = StaticKeys::default();
    keys.insert(VerificationKey::hmac(SECRET)).unwrap();
    assert!(keys.select(Some("anything")).is_some());
    assert!(keys.select(None).is_some());
}
