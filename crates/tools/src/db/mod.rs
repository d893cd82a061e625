//! `mciasdb`'s commands. Read-only commands open the database without the
//! lock (safe while a server runs); every other command takes the database
//! lock first and is refused while a server holds it. The work itself is
//! done by `idm` and `store`; this module reads input and prints.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::ctl::Output;
use crate::db::{
    DbAccountCommand, DbAuditCommand, DbCli, DbCommand, DbKind, DbPgcredsCommand, DbRoleCommand,
    DbStatus, DbTokenCommand, PruneCommand, SchemaCommand,
};
use crate::output::{self, Printer};
use crate::prompt;
use mcias_core::clock::{Clock, OsRandom, SystemClock};
use mcias_core::config::Config;
use mcias_core::crypto::password::PoolSize;
use mcias_core::error::{Error, Result};
use mcias_core::idm::{self, Caller, Idm, KeySource, OFFLINE_ACTOR, PgCreds};
use mcias_core::model::{
    AccountRecord, AccountStatus, AccountType, AuditEntry, AuditFilter, AuditRecord, Outcome,
};
use mcias_core::store::{DbLock, Store};

/// Runs `mciasdb` and returns its exit status.
pub fn main(cli: DbCli) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mciasdb: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mciasdb: {}", e.message);
            if e.code == "usage" {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn usage(msg: impl Into<String>) -> Error {
    Error::invalid("usage", msg)
}

/// Whether a command only reads (and may run while a server holds the
/// database).
fn read_only(cmd: &DbCommand) -> bool {
    matches!(
        cmd,
        DbCommand::Schema(SchemaCommand::Verify)
            | DbCommand::Account(DbAccountCommand::List { .. } | DbAccountCommand::Get { .. })
            | DbCommand::Role(DbRoleCommand::List { .. })
            | DbCommand::Token(DbTokenCommand::List { .. })
            | DbCommand::Audit(_)
            | DbCommand::Backup { .. }
            | DbCommand::Verify
    )
}

fn password_input(stdin: bool) -> Result<Zeroizing<String>> {
    if stdin {
        prompt::new_secret_stdin(true)
    } else {
        prompt::new_secret("Password")
    }
    .map_err(usage)
}

fn account_json(a: &AccountRecord) -> Value {
    json!({
        "id": a.id,
        "username": a.username,
        "type": a.account_type.as_str(),
        "status": a.status.as_str(),
        "totp_enabled": a.totp_enabled,
        "failed_logins": a.failed_logins,
        "locked_until": if a.locked_until > 0 { output::unix(a.locked_until) } else { String::new() },
        "created_at": output::unix(a.created_at),
        "updated_at": output::unix(a.updated_at),
    })
}

const ACCOUNT_COLUMNS: &[&str] = &["id", "username", "type", "status", "totp_enabled"];

fn event_json(e: &AuditRecord) -> Value {
    output::audit_event(
        e.id,
        output::unix(e.occurred_at),
        &e.event_type,
        &e.outcome,
        e.actor_id.as_deref(),
        e.target_id.as_deref(),
        e.peer.as_deref(),
        &e.details,
    )
}

const EVENT_COLUMNS: &[&str] = output::AUDIT_COLUMNS;

/// An account by id or username.
async fn find(store: &Store, account: &str) -> Result<AccountRecord> {
    if let Some(a) = store.account(account.to_owned()).await? {
        return Ok(a);
    }
    store
        .account_by_username(account.to_lowercase())
        .await?
        .ok_or_else(|| Error::not_found(&format!("account {account:?}")))
}

fn tool_audit(event_type: &'static str, target: Option<String>, details: Value) -> AuditEntry {
    AuditEntry {
        occurred_at: SystemClock.now(),
        event_type,
        actor_id: Some(OFFLINE_ACTOR.to_owned()),
        target_id: target,
        peer: Some("local".to_owned()),
        outcome: Outcome::Success,
        details,
    }
}

async fn run(cli: DbCli) -> Result<ExitCode> {
    let DbCli {
        config,
        json,
        command,
    } = cli;
    let p = Printer::new(if json { Output::Json } else { Output::Table });
    let config_path = config
        .ok_or_else(|| usage("give --config PATH (or MCIAS_CONFIG): the server's configuration"))?;
    let config = Config::load(&config_path)?;
    let source = KeySource::from_config(&config)?;
    let db = config.database.path.clone();
    if read_only(&command) {
        let (store, key) = {
            let (db, source) = (db.clone(), source.clone());
            tokio::task::spawn_blocking(move || idm::open_readonly(&db, &source, &OsRandom))
                .await
                .map_err(|e| Error::internal(format!("task: {e}")))??
        };
        return run_read_only(&p, &store, &key, command).await;
    }
    let _lock = DbLock::acquire(&db).map_err(|e| {
        if e.code == "database_busy" {
            Error::precondition(
                "database_busy",
                format!(
                    "{}; stop the server first. Read-only commands (backup, verify, schema verify, \
                     account list/get, role list, token list, audit) work while it runs.",
                    e.message
                ),
            )
        } else {
            e
        }
    })?;
    match command {
        DbCommand::Restore { from } => {
            let now = SystemClock.now();
            let kept = {
                let (db, source) = (db.clone(), source.clone());
                tokio::task::spawn_blocking(move || {
                    idm::restore(&db, &from, &source, &OsRandom, now)
                })
                .await
                .map_err(|e| Error::internal(format!("task: {e}")))??
            };
            let store = tokio::task::block_in_place(|| Store::open_existing(&db))?;
            store
                .append_audit(tool_audit(
                    "database_restore",
                    None,
                    json!({ "kept_previous": kept.as_ref().map(|k| k.display().to_string()) }),
                ))
                .await?;
            p.ack(
                &match &kept {
                    Some(k) => format!(
                        "restored {}; the previous database is kept as {}",
                        db.display(),
                        k.display()
                    ),
                    None => format!("restored {}", db.display()),
                },
                json!({ "restored": db.display().to_string(), "kept_previous": kept.map(|k| k.display().to_string()) }),
            );
            return Ok(ExitCode::SUCCESS);
        }
        DbCommand::Schema(SchemaCommand::Migrate) => {
            let before = if db.exists() {
                tokio::task::block_in_place(|| Store::open(&db)?.pending_migrations())?
            } else {
                Vec::new()
            };
            let (store, _key) = {
                let (db, source) = (db.clone(), source.clone());
                tokio::task::spawn_blocking(move || {
                    idm::unlock(&db, &source, &SystemClock, &OsRandom)
                })
                .await
                .map_err(|e| Error::internal(format!("task: {e}")))??
            };
            if !before.is_empty() {
                store
                    .append_audit(tool_audit(
                        "schema_migrate",
                        None,
                        json!({ "applied": before }),
                    ))
                    .await?;
            }
            p.ack(
                &if before.is_empty() {
                    "the schema is up to date; nothing to apply".to_owned()
                } else {
                    format!("applied {}", before.join(", "))
                },
                json!({ "applied": before }),
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let idm = Idm::open(
        &config,
        source,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        PoolSize {
            workers: 1,
            queue: 4,
        },
    )
    .await?;
    run_write(&p, &idm, command).await
}

async fn run_read_only(
    p: &Printer,
    store: &Store,
    key: &mcias_core::crypto::seal::MasterKey,
    command: DbCommand,
) -> Result<ExitCode> {
    match command {
        DbCommand::Schema(_) => {
            let applied = store.applied_migrations()?;
            let pending = store.pending_migrations()?;
            p.record(
                &json!({ "applied": applied, "pending": pending }),
                &["applied", "pending"],
            );
            if !pending.is_empty() {
                eprintln!(
                    "mciasdb: {} migration(s) pending; run `mciasdb schema migrate` with the server stopped",
                    pending.len()
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        DbCommand::Account(DbAccountCommand::List { all }) => {
            let s = store.clone();
            let accounts = tokio::task::spawn_blocking(move || s.all_accounts_blocking(all))
                .await
                .map_err(|e| Error::internal(format!("task: {e}")))??;
            let rows: Vec<Value> = accounts.iter().map(account_json).collect();
            p.rows(ACCOUNT_COLUMNS, &rows);
        }
        DbCommand::Account(DbAccountCommand::Get { account }) => {
            let a = find(store, &account).await?;
            let roles = store.roles(a.id.clone()).await?;
            let mut v = account_json(&a);
            v["roles"] = json!(roles);
            p.record(
                &v,
                &[
                    "id",
                    "username",
                    "type",
                    "status",
                    "roles",
                    "totp_enabled",
                    "failed_logins",
                    "locked_until",
                    "created_at",
                    "updated_at",
                ],
            );
        }
        DbCommand::Role(DbRoleCommand::List { account }) => {
            let a = find(store, &account).await?;
            let roles = store.roles(a.id.clone()).await?;
            p.record(
                &json!({ "account_id": a.id, "username": a.username, "roles": roles }),
                &["account_id", "username", "roles"],
            );
        }
        DbCommand::Token(DbTokenCommand::List { account, all }) => {
            let account_id = match account {
                Some(a) => Some(find(store, &a).await?.id),
                None => None,
            };
            let s = store.clone();
            let now = SystemClock.now();
            let tokens =
                tokio::task::spawn_blocking(move || s.list_tokens_blocking(account_id, all, now))
                    .await
                    .map_err(|e| Error::internal(format!("task: {e}")))??;
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
        }
        DbCommand::Audit(DbAuditCommand::Tail { n }) => {
            let mut events = store.list_audit(AuditFilter::default(), n).await?;
            events.reverse();
            let rows: Vec<Value> = events.iter().map(event_json).collect();
            p.rows(EVENT_COLUMNS, &rows);
        }
        DbCommand::Audit(DbAuditCommand::Query {
            account,
            event_type,
            since,
            limit,
        }) => {
            let account_id = match account {
                Some(a) => Some(match find(store, &a).await {
                    Ok(acc) => acc.id,
                    // Actors such as `mciasdb` are not accounts.
                    Err(_) => a,
                }),
                None => None,
            };
            let since = match since {
                Some(s) => Some(output::parse_since(&s).map_err(usage)?),
                None => None,
            };
            let filter = AuditFilter {
                account_id,
                event_type,
                since,
                before_id: None,
            };
            let events = store.list_audit(filter, limit).await?;
            let rows: Vec<Value> = events.iter().map(event_json).collect();
            p.rows(EVENT_COLUMNS, &rows);
        }
        DbCommand::Backup { to } => {
            backup(p, store, &to).await?;
        }
        DbCommand::Verify => {
            let (s, k) = (store.clone(), key.clone());
            let report = tokio::task::spawn_blocking(move || idm::verify(&s, &k))
                .await
                .map_err(|e| Error::internal(format!("task: {e}")))??;
            let v = json!({
                "ok": report.is_clean(),
                "integrity_problems": report.integrity,
                "sealed_ok": report.sealed_ok,
                "sealed_bad": report.sealed_bad,
                "pending_migrations": report.pending_migrations,
            });
            p.record(
                &v,
                &[
                    "ok",
                    "integrity_problems",
                    "sealed_ok",
                    "sealed_bad",
                    "pending_migrations",
                ],
            );
            if !report.is_clean() {
                eprintln!("mciasdb: verification found problems");
                return Ok(ExitCode::FAILURE);
            }
        }
        _ => return Err(Error::internal("command is not read-only")),
    }
    Ok(ExitCode::SUCCESS)
}

async fn backup(p: &Printer, store: &Store, to: &Path) -> Result<()> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} backing up [{bar:40}] {pos}/{len} pages",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Some(bar)
    } else {
        None
    };
    let (s, dest, b) = (store.clone(), to.to_owned(), bar.clone());
    tokio::task::spawn_blocking(move || {
        s.backup_to(&dest, |done, total| {
            if let Some(b) = &b {
                b.set_length(total);
                b.set_position(done);
            }
        })
    })
    .await
    .map_err(|e| Error::internal(format!("task: {e}")))??;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    p.ack(
        &format!("backed up to {} ({size} bytes)", to.display()),
        json!({ "backup": to.display().to_string(), "bytes": size }),
    );
    Ok(())
}

/// A change to an account's role list.
type RoleEdit = Box<dyn FnOnce(&mut Vec<String>) + Send>;

async fn run_write(p: &Printer, idm: &Idm, command: DbCommand) -> Result<ExitCode> {
    let caller = Caller::offline_tool();
    let store = idm.store().clone();
    match command {
        DbCommand::BootstrapAdmin { username, .. } => {
            let password = password_input(true)?;
            let account = idm.bootstrap_admin(&username, password).await?;
            p.ack(
                &format!(
                    "created admin account {} ({})",
                    account.username, account.id
                ),
                account_json(&account),
            );
        }
        DbCommand::Account(c) => match c {
            DbAccountCommand::Create {
                username,
                kind,
                roles,
                password_stdin,
            } => {
                let (ty, pw) = match kind {
                    DbKind::Human => (AccountType::Human, Some(password_input(password_stdin)?)),
                    DbKind::System if password_stdin => {
                        return Err(usage(
                            "system accounts have no password; drop --password-stdin",
                        ));
                    }
                    DbKind::System => (AccountType::System, None),
                };
                let a = idm.create_account(&caller, &username, ty, pw).await?;
                if !roles.is_empty() {
                    idm.set_roles(&caller, &a.id, &roles).await?;
                }
                p.rows(ACCOUNT_COLUMNS, &[account_json(&a)]);
            }
            DbAccountCommand::SetPassword {
                account,
                password_stdin,
            } => {
                let a = find(&store, &account).await?;
                let pw = password_input(password_stdin)?;
                idm.set_password(&caller, &a.id, pw).await?;
                p.ack(
                    &format!("set the password of {}", a.username),
                    json!({ "id": a.id, "password_set": true }),
                );
            }
            DbAccountCommand::SetStatus { account, status } => {
                let a = find(&store, &account).await?;
                let updated = match status {
                    DbStatus::Deleted => {
                        idm.delete_account(&caller, &a.id).await?;
                        idm.get_account(&a.id).await?
                    }
                    DbStatus::Active => {
                        idm.update_status(&caller, &a.id, AccountStatus::Active)
                            .await?
                    }
                    DbStatus::Inactive => {
                        idm.update_status(&caller, &a.id, AccountStatus::Inactive)
                            .await?
                    }
                    DbStatus::Suspended => {
                        idm.update_status(&caller, &a.id, AccountStatus::Suspended)
                            .await?
                    }
                };
                p.rows(ACCOUNT_COLUMNS, &[account_json(&updated)]);
            }
            DbAccountCommand::ResetTotp { account } => {
                let a = find(&store, &account).await?;
                idm.remove_totp(&caller, &a.id).await?;
                p.ack(
                    &format!("removed the TOTP factor of {}", a.username),
                    json!({ "id": a.id, "totp_enabled": false }),
                );
            }
            DbAccountCommand::List { .. } | DbAccountCommand::Get { .. } => {
                return Err(Error::internal("read-only command on the write path"));
            }
        },
        DbCommand::Role(c) => {
            let (account, change): (String, RoleEdit) = match c {
                DbRoleCommand::Grant { account, role } => {
                    (account, Box::new(move |r: &mut Vec<String>| r.push(role)))
                }
                DbRoleCommand::Revoke { account, role } => (
                    account,
                    Box::new(move |r: &mut Vec<String>| r.retain(|x| x != &role)),
                ),
                DbRoleCommand::List { .. } => {
                    return Err(Error::internal("read-only command on the write path"));
                }
            };
            let a = find(&store, &account).await?;
            let mut roles = idm.get_roles(&a.id).await?;
            change(&mut roles);
            let roles = idm.set_roles(&caller, &a.id, &roles).await?;
            p.record(
                &json!({ "account_id": a.id, "username": a.username, "roles": roles }),
                &["account_id", "username", "roles"],
            );
        }
        DbCommand::Token(c) => match c {
            DbTokenCommand::Revoke { jti, reason } => {
                idm.revoke_token(&caller, &jti, &reason).await?;
                p.ack(
                    &format!("revoked token {jti}"),
                    json!({ "jti": jti, "revoked": true }),
                );
            }
            DbTokenCommand::RevokeAll { account, reason } => {
                let a = find(&store, &account).await?;
                let n = idm.revoke_all_tokens(&caller, &a.id, &reason).await?;
                p.ack(
                    &format!("revoked {n} token(s) of {}", a.username),
                    json!({ "id": a.id, "revoked": n }),
                );
            }
            DbTokenCommand::List { .. } => {
                return Err(Error::internal("read-only command on the write path"));
            }
        },
        DbCommand::Prune(PruneCommand::Tokens) => {
            let n = idm.prune_audited(&caller).await?;
            p.ack(
                &format!("deleted {n} expired token row(s)"),
                json!({ "deleted": n }),
            );
        }
        DbCommand::Pgcreds(c) => match c {
            DbPgcredsCommand::Get { account } => {
                let a = find(&store, &account).await?;
                let creds = idm.get_pg_creds(&caller, &a.id).await?;
                eprintln!(
                    "WARNING: sensitive output: the password below is in clear text. This read is recorded in the audit log."
                );
                p.record(
                    &json!({
                        "account_id": a.id,
                        "host": creds.host,
                        "port": creds.port,
                        "database": creds.database,
                        "username": creds.username,
                        "password": creds.password.as_str(),
                    }),
                    &[
                        "account_id",
                        "host",
                        "port",
                        "database",
                        "username",
                        "password",
                    ],
                );
            }
            DbPgcredsCommand::Set {
                account,
                host,
                port,
                database,
                username,
                password_stdin,
            } => {
                let a = find(&store, &account).await?;
                let password = password_input(password_stdin)?;
                idm.set_pg_creds(
                    &caller,
                    &a.id,
                    PgCreds {
                        host,
                        port,
                        database,
                        username,
                        password,
                    },
                )
                .await?;
                p.ack(
                    &format!("stored the credentials of {}", a.username),
                    json!({ "id": a.id, "stored": true }),
                );
            }
        },
        DbCommand::Rekey {
            new_keyfile,
            new_passphrase_env,
        } => {
            let new = match (new_keyfile, new_passphrase_env) {
                (Some(f), None) => KeySource::Keyfile(f),
                (None, Some(var)) => match std::env::var(&var) {
                    Ok(v) if !v.is_empty() => KeySource::Passphrase(Zeroizing::new(v)),
                    _ => {
                        return Err(usage(format!(
                            "--new-passphrase-env names {var:?}, but that variable is unset or empty"
                        )));
                    }
                },
                _ => {
                    return Err(usage(
                        "give exactly one of --new-keyfile or --new-passphrase-env",
                    ));
                }
            };
            let n = tokio::task::block_in_place(|| idm.rekey(&new))?;
            p.ack(
                &format!(
                    "re-sealed {n} value(s) and the key check under the new master key; \
                     now point [master_key] in the configuration at the new key"
                ),
                json!({ "resealed": n }),
            );
        }
        DbCommand::Schema(_)
        | DbCommand::Audit(_)
        | DbCommand::Backup { .. }
        | DbCommand::Restore { .. }
        | DbCommand::Verify => {
            return Err(Error::internal("command handled elsewhere"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
