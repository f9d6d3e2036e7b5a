//! On stable: the fuzz targets' seed corpus (and every crash ever found, kept there), plus
//! property tests over generated input, through the same entry points as `fuzz/`.

use socketioxide_jwt::keys::Keys;
use std::path::PathBuf;

use proptest::prelude::*;
use socketioxide_jwt::__fuzz;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(inputs.len() >= 10, "the seed corpus of {target} is missing");
    inputs.sort();
    inputs
}

#[test]
fn seed_corpus_replays_cleanly() {
    for input in corpus("authenticate_payload") {
        __fuzz::authenticate_payload(&input);
    }
    for input in corpus("handshake") {
        __fuzz::handshake(&input);
    }
    for input in corpus("verify_token") {
        __fuzz::verify_token(&input);
    }
    for input in corpus("ssf_set") {
        __fuzz::ssf_set_claims(&input);
    }
}

/// Strings shaped like tokens: three base64url-ish parts, sometimes with a real header.
fn token_like() -> impl Strategy<Value = String> {
    let part = "[A-Za-z0-9_=+/.-]{0,40}";
    let header = prop_oneof![
        Just("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9".to_owned()),
        Just("eyJhbGciOiJub25lIn0".to_owned()),
        part.prop_map(|s| s.to_owned()),
    ];
    (header, part, part).prop_map(|(h, p, s)| format!("{h}.{p}.{s}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        __fuzz::authenticate_payload(&data);
        __fuzz::handshake(&data);
        __fuzz::verify_token(&data);
    }

    #[test]
    fn token_shaped_strings_never_verify_wrongly(token in token_like()) {
        __fuzz::verify_token(token.as_bytes());
        __fuzz::authenticate_payload(serde_json::json!({ "token": token }).to_string().as_bytes());
        __fuzz::handshake(format!("{{}}\nBearer {token}").as_bytes());
    }

    #[test]
    fn a_valid_token_with_one_byte_changed_is_refused(pos in 0usize..200, byte in any::<u8>()) {
        let valid = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/verify_token/valid"),
        ).unwrap();
        let mut bytes = valid.clone().into_bytes();
        let pos = pos % bytes.len();
        prop_assume!(bytes[pos] != byte);
        bytes[pos] = byte;
        if let Ok(mutated) = String::from_utf8(bytes) {
            let auth = socketioxide_jwt::JwtAuth::builder(Keys::hmac(__fuzz::SECRET)).build().unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let result = rt.block_on(auth.verify(&mutated));
            // Base64 may map two encodings to the same bytes in the last character only.
            let last_char_equivalent = pos == valid.len() - 1;
            prop_assert!(result.is_err() || last_char_equivalent, "a tampered token verified: {mutated}");
        }
    }
}
