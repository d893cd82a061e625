//! `mciasctl`: the MCIAS admin and user command-line client (gRPC over TLS).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use clap::Parser;
use mcias_tools::ctl::CtlCli;

fn main() -> ExitCode {
    mcias_tools::ctl::main(CtlCli::parse())
}
