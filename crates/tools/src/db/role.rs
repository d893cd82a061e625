//! `role list|grant|revoke`.

use std::process::ExitCode;

use super::cli::DbRoleCommand;
use super::misrouted;
use crate::args::{AccountRole, RoleEdit};
use crate::output::Printer;
use crate::render;
use mcias_core::error::Result;
use mcias_core::idm::{Caller, Idm, ReadOnlyDb};

/// `role list`.
pub(super) async fn read(p: &Printer, db: &ReadOnlyDb, c: DbRoleCommand) -> Result<ExitCode> {
    let DbRoleCommand::List { account } = c else {
        return Err(misrouted());
    };
    let a = db.find_account(&account).await?;
    let roles = db.roles(&a.id).await?;
    render::roles(p, &a.id, Some(&a.username), &roles);
    Ok(ExitCode::SUCCESS)
}

/// `role grant|revoke`.
pub(super) async fn write(
    p: &Printer,
    idm: &Idm,
    caller: &Caller,
    c: DbRoleCommand,
) -> Result<ExitCode> {
    let (account, change) = match c {
        DbRoleCommand::Grant(AccountRole { account, role }) => (account, RoleEdit::Grant(role)),
        DbRoleCommand::Revoke(AccountRole { account, role }) => (account, RoleEdit::Revoke(role)),
        DbRoleCommand::List { .. } => return Err(misrouted()),
    };
    let a = idm.find_account(&account).await?;
    let roles = change.apply(idm.get_roles(&a.id).await?);
    let roles = idm.set_roles(caller, &a.id, &roles).await?;
    render::roles(p, &a.id, Some(&a.username), &roles);
    Ok(ExitCode::SUCCESS)
}
