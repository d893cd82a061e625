//! `token issue|renew|refresh|revoke|revoke-value|validate|introspect|keys`.

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::cli::{TokenCommand, TokenHint};
use super::{Ctx, Fail, R, read_secret, resolve, session};
use crate::{output, prompt, render};

pub(super) async fn run(cx: &Ctx, c: TokenCommand) -> R<()> {
    match c {
        TokenCommand::Issue { account } => {
            let client = cx.authed().await?;
            let account_id = resolve(&client, &account).await?;
            let answer = client.issue_service_token(&account_id).await?;
            let token = Zeroizing::new(answer.token);
            cx.p.record(
                &json!({
                    "account_id": account_id,
                    "token": token.as_str(),
                    "expires_at": output::ts(answer.expires_at.as_ref()),
                }),
                &["account_id", "expires_at", "token"],
            );
        }
        TokenCommand::Renew => {
            let answer = cx.authed().await?.renew().await?;
            let token = Zeroizing::new(answer.token);
            let expires = output::ts(answer.expires_at.as_ref());
            if cx.token_from_file() {
                let refresh = cx.stored()?.and_then(|s| s.refresh);
                let path = cx.store_tokens(&token, refresh.as_deref().map(String::as_str))?;
                cx.p.ack(
                    &format!(
                        "renewed; the new token expires at {expires} and is stored in {}",
                        path.display()
                    ),
                    json!({ "expires_at": expires, "token_file": path.display().to_string() }),
                );
            } else {
                cx.p.record(
                    &json!({ "expires_at": expires, "token": token.as_str() }),
                    &["expires_at", "token"],
                );
            }
        }
        TokenCommand::Revoke { jti, reason } => {
            cx.authed().await?.revoke_token(&jti, &reason).await?;
            render::token_revoked(&cx.p, &jti);
        }
        TokenCommand::Validate { stdin } => {
            let token = if stdin {
                let mut lines = prompt::stdin_lines(1).map_err(Fail::Usage)?;
                lines
                    .pop()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Fail::Usage("no token on standard input".into()))?
            } else {
                cx.token()?
            };
            session::validate(cx, &token).await?;
        }
        TokenCommand::Keys => {
            let keys = cx.client().await?.public_keys().await?;
            let rows: Vec<Value> = keys
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.kid, "kty": k.kty, "alg": k.alg, "use": k.r#use,
                        "crv": k.crv, "x": k.x, "n": k.n, "e": k.e,
                    })
                })
                .collect();
            cx.p.rows(&["kid", "kty", "alg", "use"], &rows);
        }
        TokenCommand::Refresh {
            refresh_token_stdin,
        } => refresh(cx, refresh_token_stdin).await?,
        TokenCommand::Introspect { value, hint } => {
            let token = if value == "-" {
                read_secret(true, "", "token")?
            } else {
                Zeroizing::new(value)
            };
            introspect(cx, &token, hint).await?;
        }
        TokenCommand::RevokeValue { value, hint } => {
            let token = match value {
                Some(t) if t != "-" => Zeroizing::new(t),
                _ => read_secret(true, "", "token")?,
            };
            cx.client()
                .await?
                .revoke_token_value(&token, hint.map(Into::into))
                .await?;
            cx.p.ack(
                "revoked (a refresh token's whole family is revoked; an unknown token is ignored)",
                json!({ "revoked": true }),
            );
        }
    }
    Ok(())
}

/// `token refresh`: RefreshToken with the stored refresh token (or one
/// from standard input).
async fn refresh(cx: &Ctx, from_stdin: bool) -> R<()> {
    let refresh_token = if from_stdin {
        read_secret(true, "", "refresh token")?
    } else {
        let path = cx.token_file()?;
        cx.stored()?.and_then(|s| s.refresh).ok_or_else(|| {
            Fail::Usage(format!(
                "no refresh token in {}: run `mciasctl login` (a password login stores one), or give --refresh-token-stdin",
                path.display()
            ))
        })?
    };
    let answer = cx.client().await?.refresh_token(&refresh_token).await?;
    let token = Zeroizing::new(answer.token);
    let next = Zeroizing::new(answer.refresh_token);
    let expires = output::ts(answer.expires_at.as_ref());
    let refresh_expires = output::ts(answer.refresh_expires_at.as_ref());
    if from_stdin {
        // The caller keeps its tokens itself: hand both back.
        cx.p.record(
            &json!({
                "token": token.as_str(),
                "expires_at": expires,
                "refresh_token": next.as_str(),
                "refresh_expires_at": refresh_expires,
            }),
            &["expires_at", "refresh_expires_at", "token", "refresh_token"],
        );
        return Ok(());
    }
    let path = cx.store_tokens(&token, Some(&next))?;
    cx.p.ack(
        &format!(
            "refreshed; the new token expires at {expires}, the refresh token at {refresh_expires}; both are stored in {}",
            path.display()
        ),
        json!({
            "expires_at": expires,
            "refresh_expires_at": refresh_expires,
            "token_file": path.display().to_string(),
        }),
    );
    Ok(())
}

/// `token introspect` (IntrospectToken, RFC 7662).
async fn introspect(cx: &Ctx, token: &str, hint: Option<TokenHint>) -> R<()> {
    let answer = cx
        .authed()
        .await?
        .introspect(token, hint.map(Into::into))
        .await?;
    if !answer.active {
        if cx.p.is_json() {
            cx.p.line(&json!({ "active": false }));
        }
        return Err(Fail::Refused(
            "the token is not active (expired, revoked, used up, or not issued by this server)"
                .into(),
        ));
    }
    let v = json!({
        "active": true,
        "token_type": answer.token_type,
        "subject": answer.subject,
        "account_type": answer.account_type,
        "roles": answer.roles,
        "issuer": answer.issuer,
        "issued_at": output::ts(answer.issued_at.as_ref()),
        "expires_at": output::ts(answer.expires_at.as_ref()),
        "jti": answer.jti,
    });
    cx.p.record(
        &v,
        &[
            "active",
            "token_type",
            "subject",
            "account_type",
            "roles",
            "issuer",
            "issued_at",
            "expires_at",
            "jti",
        ],
    );
    Ok(())
}
