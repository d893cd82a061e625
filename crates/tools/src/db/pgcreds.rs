//! `pgcreds get|set`.

use std::process::ExitCode;

use super::cli::DbPgcredsCommand;
use super::password_input;
use crate::output::Printer;
use crate::render;
use mcias_core::error::Result;
use mcias_core::idm::{Caller, Idm, PgCreds};

pub(super) async fn run(
    p: &Printer,
    idm: &Idm,
    caller: &Caller,
    c: DbPgcredsCommand,
) -> Result<ExitCode> {
    match c {
        DbPgcredsCommand::Get { account } => {
            let a = idm.find_account(&account).await?;
            let creds = idm.get_pg_creds(caller, &a.id).await?;
            eprintln!(
                "WARNING: sensitive output: the password below is in clear text. This read is recorded in the audit log."
            );
            render::pgcreds(
                p,
                &a.id,
                &creds.host,
                u32::from(creds.port),
                &creds.database,
                &creds.username,
                &creds.password,
            );
        }
        DbPgcredsCommand::Set {
            target,
            password_stdin,
        } => {
            let a = idm.find_account(&target.account).await?;
            let password = password_input(password_stdin)?;
            idm.set_pg_creds(
                caller,
                &a.id,
                PgCreds {
                    host: target.host,
                    port: target.port,
                    database: target.database,
                    username: target.username,
                    password,
                },
            )
            .await?;
            render::pgcreds_stored(p, &a.username, "id", &a.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
