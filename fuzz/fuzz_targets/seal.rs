//! cargo-fuzz harness of the `seal` target (fuzz/targets/seal.rs).
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::seal::run(data));
