//! The MCIAS API as Rust types: the prost messages and tonic clients and
//! servers generated from `proto/`, and the encoded descriptor set (extension
//! options kept) that drives reflection, the permission table and the REST
//! route table. The only crate that compiles the protos.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::await_holding_lock
    )
)]

/// `mcias.v1`
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod mcias {
    /// `mcias.v1`
    pub mod v1 {
        tonic::include_proto!("mcias.v1");
    }
}

pub use mcias::v1::*;

/// The encoded FileDescriptorSet of every proto file, imports included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mcias_descriptor.bin"));

/// A Unix time as a protobuf Timestamp.
pub fn timestamp(secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}
