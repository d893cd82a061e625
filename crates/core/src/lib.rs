//! MCIAS core: the domain and what it stands on, with nothing of the wire.
//!
//! Modules in dependency order from the outside in: `idm` (the domain) →
//! `store` (SQLite) → `crypto`; `model` (the domain's types), `config`,
//! `error` and `clock` are shared by all of them.
//! This crate does not depend on tonic, prost, hyper or axum; the server
//! crate converts between the wire and these types.

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

pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod idm;
pub mod model;
pub mod store;
