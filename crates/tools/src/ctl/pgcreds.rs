//! `pgcreds get|set`.

use zeroize::Zeroizing;

use super::cli::PgcredsCommand;
use super::{Ctx, R, new_password, resolve};
use crate::render;
use mcias_client::pb;

pub(super) async fn run(cx: &Ctx, c: PgcredsCommand) -> R<()> {
    match c {
        PgcredsCommand::Get { account } => {
            let client = cx.authed().await?;
            let account_id = resolve(&client, &account).await?;
            let creds = client.get_pg_creds(&account_id).await?;
            let password = Zeroizing::new(creds.password);
            render::pgcreds(
                &cx.p,
                &account_id,
                &creds.host,
                creds.port,
                &creds.database,
                &creds.username,
                &password,
            );
        }
        PgcredsCommand::Set {
            target,
            password_stdin,
        } => {
            let client = cx.authed().await?;
            let password = new_password(password_stdin, "Database password")?;
            let account_id = resolve(&client, &target.account).await?;
            let creds = pb::PgCreds {
                host: target.host,
                port: u32::from(target.port),
                database: target.database,
                username: target.username,
                password: password.to_string(),
            };
            let result = client.set_pg_creds(&account_id, &creds).await;
            drop(Zeroizing::new(creds.password));
            result?;
            render::pgcreds_stored(&cx.p, &account_id, "account_id", &account_id);
        }
    }
    Ok(())
}
