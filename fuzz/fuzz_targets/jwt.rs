//! cargo-fuzz harness of the `jwt` target (fuzz/targets/jwt.rs).
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::jwt::run(data));
