//! cargo-fuzz harness of the `config` target (fuzz/targets/config.rs).
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::config::run(data));
