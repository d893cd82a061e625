//! `mciasdb`: offline maintenance of the MCIAS database with the master key.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mcias::cli::{DbCli, DbCommand};
use mcias::clock::{OsRandom, SystemClock};
use mcias::config::Config;
use mcias::crypto::password::PoolSize;
use mcias::error::{Error, Result};
use mcias::idm::{Idm, KeySource};
use zeroize::Zeroizing;

fn read_password_stdin() -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Error::invalid("stdin", format!("cannot read the password from stdin: {e}"))
    })?;
    let pw = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if pw.is_empty() {
        return Err(Error::invalid(
            "empty_password",
            "no password on standard input",
        ));
    }
    Ok(pw)
}

async fn run(cli: DbCli) -> Result<()> {
    let config = Config::load(&cli.config)?;
    let source = KeySource::from_config(&config)?;
    let idm = Idm::open(
        &config,
        source,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        PoolSize::for_this_machine(),
    )
    .await?;
    match cli.command {
        DbCommand::BootstrapAdmin { username, .. } => {
            let password = read_password_stdin()?;
            let account = idm.bootstrap_admin(&username, password).await?;
            println!(
                "created admin account {} ({})",
                account.username, account.id
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = DbCli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mciasdb: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mciasdb: {}", e.message);
            ExitCode::FAILURE
        }
    }
}
