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
pub mod web;
pub mod wellknown;

/// Generated protobuf messages and services, and the encoded descriptor set
/// (with extension options kept) that drives reflection and permissions.
pub use mcias_proto as pb;
/// A Unix time as a protobuf Timestamp.
pub use mcias_proto::timestamp;
