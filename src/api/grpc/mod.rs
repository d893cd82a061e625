//! One module per gRPC service. Handlers translate between protobuf messages
//! and domain calls; nothing else.

mod account;
mod admin;
mod auth;
mod client;
mod token;

pub use account::AccountApi;
pub use admin::AdminApi;
pub use auth::AuthApi;
pub use client::ClientApi;
pub use token::TokenApi;

use tonic::Request;

use mcias_core::idm::Caller;

/// The caller the gate attached to the request.
fn caller<T>(req: &Request<T>) -> Caller {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default()
}
