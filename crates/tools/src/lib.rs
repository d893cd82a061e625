//! The operator tools, organised by command: `ctl` (`mciasctl`, a client of
//! a running server through `mcias-client`) and `db` (`mciasdb`, offline on
//! the database through `mcias-core`'s `idm`), each with its clap
//! definitions (`cli`, which also feed the man pages in `crates/mangen`)
//! and one module per noun; and what both share: `args` (argument types),
//! `render` (accounts, roles, credentials, audit events), `output`
//! (tables, JSON lines, times, QR codes), `prompt` (secrets from the
//! terminal or stdin) and `exit` (exit statuses and the runtime).

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

pub mod args;
pub mod ctl;
pub mod db;
pub mod exit;
pub mod output;
pub mod prompt;
pub mod render;
