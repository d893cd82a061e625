//! `key rotate|rotate-refresh`.

use serde_json::json;

use super::cli::KeyCommand;
use super::{Ctx, R};

pub(super) async fn run(cx: &Ctx, c: KeyCommand) -> R<()> {
    let client = cx.authed().await?;
    match c {
        KeyCommand::Rotate => {
            let kid = client.rotate_signing_key().await?;
            cx.p.ack(
                &format!("new tokens are signed with key {kid}; earlier keys keep verifying until their tokens expire"),
                json!({ "kid": kid }),
            );
        }
        KeyCommand::RotateRefresh => {
            let key_id = client.rotate_refresh_key().await?;
            cx.p.ack(
                &format!("new refresh tokens are protected with key {key_id}; earlier refresh tokens keep working"),
                json!({ "key_id": key_id }),
            );
        }
    }
    Ok(())
}
