//! The wire: generated protobuf types, the permission table read from the
//! descriptor set, the request gate (rate limit, authentication,
//! authorization, logging), the gRPC services and the listener.
//! Only this module knows tonic and prost.

pub mod body;
pub mod gate;
pub mod grpc;
pub mod metrics;
pub mod oauth;
pub mod permissions;
pub mod rest;
pub mod server;
pub mod status;
pub mod tls;
pub mod wellknown;

/// Generated protobuf messages and services, and the encoded descriptor set
/// (with extension options kept) that drives reflection and permissions.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    /// `mcias.v1`
    pub mod mcias {
        /// `mcias.v1`
        pub mod v1 {
            tonic::include_proto!("mcias.v1");
        }
    }

    /// The encoded FileDescriptorSet of every proto file, imports included.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/mcias_descriptor.bin"));

    pub use mcias::v1::*;
}

/// A Unix time as a protobuf Timestamp.
pub fn timestamp(secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}
