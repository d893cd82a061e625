//! MCIAS: a gRPC-first identity and access service.
//!
//! Modules in reading order, and in dependency order from the outside in:
//! `api` (wire) → `idm` (domain) → `store` (SQLite) → `crypto`.

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
#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dev;
pub mod error;
pub mod idm;
pub mod store;
