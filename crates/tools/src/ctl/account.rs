//! `account create|list|get|update|profile|client-secret|suspend|delete`.

use serde_json::json;
use zeroize::Zeroizing;

use super::cli::{AccountCommand, Kind, SettableStatus};
use super::{Ctx, Fail, R, new_password, resolve};
use crate::render;
use mcias_client::{Client, ProfileChanges, pb};

pub(super) async fn run(cx: &Ctx, c: AccountCommand) -> R<()> {
    let client = cx.authed().await?;
    match c {
        AccountCommand::Create {
            username,
            kind,
            password_stdin,
        } => {
            let (ty, password) = match kind {
                Kind::Human => (
                    pb::AccountType::Human,
                    new_password(password_stdin, "Password")?,
                ),
                Kind::System if password_stdin => {
                    return Err(Fail::Usage(
                        "system accounts have no password; drop --password-stdin".into(),
                    ));
                }
                Kind::System => (pb::AccountType::System, Zeroizing::new(String::new())),
            };
            let a = client.create_account(&username, ty, &password).await?;
            render::accounts(&cx.p, &[render::account_pb(&a)]);
        }
        AccountCommand::List { page_size } => {
            let accounts = client.list_accounts(page_size).await?;
            let rows: Vec<_> = accounts.iter().map(render::account_pb).collect();
            render::accounts(&cx.p, &rows);
        }
        AccountCommand::Get { account } => {
            let id = resolve(&client, &account).await?;
            let a = client.get_account(&id).await?;
            let mut columns = vec![
                "id",
                "username",
                "type",
                "status",
                "totp_enabled",
                "created_at",
                "updated_at",
            ];
            columns.extend_from_slice(render::PROFILE_COLUMNS);
            cx.p.record(&render::account_pb(&a), &columns);
        }
        AccountCommand::Profile {
            account,
            email,
            email_verified,
            display_name,
            given_name,
            family_name,
        } => {
            let changes = ProfileChanges {
                email,
                email_verified,
                display_name,
                given_name,
                family_name,
            };
            if changes.is_empty() {
                return Err(Fail::Usage(
                    "nothing to change: give at least one of --email, --email-verified, \
                     --display-name, --given-name, --family-name"
                        .into(),
                ));
            }
            let id = resolve(&client, &account).await?;
            let a = client.update_profile(&id, &changes).await?;
            let mut columns = vec!["id", "username"];
            columns.extend_from_slice(render::PROFILE_COLUMNS);
            cx.p.record(&render::account_pb(&a), &columns);
        }
        AccountCommand::Update { account, status } => {
            let status = match status {
                SettableStatus::Active => pb::AccountStatus::Active,
                SettableStatus::Inactive => pb::AccountStatus::Inactive,
                SettableStatus::Suspended => pb::AccountStatus::Suspended,
            };
            update_status(cx, &client, &account, status).await?;
        }
        AccountCommand::ClientSecret { account } => {
            let account_id = resolve(&client, &account).await?;
            let secret = Zeroizing::new(client.rotate_client_secret(&account_id).await?);
            cx.p.record(
                &json!({ "account_id": account_id, "client_secret": secret.as_str() }),
                &["account_id", "client_secret"],
            );
            if !cx.p.is_json() {
                eprintln!(
                    "The secret is shown only this once; the previous one no longer works. \
                     Use it with: mciasctl login --client-credentials --client-id {account_id} --secret-stdin"
                );
            }
        }
        AccountCommand::Suspend { account } => {
            update_status(cx, &client, &account, pb::AccountStatus::Suspended).await?;
        }
        AccountCommand::Delete { account } => {
            let id = resolve(&client, &account).await?;
            client.delete_account(&id).await?;
            cx.p.ack(
                &format!("deleted account {id}; its tokens are revoked"),
                json!({ "id": id, "status": "deleted" }),
            );
        }
    }
    Ok(())
}

async fn update_status(
    cx: &Ctx,
    client: &Client,
    account: &str,
    status: pb::AccountStatus,
) -> R<()> {
    let id = resolve(client, account).await?;
    let a = client.update_account(&id, status).await?;
    render::accounts(&cx.p, &[render::account_pb(&a)]);
    Ok(())
}
