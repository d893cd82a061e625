//! cargo-fuzz harness of the `totp` target (fuzz/targets/totp.rs).
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::totp::run(data));
