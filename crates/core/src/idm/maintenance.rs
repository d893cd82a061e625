//! What the offline tool (`mciasdb`) needs of the database beyond [`Idm`]:
//! a read-only view of an opened database ([`ReadOnlyDb`]: accounts by name
//! or id, roles, audit and token listings, schema status, online backup,
//! verification), the maintenance lock, and the two writes that happen
//! before an [`Idm`] can be opened ([`restore`], [`migrate`]), each
//! recording its own audit event with the actor `mciasdb`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use super::{Caller, Idm, KeySource, VerifyReport, offline, unlock};
use crate::clock::{Clock, SecureRandom};
use crate::crypto::seal::MasterKey;
use crate::error::{Error, Result};
use crate::model::{AccountRecord, AuditEntry, AuditFilter, AuditRecord, Outcome, TokenRecord};
use crate::store::{Backend, DbLock, Store};

/// Runs blocking database work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("task: {e}")))?
}

/// An account by id or (case-insensitive) username.
async fn find(store: &dyn Backend, account: &str) -> Result<AccountRecord> {
    if let Some(a) = store.account(account.to_owned()).await? {
        return Ok(a);
    }
    store
        .account_by_username(account.to_lowercase())
        .await?
        .ok_or_else(|| Error::not_found(&format!("account {account:?}")))
}

/// An audit event of the offline tool, made outside an [`Idm`].
fn tool_event(
    event_type: &'static str,
    now: i64,
    details: serde_json::Value,
) -> Result<AuditEntry> {
    let caller = Caller::offline_tool();
    Ok(AuditEntry {
        occurred_at: now,
        event_type,
        actor_id: Some(caller.principal()?.account_id.clone()),
        target_id: None,
        peer: caller.peer,
        outcome: Outcome::Success,
        details,
    })
}

/// Applied and pending schema migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The versions applied.
    pub applied: Vec<i64>,
    /// The names of the migrations not applied yet.
    pub pending: Vec<&'static str>,
}

/// An existing database opened without the lock and without changing it,
/// after the master key check: safe while a server runs.
#[derive(Debug, Clone)]
pub struct ReadOnlyDb {
    store: Store,
    key: MasterKey,
}

impl ReadOnlyDb {
    /// Opens the database at `path` read-only and checks the master key.
    pub async fn open(path: &Path, source: &KeySource, rng: Arc<dyn SecureRandom>) -> Result<Self> {
        let (path, source) = (path.to_owned(), source.clone());
        let (store, key) =
            blocking(move || offline::open_readonly(&path, &source, rng.as_ref())).await?;
        Ok(Self { store, key })
    }

    /// An account by id or username, deleted ones included.
    pub async fn find_account(&self, account: &str) -> Result<AccountRecord> {
        find(&self.store, account).await
    }

    /// Every account in creation order; deleted ones only when
    /// `include_deleted`.
    pub async fn accounts(&self, include_deleted: bool) -> Result<Vec<AccountRecord>> {
        let s = self.store.clone();
        blocking(move || s.all_accounts_blocking(include_deleted)).await
    }

    /// An account's roles, sorted.
    pub async fn roles(&self, account_id: &str) -> Result<Vec<String>> {
        self.store.roles(account_id.to_owned()).await
    }

    /// Matching audit events, newest first, at most `limit`.
    pub async fn audit(&self, filter: AuditFilter, limit: u32) -> Result<Vec<AuditRecord>> {
        self.store.list_audit(filter, limit).await
    }

    /// Recorded tokens, newest first; only live ones at `now` unless `all`.
    pub async fn tokens(
        &self,
        account_id: Option<String>,
        all: bool,
        now: i64,
    ) -> Result<Vec<TokenRecord>> {
        let s = self.store.clone();
        blocking(move || s.list_tokens_blocking(account_id, all, now)).await
    }

    /// Applied and pending migrations.
    pub fn schema(&self) -> Result<SchemaStatus> {
        Ok(SchemaStatus {
            applied: self.store.applied_migrations()?,
            pending: self.store.pending_migrations()?,
        })
    }

    /// Copies the database to `dest` (which must not exist) with SQLite's
    /// online backup, calling `progress(done, total)` in pages as it goes.
    pub async fn backup_to(
        &self,
        dest: &Path,
        progress: impl FnMut(u64, u64) + Send + 'static,
    ) -> Result<()> {
        let (s, dest) = (self.store.clone(), dest.to_owned());
        blocking(move || s.backup_to(&dest, progress)).await
    }

    /// Integrity, foreign keys, pending migrations and every sealed value
    /// (see [`super::verify`]).
    pub async fn verify(&self) -> Result<VerifyReport> {
        let (s, k) = (self.store.clone(), self.key.clone());
        blocking(move || offline::verify(&s, &k)).await
    }
}

impl Idm {
    /// An account by id or username, deleted ones included (the offline
    /// tool names accounts either way).
    pub async fn find_account(&self, account: &str) -> Result<AccountRecord> {
        find(self.store.as_ref(), account).await
    }
}

/// The database lock taken by the offline tool for every command that
/// writes; refused (`database_busy`) while a server or another tool holds
/// it. Released when dropped.
#[derive(Debug)]
pub struct MaintenanceLock(#[allow(dead_code)] DbLock);

impl MaintenanceLock {
    /// Takes the lock of the database at `db`.
    pub fn acquire(db: &Path) -> Result<Self> {
        DbLock::acquire(db).map(Self)
    }
}

/// Replaces the database at `db` with the backup `from` (see
/// [`super::restore`]) and records `database_restore` in the restored
/// database. The caller holds the [`MaintenanceLock`]. Returns where the
/// previous database was kept, if there was one.
pub async fn restore_audited(
    db: &Path,
    from: &Path,
    source: &KeySource,
    rng: Arc<dyn SecureRandom>,
    clock: Arc<dyn Clock>,
) -> Result<Option<PathBuf>> {
    let now = clock.now();
    let (db2, from, source) = (db.to_owned(), from.to_owned(), source.clone());
    let kept = blocking(move || offline::restore(&db2, &from, &source, rng.as_ref(), now)).await?;
    let db2 = db.to_owned();
    let store = blocking(move || Store::open_existing(&db2)).await?;
    store
        .append_audit(tool_event(
            "database_restore",
            clock.now(),
            json!({ "kept_previous": kept.as_ref().map(|k| k.display().to_string()) }),
        )?)
        .await?;
    Ok(kept)
}

/// Applies pending migrations to the database at `db` (creating it when it
/// does not exist) after the master key check, and records
/// `schema_migrate` when any were applied. The caller holds the
/// [`MaintenanceLock`]. Returns the names of the migrations applied.
pub async fn migrate_audited(
    db: &Path,
    source: &KeySource,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom>,
) -> Result<Vec<&'static str>> {
    let (db, source, c) = (db.to_owned(), source.clone(), clock.clone());
    let (store, applied) = blocking(move || {
        let before = if db.exists() {
            Store::open_read_only(&db)?.pending_migrations()?
        } else {
            Vec::new()
        };
        let (store, _key) = unlock(&db, &source, c.as_ref(), rng.as_ref())?;
        Ok((store, before))
    })
    .await?;
    if !applied.is_empty() {
        store
            .append_audit(tool_event(
                "schema_migrate",
                clock.now(),
                json!({ "applied": applied }),
            )?)
            .await?;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{OsRandom, SystemClock};
    use zeroize::Zeroizing;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn migrate_lock_and_read_only_view() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mcias.db");
        let source = KeySource::Passphrase(Zeroizing::new("a test passphrase".to_owned()));
        let (clock, rng): (Arc<dyn Clock>, Arc<dyn SecureRandom>) =
            (Arc::new(SystemClock), Arc::new(OsRandom));

        // A new database is created at the current schema: nothing pending
        // to report (as before this module), and nothing audited.
        let applied = migrate_audited(&db, &source, clock.clone(), rng.clone())
            .await
            .unwrap();
        assert!(applied.is_empty());
        let _lock = MaintenanceLock::acquire(&db).unwrap();
        assert!(
            MaintenanceLock::acquire(&db).is_err(),
            "the lock is exclusive"
        );
        let again = migrate_audited(&db, &source, clock.clone(), rng.clone())
            .await
            .unwrap();
        assert!(again.is_empty());

        let ro = ReadOnlyDb::open(&db, &source, rng.clone()).await.unwrap();
        assert!(ro.schema().unwrap().pending.is_empty());
        let events = ro.audit(AuditFilter::default(), 10).await.unwrap();
        assert!(
            !events.iter().any(|e| e.event_type == "schema_migrate"),
            "nothing applied is not audited"
        );
        assert!(ro.accounts(true).await.unwrap().is_empty());
        assert!(ro.find_account("nobody").await.is_err());
        assert!(ro.tokens(None, true, 0).await.unwrap().is_empty());
        assert!(ro.verify().await.unwrap().is_clean());

        let copy = dir.path().join("copy.db");
        let (tx, rx) = std::sync::mpsc::channel();
        ro.backup_to(&copy, move |done, total| {
            let _ = tx.send((done, total));
        })
        .await
        .unwrap();
        assert!(copy.exists());
        assert!(rx.try_iter().last().is_some_and(|(d, t)| d == t));

        // A wrong key opens nothing.
        let wrong = KeySource::Passphrase(Zeroizing::new("another passphrase".to_owned()));
        assert!(ReadOnlyDb::open(&db, &wrong, rng).await.is_err());
    }
}
