//! cargo-fuzz harness of the `phc` target (fuzz/targets/phc.rs).
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::phc::run(data));
