//! `mciasdb`: offline maintenance of the database through `idm`, one module
//! per noun of its command line. Read-only commands open the database
//! without the lock ([`ReadOnlyDb`]: safe while a server runs); every other
//! command takes the [`MaintenanceLock`] first and is refused while a
//! server holds it. `cli` holds the clap definitions.

mod account;
mod audit;
mod cli;
mod file;
mod pgcreds;
mod role;
mod schema;
mod token;

pub use cli::*;

use std::process::ExitCode;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::args::Output;
use crate::exit;
use crate::output::Printer;
use crate::prompt;
use mcias_core::clock::{OsRandom, SystemClock};
use mcias_core::config::Config;
use mcias_core::crypto::password::PoolSize;
use mcias_core::error::{Error, Result};
use mcias_core::idm::{Caller, Idm, KeySource, MaintenanceLock, ReadOnlyDb};

/// Runs `mciasdb` and returns its exit status.
pub fn main(cli: DbCli) -> ExitCode {
    exit::block_on("mciasdb", async move {
        match run(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("mciasdb: {}", e.message);
                ExitCode::from(if e.code == "usage" {
                    exit::USAGE
                } else {
                    exit::REFUSED
                })
            }
        }
    })
}

/// A usage error (exit 2).
fn usage(msg: impl Into<String>) -> Error {
    Error::invalid("usage", msg)
}

/// A new password: prompted twice, or one line (or two identical lines) of
/// standard input.
fn password_input(stdin: bool) -> Result<Zeroizing<String>> {
    if stdin {
        prompt::new_secret_stdin(true)
    } else {
        prompt::new_secret("Password")
    }
    .map_err(usage)
}

/// A read-only command reached the write path, or the reverse.
fn misrouted() -> Error {
    Error::internal("command routed to the wrong path")
}

/// Whether a command only reads (and may run while a server holds the
/// database).
fn read_only(cmd: &DbCommand) -> bool {
    matches!(
        cmd,
        DbCommand::Schema(SchemaCommand::Verify)
            | DbCommand::Account(DbAccountCommand::List { .. } | DbAccountCommand::Get { .. })
            | DbCommand::Role(DbRoleCommand::List { .. })
            | DbCommand::Token(DbTokenCommand::List { .. })
            | DbCommand::Audit(_)
            | DbCommand::Backup { .. }
            | DbCommand::Verify
    )
}

async fn run(cli: DbCli) -> Result<ExitCode> {
    let DbCli {
        config,
        json,
        command,
    } = cli;
    let p = Printer::new(if json { Output::Json } else { Output::Table });
    let config_path = config
        .ok_or_else(|| usage("give --config PATH (or MCIAS_CONFIG): the server's configuration"))?;
    let config = Config::load(&config_path)?;
    let source = KeySource::from_config(&config)?;
    let db = config.database.path.clone();
    if read_only(&command) {
        let ro = ReadOnlyDb::open(&db, &source, Arc::new(OsRandom)).await?;
        return match command {
            DbCommand::Schema(_) => schema::status(&p, &ro),
            DbCommand::Account(c) => account::read(&p, &ro, c).await,
            DbCommand::Role(c) => role::read(&p, &ro, c).await,
            DbCommand::Token(c) => token::read(&p, &ro, c).await,
            DbCommand::Audit(c) => audit::run(&p, &ro, c).await,
            DbCommand::Backup { to } => file::backup(&p, &ro, &to).await,
            DbCommand::Verify => file::verify(&p, &ro).await,
            _ => Err(misrouted()),
        };
    }
    let _lock = MaintenanceLock::acquire(&db).map_err(|e| {
        if e.code == "database_busy" {
            Error::precondition(
                "database_busy",
                format!(
                    "{}; stop the server first. Read-only commands (backup, verify, schema verify, \
                     account list/get, role list, token list, audit) work while it runs.",
                    e.message
                ),
            )
        } else {
            e
        }
    })?;
    match command {
        DbCommand::Restore { from } => return file::restore(&p, &db, &from, &source).await,
        DbCommand::Schema(SchemaCommand::Migrate) => {
            return schema::migrate(&p, &db, &source).await;
        }
        _ => {}
    }
    let idm = Idm::open(
        &config,
        source,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        PoolSize {
            workers: 1,
            queue: 4,
        },
    )
    .await?;
    let caller = Caller::offline_tool();
    match command {
        DbCommand::BootstrapAdmin { username, .. } => {
            account::bootstrap_admin(&p, &idm, &username).await
        }
        DbCommand::Account(c) => account::write(&p, &idm, &caller, c).await,
        DbCommand::Role(c) => role::write(&p, &idm, &caller, c).await,
        DbCommand::Token(c) => token::write(&p, &idm, &caller, c).await,
        DbCommand::Prune(PruneCommand::Tokens) => token::prune(&p, &idm, &caller).await,
        DbCommand::Pgcreds(c) => pgcreds::run(&p, &idm, &caller, c).await,
        DbCommand::Rekey {
            new_keyfile,
            new_passphrase_env,
        } => file::rekey(&p, &idm, new_keyfile, new_passphrase_env),
        DbCommand::Schema(_)
        | DbCommand::Audit(_)
        | DbCommand::Backup { .. }
        | DbCommand::Restore { .. }
        | DbCommand::Verify => Err(misrouted()),
    }
}
