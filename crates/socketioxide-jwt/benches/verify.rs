//! Cost of `JwtAuth::verify` per algorithm, side by side with a bare `jsonwebtoken::decode` of
//! the same token (the baseline): the ratio is what this crate's checks add.
//!
//! Run with `cargo bench -p socketioxide-jwt --features jwks --bench verify`.

#![allow(missing_docs)] // criterion_group! makes an undocumented public function.

use socketioxide_jwt::{keys::Keys, TrustedIssuer};
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use socketioxide_jwt::{JwtAuth, StandardClaims, VerificationKey};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../e2e/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Case {
    name: &'static str,
    alg: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    key: VerificationKey,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "HS256",
            alg: Algorithm::HS256,
            encoding: EncodingKey::from_secret(SECRET).unwrap(),
            decoding: DecodingKey::from_secret(SECRET).unwrap(),
            key: VerificationKey::hmac(SECRET),
        },
        Case {
            name: "RS256",
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap(),
            decoding: DecodingKey::from_rsa_pem(&fixture("rsa_public.pem")).unwrap(),
            key: VerificationKey::rsa_pem(fixture("rsa_public.pem")).unwrap(),
        },
        Case {
            name: "ES256",
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap(),
            decoding: DecodingKey::from_ec_pem(&fixture("ec_public.pem")).unwrap(),
            key: VerificationKey::ec_pem(fixture("ec_public.pem")).unwrap(),
        },
        Case {
            name: "EdDSA",
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_pem(&fixture("ed_private.pem")).unwrap(),
            decoding: DecodingKey::from_ed_pem(&fixture("ed_public.pem")).unwrap(),
            key: VerificationKey::ed_pem(fixture("ed_public.pem")).unwrap(),
        },
    ]
}

/// The same keys as a JWKS file, so the JWKS cache-hit path is measured beside the static key.
#[cfg(feature = "jwks")]
fn jwks_auth(cases: &[Case], rt: &tokio::runtime::Runtime) -> JwtAuth {
    let keys: Vec<_> = cases
        .iter()
        .filter(|c| c.alg != Algorithm::HS256)
        .map(|c| {
            let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&c.encoding, c.alg).unwrap();
            jwk.common.key_id = Some(c.name.to_owned());
            jwk
        })
        .collect();
    let path = std::env::temp_dir().join(format!("bench-jwks-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&json!({ "keys": keys })).unwrap()).unwrap();
    let jwks = rt
        .block_on(socketioxide_jwt::jwks::Jwks::from_file(
            &path,
            Default::default(),
        ))
        .unwrap();
    JwtAuth::builder(TrustedIssuer::new("bench", Keys::resolver(jwks, "bench")))
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = json!({ "sub": "alice", "exp": exp, "iss": "bench", "aud": "bench" });
    #[cfg(feature = "jwks")]
    let jwks = jwks_auth(&cases(), &rt);
    for case in cases() {
        let auth = JwtAuth::builder(TrustedIssuer::new(
            "bench",
            Keys::from(case.key).audience("bench"),
        ))
        .build()
        .unwrap();
        let token = encode(&Header::new(case.alg), &claims, &case.encoding).unwrap();
        let mut validation = Validation::new(case.alg);
        validation.set_issuer(&["bench"]);
        validation.set_audience(&["bench"]);
        let mut group = c.benchmark_group(case.name);
        group.bench_function("jsonwebtoken::decode (baseline)", |b| {
            b.iter(|| decode::<Value>(black_box(&token), &case.decoding, &validation).unwrap())
        });
        group.bench_function("JwtAuth::verify", |b| {
            b.iter(|| {
                let claims: std::sync::Arc<StandardClaims> =
                    rt.block_on(auth.verify(black_box(&token))).unwrap();
                claims
            })
        });
        #[cfg(feature = "jwks")]
        if case.alg != Algorithm::HS256 {
            let mut header = Header::new(case.alg);
            header.kid = Some(case.name.to_owned());
            let token = encode(&header, &claims, &case.encoding).unwrap();
            group.bench_function("JwtAuth::verify, JWKS cache hit", |b| {
                b.iter(|| {
                    let claims: std::sync::Arc<StandardClaims> =
                        rt.block_on(jwks.verify(black_box(&token))).unwrap();
                    claims
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
