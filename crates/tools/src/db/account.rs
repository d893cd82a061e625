//! `bootstrap-admin` and `account list|get|create|set-password|set-status|reset-totp`.

use std::process::ExitCode;

use serde_json::json;

use super::cli::{DbAccountCommand, DbKind, DbStatus};
use super::{misrouted, password_input, usage};
use crate::output::Printer;
use crate::render;
use mcias_core::error::Result;
use mcias_core::idm::{Caller, Idm, ReadOnlyDb};
use mcias_core::model::{AccountStatus, AccountType};

/// `bootstrap-admin`: the first admin, its password from standard input.
pub(super) async fn bootstrap_admin(p: &Printer, idm: &Idm, username: &str) -> Result<ExitCode> {
    let password = password_input(true)?;
    let account = idm.bootstrap_admin(username, password).await?;
    p.ack(
        &format!(
            "created admin account {} ({})",
            account.username, account.id
        ),
        render::account_record(&account),
    );
    Ok(ExitCode::SUCCESS)
}

/// `account list|get`.
pub(super) async fn read(p: &Printer, db: &ReadOnlyDb, c: DbAccountCommand) -> Result<ExitCode> {
    match c {
        DbAccountCommand::List { all } => {
            let accounts = db.accounts(all).await?;
            let rows: Vec<_> = accounts.iter().map(render::account_record).collect();
            render::accounts(p, &rows);
        }
        DbAccountCommand::Get { account } => {
            let a = db.find_account(&account).await?;
            let roles = db.roles(&a.id).await?;
            let mut v = render::account_record(&a);
            v["roles"] = json!(roles);
            p.record(
                &v,
                &[
                    "id",
                    "username",
                    "type",
                    "status",
                    "roles",
                    "totp_enabled",
                    "failed_logins",
                    "locked_until",
                    "created_at",
                    "updated_at",
                ],
            );
        }
        _ => return Err(misrouted()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `account create|set-password|set-status|reset-totp`.
pub(super) async fn write(
    p: &Printer,
    idm: &Idm,
    caller: &Caller,
    c: DbAccountCommand,
) -> Result<ExitCode> {
    match c {
        DbAccountCommand::Create {
            username,
            kind,
            roles,
            password_stdin,
        } => {
            let (ty, pw) = match kind {
                DbKind::Human => (AccountType::Human, Some(password_input(password_stdin)?)),
                DbKind::System if password_stdin => {
                    return Err(usage(
                        "system accounts have no password; drop --password-stdin",
                    ));
                }
                DbKind::System => (AccountType::System, None),
            };
            let a = idm.create_account(caller, &username, ty, pw).await?;
            if !roles.is_empty() {
                idm.set_roles(caller, &a.id, &roles).await?;
            }
            render::accounts(p, &[render::account_record(&a)]);
        }
        DbAccountCommand::SetPassword {
            account,
            password_stdin,
        } => {
            let a = idm.find_account(&account).await?;
            let pw = password_input(password_stdin)?;
            idm.set_password(caller, &a.id, pw).await?;
            p.ack(
                &format!("set the password of {}", a.username),
                json!({ "id": a.id, "password_set": true }),
            );
        }
        DbAccountCommand::SetStatus { account, status } => {
            let a = idm.find_account(&account).await?;
            let status = match status {
                DbStatus::Deleted => {
                    idm.delete_account(caller, &a.id).await?;
                    None
                }
                DbStatus::Active => Some(AccountStatus::Active),
                DbStatus::Inactive => Some(AccountStatus::Inactive),
                DbStatus::Suspended => Some(AccountStatus::Suspended),
            };
            let updated = match status {
                Some(s) => idm.update_status(caller, &a.id, s).await?,
                None => idm.get_account(&a.id).await?,
            };
            render::accounts(p, &[render::account_record(&updated)]);
        }
        DbAccountCommand::ResetTotp { account } => {
            let a = idm.find_account(&account).await?;
            idm.remove_totp(caller, &a.id).await?;
            render::totp_removed(p, &a.username, "id", &a.id);
        }
        DbAccountCommand::List { .. } | DbAccountCommand::Get { .. } => return Err(misrouted()),
    }
    Ok(ExitCode::SUCCESS)
}
