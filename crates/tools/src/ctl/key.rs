//! `key rotate|rotate-refresh|revoke`.

use serde_json::json;

use super::cli::KeyCommand;
use super::{Ctx, R};

pub(super) async fn run(cx: &Ctx, c: KeyCommand) -> R<()> {
    let client = cx.authed().await?;
    match c {
        KeyCommand::Rotate => {
            let kid = client.rotate_signing_key().await?;
            cx.p.ack(
                &format!("key {kid} is published and signs new tokens once tokens.signing_key_lead has passed (a new RSA key for ID tokens too); earlier keys keep verifying until their tokens expire"),
                json!({ "kid": kid }),
            );
        }
        KeyCommand::Revoke { kid } => {
            let r = client.revoke_signing_key(&kid).await?;
            let message = if r.new_active_kid.is_empty() {
                format!(
                    "signing key {} is revoked: its tokens no longer validate",
                    r.kid
                )
            } else {
                format!(
                    "signing key {} was the active key: new tokens are now signed with key {}; {} is revoked and its tokens no longer validate",
                    r.kid, r.new_active_kid, r.kid
                )
            };
            let new_active = (!r.new_active_kid.is_empty()).then_some(r.new_active_kid);
            cx.p.ack(
                &message,
                json!({ "kid": r.kid, "new_active_kid": new_active }),
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
