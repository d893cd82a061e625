//! `mciasdb`: offline maintenance of the MCIAS database with the master key.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use clap::Parser;
use mcias_tools::db::DbCli;

fn main() -> ExitCode {
    mcias_tools::db::main(DbCli::parse())
}
