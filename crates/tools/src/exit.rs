//! The exit-status convention of both tools, and their one async runtime.

use std::future::Future;
use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// Refused: by the server, by the database, or a check that found problems.
pub const REFUSED: u8 = 1;
/// A usage error: bad arguments or input.
pub const USAGE: u8 = 2;
/// No connection, a TLS failure or an unreachable server (`mciasctl`).
pub const CONNECT: u8 = 3;

/// Runs `main` on a small multi-threaded Tokio runtime (blocking database
/// work needs more than one thread) and returns its exit status; a runtime
/// that cannot start is reported under `tool`'s name and exits 1.
pub fn block_on(tool: &str, main: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(main),
        Err(e) => {
            eprintln!("{tool}: cannot start the async runtime: {e}");
            ExitCode::from(REFUSED)
        }
    }
}
