//! cargo-fuzz harness of the `grpc_service` target (fuzz/targets/grpc_service.rs).
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::grpc_service::run(data));
