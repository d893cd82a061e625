//! cargo-fuzz harness of the `rest_binding` target (fuzz/targets/rest_binding.rs).
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::rest_binding::run(data));
