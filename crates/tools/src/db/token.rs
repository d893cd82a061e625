//! `token list|revoke|revoke-all` and `prune tokens`.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::cli::DbTokenCommand;
use super::misrouted;
use crate::output::{self, Printer};
use crate::render;
use mcias_core::clock::{Clock, SystemClock};
use mcias_core::error::Result;
use mcias_core::idm::{Caller, Idm, ReadOnlyDb};

/// `token list`.
pub(super) async fn read(p: &Printer, db: &ReadOnlyDb, c: DbTokenCommand) -> Result<ExitCode> {
    let DbTokenCommand::List { account, all } = c else {
        return Err(misrouted());
    };
    let account_id = match account {
        Some(a) => Some(db.find_account(&a).await?.id),
        None => None,
    };
    let tokens = db.tokens(account_id, all, SystemClock.now()).await?;
    let rows: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "jti": t.jti,
                "account_id": t.account_id,
                "issued_at": output::unix(t.issued_at),
                "expires_at": output::unix(t.expires_at),
                "revoked_at": t.revoked_at.map(output::unix),
            })
        })
        .collect();
    p.rows(
        &["jti", "account_id", "issued_at", "expires_at", "revoked_at"],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

/// `token revoke|revoke-all`.
pub(super) async fn write(
    p: &Printer,
    idm: &Idm,
    caller: &Caller,
    c: DbTokenCommand,
) -> Result<ExitCode> {
    match c {
        DbTokenCommand::Revoke { jti, reason } => {
            idm.revoke_token(caller, &jti, &reason).await?;
            render::token_revoked(p, &jti);
        }
        DbTokenCommand::RevokeAll { account, reason } => {
            let a = idm.find_account(&account).await?;
            let n = idm.revoke_all_tokens(caller, &a.id, &reason).await?;
            p.ack(
                &format!("revoked {n} token(s) of {}", a.username),
                json!({ "id": a.id, "revoked": n }),
            );
        }
        DbTokenCommand::List { .. } => return Err(misrouted()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `prune tokens`.
pub(super) async fn prune(p: &Printer, idm: &Idm, caller: &Caller) -> Result<ExitCode> {
    let n = idm.prune_audited(caller).await?;
    p.ack(
        &format!("deleted {n} expired token row(s)"),
        json!({ "deleted": n }),
    );
    Ok(ExitCode::SUCCESS)
}
