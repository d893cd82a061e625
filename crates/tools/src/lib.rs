//! The operator tools: `mciasctl` (`ctl`, `ctl_run`: a gRPC client of a
//! running server) and `mciasdb` (`db`, `db_run`: offline, on the database
//! through `mcias-core`), with what they share: `output` (tables, JSON lines,
//! times, QR codes) and `prompt` (secrets from the terminal or stdin). The
//! clap definitions (`ctl`, `db`) also feed the man pages (`crates/mangen`).

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

pub mod ctl;
pub mod ctl_run;
pub mod db;
pub mod db_run;
pub mod output;
pub mod prompt;
