#![no_main]
//! Untrusted bytes through `socketioxide_jwt::__fuzz::ssf_set_claims` (see that function's doc).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    socketioxide_jwt::__fuzz::ssf_set_claims(data);
});
