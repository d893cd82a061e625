//! The fuzz targets' bodies, shared by the libFuzzer harness
//! (`fuzz/fuzz_targets/*.rs`, `cargo fuzz run <name>`) and the plain smoke
//! test (`tests/fuzz_smoke.rs`, `make fuzz-smoke`), which both include this
//! directory with `#[path]`. Each `run` takes arbitrary bytes, must never
//! panic, and asserts what must hold whatever the input.

#![allow(dead_code)]

pub mod config;
pub mod grpc_service;
pub mod jwt;
pub mod phc;
pub mod rest_binding;
pub mod seal;
pub mod totp;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name (its corpus directory's name).
pub const TARGETS: &[(&str, Target)] = &[
    ("jwt", jwt::run),
    ("rest_binding", rest_binding::run),
    ("config", config::run),
    ("phc", phc::run),
    ("seal", seal::run),
    ("totp", totp::run),
    ("grpc_service", grpc_service::run),
];

/// Splits `data` at the first `n - 1` bytes 0xFF into `n` parts (missing
/// parts are empty): how the targets that take several inputs read theirs.
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 1..n {
        match rest.iter().position(|&b| b == 0xFF) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}
