//! `login`, `logout`, `whoami`, `health` and `password change`.

use std::io::IsTerminal;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::cli::{LoginArgs, LogoutArgs, PasswordCommand};
use super::{Ctx, Fail, R, read_secret, resolve, tokenfile};
use crate::output;
use crate::prompt;
use mcias_client::{Error, TokenHint, pb};

/// `login`: a password (and TOTP code) login that stores both tokens.
pub(super) async fn login(cx: &Ctx, args: LoginArgs) -> R<()> {
    if args.client_credentials {
        return login_client(cx, args).await;
    }
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => {
            return Err(Fail::Usage(
                "give the username as an argument with --password-stdin".into(),
            ));
        }
        None => prompt::line("Username: ").map_err(Fail::Usage)?,
    };
    let (password, mut code) = if args.password_stdin {
        let mut lines = prompt::stdin_lines(2).map_err(Fail::Usage)?;
        let code = if lines.len() > 1 {
            lines.pop().unwrap_or_default()
        } else {
            Zeroizing::new(String::new())
        };
        let pw = lines
            .pop()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Fail::Usage("no password on standard input".into()))?;
        (pw, code)
    } else {
        let pw = prompt::secret("Password: ").map_err(Fail::Usage)?;
        let code = if args.totp {
            prompt::secret("TOTP code: ").map_err(Fail::Usage)?
        } else {
            Zeroizing::new(String::new())
        };
        (pw, code)
    };
    let client = cx.client().await?;
    let mut res = client.login(&username, &password, &code).await;
    if matches!(&res, Err(Error::Unauthenticated(_)))
        && code.is_empty()
        && !args.password_stdin
        && std::io::stdin().is_terminal()
    {
        eprintln!("Login refused. If the account uses TOTP, enter a code (empty to give up).");
        code = prompt::secret("TOTP code: ").map_err(Fail::Usage)?;
        if !code.is_empty() {
            res = client.login(&username, &password, &code).await;
        }
    }
    let answer = res?;
    let token = Zeroizing::new(answer.token);
    let refresh = Zeroizing::new(answer.refresh_token);
    let path = cx.store_tokens(&token, Some(&refresh))?;
    let expires = output::ts(answer.expires_at.as_ref());
    let refresh_expires = if refresh.is_empty() {
        Value::Null
    } else {
        Value::String(output::ts(answer.refresh_expires_at.as_ref()))
    };
    let refresh_note = match &refresh_expires {
        Value::String(t) => format!(" (refresh with `mciasctl token refresh` until {t})"),
        _ => String::new(),
    };
    cx.p.ack(
        &format!(
            "logged in as {username}; the token expires at {expires} and is stored in {}{refresh_note}",
            path.display()
        ),
        json!({
            "username": username,
            "expires_at": expires,
            "refresh_expires_at": refresh_expires,
            "token_file": path.display().to_string(),
        }),
    );
    Ok(())
}

/// `login --client-credentials`: a system account and its client secret.
async fn login_client(cx: &Ctx, args: LoginArgs) -> R<()> {
    let client_id = args
        .client_id
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| Fail::Usage("--client-credentials needs --client-id ID".into()))?;
    let secret = read_secret(args.secret_stdin, "Client secret: ", "client secret")?;
    let answer = cx
        .client()
        .await?
        .client_credentials(&client_id, &secret)
        .await?;
    let token = Zeroizing::new(answer.token);
    let path = cx.store_tokens(&token, None)?;
    let expires = output::ts(answer.expires_at.as_ref());
    cx.p.ack(
        &format!(
            "logged in as client {client_id}; the token expires at {expires} and is stored in {}",
            path.display()
        ),
        json!({
            "client_id": client_id,
            "expires_at": expires,
            "token_file": path.display().to_string(),
        }),
    );
    Ok(())
}

/// `logout`: revokes the token and the stored refresh token's family.
pub(super) async fn logout(cx: &Ctx, args: LogoutArgs) -> R<()> {
    if args.everywhere {
        return sign_out_everywhere(cx, args.account).await;
    }
    let client = cx.authed().await?;
    let stored_refresh = if cx.token_from_file() {
        cx.stored()?.and_then(|s| s.refresh)
    } else {
        None
    };
    let revoked = match client.logout().await {
        Ok(()) => true,
        // An access token that no longer works (expired or revoked) still
        // leaves a stored refresh token to revoke.
        Err(Error::Unauthenticated(_)) if stored_refresh.is_some() => false,
        Err(e) => return Err(e.into()),
    };
    let path = cx.token_file()?;
    let mut refresh_revoked = false;
    if cx.token_from_file() {
        // The refresh token kept beside the access token would otherwise
        // outlive the logout: revoke it (and its family) too.
        if let Some(refresh) = stored_refresh {
            client
                .revoke_token_value(&refresh, Some(TokenHint::Refresh))
                .await?;
            refresh_revoked = true;
        }
        tokenfile::remove(&path)?;
    }
    let message = match (revoked, refresh_revoked) {
        (true, true) => "logged out; the token and the refresh token are revoked",
        (true, false) => "logged out; the token is revoked",
        _ => "logged out; the token was no longer valid, the refresh token is revoked",
    };
    cx.p.ack(
        message,
        json!({ "revoked": revoked, "refresh_revoked": refresh_revoked }),
    );
    Ok(())
}

/// `logout --everywhere [ACCOUNT]` (SignOutEverywhere).
async fn sign_out_everywhere(cx: &Ctx, account: Option<String>) -> R<()> {
    let client = cx.authed().await?;
    let account_id = match &account {
        Some(a) => resolve(&client, a).await?,
        None => String::new(),
    };
    client.sign_out_everywhere(&account_id).await?;
    if account.is_none() {
        if cx.token_from_file() {
            tokenfile::remove(&cx.token_file()?)?;
        }
        cx.p.ack(
            "signed out everywhere; every token of your account is invalid",
            json!({ "account_id": Value::Null, "signed_out": true }),
        );
    } else {
        cx.p.ack(
            &format!("signed out {account_id} everywhere; every token of the account is invalid"),
            json!({ "account_id": account_id, "signed_out": true }),
        );
    }
    Ok(())
}

fn claims_json(claims: Option<&pb::TokenClaims>) -> Value {
    match claims {
        Some(c) => json!({
            "valid": true,
            "subject": c.subject,
            "roles": c.roles,
            "issuer": c.issuer,
            "issued_at": output::ts(c.issued_at.as_ref()),
            "expires_at": output::ts(c.expires_at.as_ref()),
            "jti": c.jti,
            "token_type": c.token_type,
        }),
        None => json!({ "valid": false }),
    }
}

/// `whoami` and `token validate` (ValidateToken); exit 1 when not valid.
pub(super) async fn validate(cx: &Ctx, token: &str) -> R<()> {
    let answer = cx.client().await?.validate(token).await?;
    let claims = answer.claims.as_ref().filter(|_| answer.valid);
    let v = claims_json(claims);
    if claims.is_none() {
        if cx.p.is_json() {
            cx.p.line(&v);
        }
        return Err(Fail::Refused(
            "the token is not valid (expired, revoked, or not issued by this server)".into(),
        ));
    }
    cx.p.record(
        &v,
        &[
            "valid",
            "subject",
            "roles",
            "token_type",
            "issuer",
            "issued_at",
            "expires_at",
            "jti",
        ],
    );
    Ok(())
}

/// `health`: exit 1 unless the server reports SERVING.
pub(super) async fn health(cx: &Ctx) -> R<()> {
    let status = cx.client().await?.health().await?;
    cx.p.record(&json!({ "status": status }), &["status"]);
    if status != "SERVING" {
        return Err(Fail::Refused(format!("the server reports {status}")));
    }
    Ok(())
}

/// `password change`.
pub(super) async fn password(cx: &Ctx, c: PasswordCommand) -> R<()> {
    let PasswordCommand::Change { password_stdin } = c;
    let (current, new) = if password_stdin {
        let lines = prompt::stdin_lines(2).map_err(Fail::Usage)?;
        match lines.as_slice() {
            [cur, new] if !cur.is_empty() && !new.is_empty() => (cur.clone(), new.clone()),
            _ => {
                return Err(Fail::Usage(
                    "give the current password on line 1 and the new one on line 2 of standard input".into(),
                ));
            }
        }
    } else {
        let cur = prompt::secret("Current password: ").map_err(Fail::Usage)?;
        (
            cur,
            prompt::new_secret("New password").map_err(Fail::Usage)?,
        )
    };
    cx.authed().await?.change_password(&current, &new).await?;
    cx.p.ack("password changed", json!({ "changed": true }));
    Ok(())
}
