//! `totp enroll|confirm|remove`.

use serde_json::json;
use zeroize::Zeroizing;

use super::cli::TotpCommand;
use super::{Ctx, R, resolve};
use crate::{output, render};

pub(super) async fn run(cx: &Ctx, c: TotpCommand) -> R<()> {
    let client = cx.authed().await?;
    match c {
        TotpCommand::Enroll => {
            let answer = client.enroll_totp().await?;
            let secret = Zeroizing::new(answer.secret);
            let uri = Zeroizing::new(answer.otpauth_uri);
            if cx.p.is_json() {
                cx.p.line(&json!({ "secret": secret.as_str(), "otpauth_uri": uri.as_str() }));
            } else {
                crate::outln!(
                    "Scan this code with an authenticator app, or enter the secret by hand."
                );
                crate::outln!();
                match output::qr(&uri) {
                    Some(code) => crate::outln!("{code}"),
                    None => crate::outln!("(the URI is too long for a QR code)"),
                }
                crate::outln!("otpauth URI: {}", uri.as_str());
                crate::outln!("secret     : {}", secret.as_str());
                crate::outln!();
                crate::outln!("Then activate it with: mciasctl totp confirm CODE");
            }
        }
        TotpCommand::Confirm { code } => {
            client.confirm_totp(&code).await?;
            cx.p.ack("TOTP is now enabled", json!({ "totp_enabled": true }));
        }
        TotpCommand::Remove { account } => {
            let account_id = resolve(&client, &account).await?;
            client.remove_totp(&account_id).await?;
            render::totp_removed(&cx.p, &account_id, "account_id", &account_id);
        }
    }
    Ok(())
}
