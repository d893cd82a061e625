//! `role get|set|grant|revoke`.

use super::cli::RoleCommand;
use super::{Ctx, R, resolve};
use crate::args::{AccountRole, RoleEdit};
use crate::render;

pub(super) async fn run(cx: &Ctx, c: RoleCommand) -> R<()> {
    let client = cx.authed().await?;
    let (account, change) = match c {
        RoleCommand::Get { account } => (account, None),
        RoleCommand::Set { account, roles } => (account, Some(RoleEdit::Set(roles))),
        RoleCommand::Grant(AccountRole { account, role }) => (account, Some(RoleEdit::Grant(role))),
        RoleCommand::Revoke(AccountRole { account, role }) => {
            (account, Some(RoleEdit::Revoke(role)))
        }
    };
    let account_id = resolve(&client, &account).await?;
    let current = client.get_roles(&account_id).await?;
    let roles = match change {
        None => current,
        Some(edit) => client.set_roles(&account_id, &edit.apply(current)).await?,
    };
    render::roles(&cx.p, &account_id, None, &roles);
    Ok(())
}
