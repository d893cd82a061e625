//! Maintenance operations for the offline tool (`mciasdb`): integrity
//! checks, the inventory of sealed values and their re-sealing in one
//! transaction, token listings, online backup and database replacement.
//! Like the rest of the store, nothing here decrypts.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::audit::append;
use super::tokens::{TOKEN_COLUMNS, revoke_all, token_from_row};
use super::{Store, sql_err};
use crate::error::{Error, Result};
use crate::model::{AccountRecord, AuditEntry, TokenRecord};

/// The `server_config` key of the sealed master key check value.
pub const MASTER_KEY_CHECK: &str = "master_key_check";
/// The `server_config` key of the passphrase KDF parameters.
pub const MASTER_KEY_KDF: &str = "master_key_kdf";

/// Where a sealed value lives and its bytes.
#[derive(Clone)]
pub struct SealedValue {
    /// Table.
    pub table: &'static str,
    /// Column.
    pub column: &'static str,
    /// The row's key as used in the associated data.
    pub row: String,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}[{}]", self.table, self.column, self.row)
    }
}

/// Every sealed value of the database except the master key check value.
fn sealed_values(c: &Connection) -> Result<Vec<SealedValue>> {
    let mut out = Vec::new();
    let sources: [(&'static str, &'static str, &str); 5] = [
        (
            "accounts",
            "totp_secret_sealed",
            "SELECT id, totp_secret_sealed FROM accounts WHERE totp_secret_sealed IS NOT NULL ORDER BY id",
        ),
        (
            "signing_keys",
            "private_key_sealed",
            "SELECT kid, private_key_sealed FROM signing_keys ORDER BY kid",
        ),
        (
            "pg_credentials",
            "password_sealed",
            "SELECT account_id, password_sealed FROM pg_credentials ORDER BY account_id",
        ),
        (
            "refresh_keys",
            "secret_sealed",
            "SELECT id, secret_sealed FROM refresh_keys ORDER BY id",
        ),
        (
            "refresh_tokens",
            "successor_sealed",
            "SELECT hash, successor_sealed FROM refresh_tokens WHERE successor_sealed IS NOT NULL ORDER BY hash",
        ),
    ];
    for (table, column, sql) in sources {
        let mut stmt = c.prepare(sql).map_err(sql_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(sql_err)?;
        for row in rows {
            let (row, sealed) = row.map_err(sql_err)?;
            out.push(SealedValue {
                table,
                column,
                row,
                sealed,
            });
        }
    }
    Ok(out)
}

fn update_sealed(c: &Connection, v: &SealedValue, sealed: &[u8]) -> Result<()> {
    let sql = match (v.table, v.column) {
        ("accounts", "totp_secret_sealed") => {
            "UPDATE accounts SET totp_secret_sealed = ?2 WHERE id = ?1"
        }
        ("signing_keys", "private_key_sealed") => {
            "UPDATE signing_keys SET private_key_sealed = ?2 WHERE kid = ?1"
        }
        ("pg_credentials", "password_sealed") => {
            "UPDATE pg_credentials SET password_sealed = ?2 WHERE account_id = ?1"
        }
        ("refresh_keys", "secret_sealed") => {
            "UPDATE refresh_keys SET secret_sealed = ?2 WHERE id = ?1"
        }
        ("refresh_tokens", "successor_sealed") => {
            "UPDATE refresh_tokens SET successor_sealed = ?2 WHERE hash = ?1"
        }
        _ => return Err(Error::internal(format!("unknown sealed column {v:?}"))),
    };
    let n = c.execute(sql, params![v.row, sealed]).map_err(sql_err)?;
    if n != 1 {
        return Err(Error::internal(format!("sealed value {v:?} vanished")));
    }
    Ok(())
}

/// The new master key material that [`Store::reseal_all`] stores.
pub struct NewKeyMaterial {
    /// The check value sealed under the new key.
    pub check: Vec<u8>,
    /// The KDF parameters for a passphrase-derived key; `None` for a keyfile.
    pub kdf: Option<Vec<u8>>,
}

impl Store {
    /// Opens a database that must already exist (the offline tool never
    /// creates one by accident).
    pub fn open_existing(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::invalid(
                "database_missing",
                format!("database {} does not exist", path.display()),
            ));
        }
        Self::open(path)
    }

    /// `PRAGMA integrity_check` and `PRAGMA foreign_key_check`: the problems
    /// found, empty when the database is sound.
    pub fn integrity_problems(&self) -> Result<Vec<String>> {
        self.read_blocking(|c| {
            let mut problems = Vec::new();
            let mut stmt = c.prepare("PRAGMA integrity_check").map_err(sql_err)?;
            for row in stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(sql_err)?
            {
                let line = row.map_err(sql_err)?;
                if line != "ok" {
                    problems.push(format!("integrity: {line}"));
                }
            }
            let mut stmt = c.prepare("PRAGMA foreign_key_check").map_err(sql_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(format!(
                        "foreign key: {} row {} references missing {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?.unwrap_or_default(),
                        r.get::<_, String>(2)?
                    ))
                })
                .map_err(sql_err)?;
            for row in rows {
                problems.push(row.map_err(sql_err)?);
            }
            Ok(problems)
        })
    }

    /// Every sealed value (TOTP secrets, signing keys, stored credentials),
    /// the master key check value excepted.
    pub fn sealed_values(&self) -> Result<Vec<SealedValue>> {
        self.read_blocking(sealed_values)
    }

    /// Re-seals every sealed value with `reseal` and stores the new check
    /// value and KDF parameters, all in one transaction: either everything
    /// is under the new key afterwards, or nothing changed.
    pub fn reseal_all(
        &self,
        mut reseal: impl FnMut(&SealedValue) -> Result<Vec<u8>>,
        material: NewKeyMaterial,
        audit: AuditEntry,
    ) -> Result<usize> {
        self.write_blocking(|tx| {
            let values = sealed_values(tx)?;
            for v in &values {
                let sealed = reseal(v)?;
                update_sealed(tx, v, &sealed)?;
            }
            tx.execute(
                "INSERT INTO server_config (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![MASTER_KEY_CHECK, material.check],
            )
            .map_err(sql_err)?;
            match material.kdf {
                Some(kdf) => tx
                    .execute(
                        "INSERT INTO server_config (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = ?2",
                        params![MASTER_KEY_KDF, kdf],
                    )
                    .map_err(sql_err)?,
                None => tx
                    .execute("DELETE FROM server_config WHERE key = ?1", [MASTER_KEY_KDF])
                    .map_err(sql_err)?,
            };
            append(tx, &audit)?;
            Ok(values.len())
        })
    }

    /// Every account in creation order; deleted ones only when
    /// `include_deleted`.
    pub fn all_accounts_blocking(&self, include_deleted: bool) -> Result<Vec<AccountRecord>> {
        self.read_blocking(move |c| {
            let sql = format!(
                "SELECT {} FROM accounts WHERE (?1 OR status <> 4) ORDER BY id",
                super::accounts::COLUMNS
            );
            let mut stmt = c.prepare(&sql).map_err(sql_err)?;
            let rows = stmt
                .query_map([include_deleted], super::accounts::from_row)
                .map_err(sql_err)?;
            rows.map(|r| r.map_err(sql_err).and_then(super::accounts::finish))
                .collect()
        })
    }

    /// Recorded tokens, newest first; only live (unrevoked, unexpired) ones
    /// unless `all`.
    pub fn list_tokens_blocking(
        &self,
        account_id: Option<String>,
        all: bool,
        now: i64,
    ) -> Result<Vec<TokenRecord>> {
        self.read_blocking(move |c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens
                 WHERE (?1 IS NULL OR account_id = ?1)
                   AND (?2 OR (revoked_at IS NULL AND expires_at >= ?3))
                 ORDER BY issued_at DESC, jti"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![account_id, all, now], token_from_row)
                .map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
        })
    }

    /// Revokes every live token of an account; returns how many.
    pub async fn revoke_all_tokens(
        &self,
        account_id: String,
        reason: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<usize> {
        self.write(move |tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM accounts WHERE id = ?1)",
                    [&account_id],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            if !exists {
                return Err(Error::not_found("account"));
            }
            let revoked = revoke_all(tx, &account_id, &reason, now)?;
            append(tx, &audit)?;
            Ok(revoked.len())
        })
        .await
    }

    /// Copies the database to `dest` with SQLite's online backup API. Works
    /// while a server writes: a step that sees a change restarts the copy,
    /// and after a few restarts the rest is copied in one step. `progress`
    /// gets (pages done, pages total). `dest` must not exist; the copy is
    /// written beside it and renamed into place when complete and checked.
    pub fn backup_to(&self, dest: &Path, mut progress: impl FnMut(u64, u64)) -> Result<()> {
        use rusqlite::backup::{Backup, StepResult};
        if dest.exists() {
            return Err(Error::invalid(
                "backup_exists",
                format!("{} already exists; choose a new file", dest.display()),
            ));
        }
        let tmp = sibling(dest, ".partial");
        let _ = std::fs::remove_file(&tmp);
        let src = Connection::open_with_flags(self.path(), OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sql_err)?;
        src.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql_err)?;
        let io = |e: std::io::Error| Error::internal(format!("backup to {}: {e}", dest.display()));
        let result = (|| -> Result<()> {
            super::create_private(&tmp)?;
            let mut dst = Connection::open(&tmp).map_err(|e| {
                Error::invalid(
                    "backup_open",
                    format!("cannot create {}: {e}", tmp.display()),
                )
            })?;
            {
                let backup = Backup::new(&src, &mut dst).map_err(sql_err)?;
                let mut last_remaining = i64::MAX;
                let mut restarts = 0;
                loop {
                    let pages = if restarts >= 3 { -1 } else { 64 };
                    let step = backup.step(pages).map_err(sql_err)?;
                    let p = backup.progress();
                    let (remaining, total) = (i64::from(p.remaining), i64::from(p.pagecount));
                    if remaining > last_remaining {
                        restarts += 1;
                    }
                    last_remaining = remaining;
                    progress(
                        u64::try_from(total - remaining).unwrap_or(0),
                        u64::try_from(total).unwrap_or(0),
                    );
                    match step {
                        StepResult::Done => break,
                        StepResult::More => {}
                        StepResult::Busy | StepResult::Locked => {
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        _ => std::thread::sleep(std::time::Duration::from_millis(20)),
                    }
                }
            }
            let check: String = dst
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(sql_err)?;
            if check != "ok" {
                return Err(Error::internal(format!(
                    "the backup copy failed its integrity check: {check}"
                )));
            }
            dst.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sql_err)?;
            dst.close().map_err(|(_, e)| sql_err(e))?;
            for side in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(sibling(&tmp, side));
            }
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
            std::fs::rename(&tmp, dest).map_err(io)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// `path` with `suffix` appended to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Checks that the file at `path` is an SQLite database that passes
/// `integrity_check`, without writing to it.
pub fn check_file_integrity(path: &Path) -> Result<()> {
    let bad = |detail: String| {
        Error::invalid(
            "backup_corrupt",
            format!("{} is not a sound MCIAS database: {detail}", path.display()),
        )
    };
    if !path.is_file() {
        return Err(Error::invalid(
            "backup_missing",
            format!("{} does not exist", path.display()),
        ));
    }
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| bad(e.to_string()))?;
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    if check != "ok" {
        return Err(bad(check));
    }
    Ok(())
}

/// Replaces the database at `db` with a copy of `from`. The copy is written
/// and synced beside `db` first; the old database (when there is one) is
/// kept as `<db>.pre-restore-<now>`; the old WAL and shared-memory files are
/// removed. Returns the path of the kept old database. The caller holds the
/// database lock.
pub fn replace_database(db: &Path, from: &Path, now: i64) -> Result<Option<PathBuf>> {
    let io = |what: &str, e: std::io::Error| Error::internal(format!("restore: {what}: {e}"));
    let tmp = sibling(db, ".restoring");
    std::fs::copy(from, &tmp).map_err(|e| io("copying the backup", e))?;
    // `copy` takes the backup's mode along; the database is the owner's only.
    super::make_private(&tmp).map_err(|e| io("making the copy private", e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("syncing the copy", e))?;
    let kept = if db.exists() {
        // Fold the WAL into the old file so the kept copy is complete.
        if let Ok(c) = Connection::open(db) {
            let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        let kept = sibling(db, &format!(".pre-restore-{now}"));
        std::fs::rename(db, &kept).map_err(|e| io("keeping the old database", e))?;
        Some(kept)
    } else {
        None
    };
    for side in ["-wal", "-shm"] {
        let p = sibling(db, side);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| io("removing the old WAL", e))?;
        }
    }
    std::fs::rename(&tmp, db).map_err(|e| io("moving the copy into place", e))?;
    Ok(kept)
}
