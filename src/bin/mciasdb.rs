//! `mciasdb`: offline maintenance of the MCIAS database with the master key.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use clap::Parser;
use mcias::cli::DbCli;

fn main() -> ExitCode {
    mcias::cli::db_run::main(DbCli::parse())
}
