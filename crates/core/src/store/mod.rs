//! The store: [`Backend`], the contract every database backend implements
//! (`backend.rs`, checked by the suite in `conformance.rs`), and [`Store`],
//! the SQLite backend: one writer connection, a small pool of readers, WAL,
//! foreign keys, embedded numbered migrations, and a narrow domain-shaped API
//! (`create_account`, `revoke_token`, ...). Every call runs on a blocking
//! thread so the async runtime never waits on SQLite. The maintenance calls
//! of `mciasdb` (backup, integrity, re-sealing, migrations) are `Store`'s
//! own.
//!
//! The store never sees a request type and never decrypts: sealed columns are
//! bytes here; sealing and opening happen in `idm`.

mod accounts;
mod audit;
mod backend;
mod clients;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod lock;
mod offline;
mod oidc;
mod refresh;
mod sqlite;
mod tokens;

pub use crate::model::{
    LoginFailure, LoginSuccess, NewRefresh, RefreshOutcome, RefreshRecord, SourceFailures,
};
pub use accounts::ADMIN_ROLE;
pub use backend::{Backend, StoreFuture, StoreLock};
pub use lock::{DbLock, lock_path};
pub use offline::{
    MASTER_KEY_CHECK, MASTER_KEY_KDF, NewKeyMaterial, SealedValue, check_file_integrity,
    replace_database, sibling,
};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction};

use crate::error::{Error, Result};

/// The embedded migrations, in order. Their number is their position + 1.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/0001_init.sql")),
    (
        "0002_sessions_and_keys",
        include_str!("migrations/0002_sessions_and_keys.sql"),
    ),
    (
        "0003_oauth_clients",
        include_str!("migrations/0003_oauth_clients.sql"),
    ),
    (
        "0004_login_failures",
        include_str!("migrations/0004_login_failures.sql"),
    ),
    (
        "0005_account_profile",
        include_str!("migrations/0005_account_profile.sql"),
    ),
    (
        "0006_signing_key_alg",
        include_str!("migrations/0006_signing_key_alg.sql"),
    ),
    ("0007_oidc", include_str!("migrations/0007_oidc.sql")),
    ("0008_console", include_str!("migrations/0008_console.sql")),
];

/// How many idle reader connections are kept.
const READER_POOL: usize = 4;

/// The database handle. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Opened by [`Store::open_read_only`]: every connection is one that
    /// cannot change a byte of the database or its `-wal`/`-shm` files.
    read_only: bool,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reads: AtomicU64,
    writes: AtomicU64,
}

/// How many read and write transactions the store has run (for the
/// benchmark's proof that token validation does no database I/O).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoCounts {
    /// Read calls.
    pub reads: u64,
    /// Write transactions.
    pub writes: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql_err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql_err)?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| Error::internal("database connection lock poisoned"))
}

/// The `file:` URI of `path`, with every byte other than unreserved ones
/// and `/` percent-encoded (SQLite decodes them; `?`, `#` and `%` in a path
/// would otherwise be read as URI syntax).
fn file_uri(path: &Path, query: &str) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push('?');
    uri.push_str(query);
    uri
}

/// Opens a connection that reads the database at `path` without writing a
/// byte to it or to its `-wal` and `-shm` files, even after a crash. A
/// read-write connection (and even a plain read-only one, which rebuilds the
/// WAL index in `-shm`, or creates `-wal` and `-shm` when they are missing)
/// recovers the WAL, and the last one to close checkpoints it into the main
/// file and removes `-wal` and `-shm`. So:
/// - with `-wal` and `-shm` (a server running, or a crash left them),
///   `readonly_shm=1`: SQLite opens `-shm` read-only and, when no other
///   process has the database open, builds the WAL index in its own memory
///   from `-wal`, so every committed transaction is still seen;
/// - without `-wal`, everything committed is in the main file (SQLite
///   removes `-wal` only after checkpointing all of it): `immutable=1`
///   reads just that file, creating nothing;
/// - a `-wal` without its `-shm` (never left by SQLite itself, only by
///   someone deleting it) cannot be read either way: a plain read-only
///   connection is used, which creates `-shm` but still changes neither
///   the database nor `-wal`.
fn open_untouched(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let wal = offline::sibling(path, "-wal").exists();
    let shm = offline::sibling(path, "-shm").exists();
    let query = match (wal, shm) {
        (true, true) => "mode=ro&readonly_shm=1",
        (false, _) => "mode=ro&immutable=1",
        (true, false) => "mode=ro",
    };
    let c = Connection::open_with_flags(file_uri(path, query), flags)?;
    // Closing never checkpoints, whatever the connection could lock.
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    Ok(c)
}

/// Creates `path` as an empty file readable and writable by its owner only
/// (0600), unless it exists. SQLite gives the -wal and -shm files it makes
/// beside a database the database file's mode, so they are private too.
pub(crate) fn create_private(path: &Path) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::invalid(
            "database_create",
            format!("cannot create database file {}: {e}", path.display()),
        )),
    }
}

/// Makes an existing file readable and writable by its owner only.
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl Store {
    /// Opens (creating when missing) the database at `path` in WAL mode.
    /// Does not migrate: call [`Store::migrate`] once the master key has been
    /// checked, so a wrong key changes nothing.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(Error::invalid(
                "database_dir_missing",
                format!("database directory {} does not exist", dir.display()),
            ));
        }
        create_private(path)?;
        let writer = Connection::open(path).map_err(|e| {
            Error::invalid(
                "database_open",
                format!("cannot open database {}: {e}", path.display()),
            )
        })?;
        configure(&writer)?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sql_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::internal(format!(
                "database {} refused WAL mode (got {mode})",
                path.display()
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                read_only: false,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                reads: AtomicU64::new(0),
                writes: AtomicU64::new(0),
            }),
        })
    }

    /// Opens the existing database at `path` for reading only, changing
    /// nothing — not the database, not its `-wal` or `-shm` files, even
    /// after a crash left them behind (see `open_untouched`). This is how
    /// a database is opened until the master key is proven; every write
    /// through it is refused.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::invalid(
                "database_missing",
                format!("database {} does not exist", path.display()),
            ));
        }
        let conn = open_untouched(path).map_err(|e| {
            Error::invalid(
                "database_open",
                format!("cannot open database {}: {e}", path.display()),
            )
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql_err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                read_only: true,
                writer: Mutex::new(conn),
                readers: Mutex::new(Vec::new()),
                reads: AtomicU64::new(0),
                writes: AtomicU64::new(0),
            }),
        })
    }

    /// Whether this store was opened with [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Read and write calls so far.
    pub fn io_counts(&self) -> IoCounts {
        IoCounts {
            reads: self.inner.reads.load(Ordering::Relaxed),
            writes: self.inner.writes.load(Ordering::Relaxed),
        }
    }

    fn reader(&self) -> Result<Connection> {
        if let Some(c) = lock(&self.inner.readers)?.pop() {
            return Ok(c);
        }
        if self.inner.read_only {
            let c = open_untouched(&self.inner.path).map_err(sql_err)?;
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(sql_err)?;
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err)?;
        configure(&c)?;
        Ok(c)
    }

    fn give_back(&self, c: Connection) {
        if let Ok(mut pool) = self.inner.readers.lock()
            && pool.len() < READER_POOL
        {
            pool.push(c);
        }
    }

    /// Runs `f` on a reader connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        self.inner.reads.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let conn = this.reader()?;
            let out = f(&conn);
            this.give_back(conn);
            out
        })
        .await
        .map_err(|e| Error::internal(format!("database task: {e}")))?
    }

    /// Runs `f` in one immediate write transaction on the writer connection.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.write_blocking(f))
            .await
            .map_err(|e| Error::internal(format!("database task: {e}")))?
    }

    /// The blocking form of [`Store::write`] (start-up and tools).
    pub(crate) fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        if self.inner.read_only {
            return Err(Error::internal(format!(
                "database {} was opened read-only",
                self.inner.path.display()
            )));
        }
        self.inner.writes.fetch_add(1, Ordering::Relaxed);
        let mut conn = lock(&self.inner.writer)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let out = f(&tx)?;
        tx.commit().map_err(sql_err)?;
        Ok(out)
    }

    /// The blocking form of [`Store::read`] on the writer connection
    /// (start-up, before the runtime serves).
    pub(crate) fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.inner.reads.fetch_add(1, Ordering::Relaxed);
        let conn = lock(&self.inner.writer)?;
        f(&conn)
    }

    /// Migration numbers already applied.
    pub fn applied_migrations(&self) -> Result<Vec<i64>> {
        self.read_blocking(applied)
    }

    /// Migrations not yet applied, by name.
    pub fn pending_migrations(&self) -> Result<Vec<&'static str>> {
        let done = self.applied_migrations()?;
        Ok(MIGRATIONS
            .iter()
            .enumerate()
            .filter(|(i, _)| !done.contains(&(*i as i64 + 1)))
            .map(|(_, (name, _))| *name)
            .collect())
    }

    /// Applies every pending migration, each in its own transaction, and
    /// records it in `schema_migrations`. Idempotent.
    pub fn migrate(&self, now: i64) -> Result<usize> {
        let mut applied_now = 0;
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            let done = self.write_blocking(|tx| {
                tx.execute_batch(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        applied_at INTEGER NOT NULL) STRICT",
                )
                .map_err(sql_err)?;
                let exists: bool = tx
                    .query_row(
                        "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
                        [version],
                        |r| r.get(0),
                    )
                    .map_err(sql_err)?;
                if exists {
                    return Ok(false);
                }
                tx.execute_batch(sql)
                    .map_err(|e| Error::internal(format!("migration {name}: {e}")))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    rusqlite::params![version, name, now],
                )
                .map_err(sql_err)?;
                Ok(true)
            })?;
            if done {
                applied_now += 1;
                tracing::info!(migration = name, "applied database migration");
            }
        }
        Ok(applied_now)
    }

    /// Reads a `server_config` value; `None` when absent or when the schema
    /// does not exist yet (a fresh database). Never writes.
    pub fn config_value(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.read_blocking(move |c| {
            let has_table: bool = c.query_row(
                "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'server_config')",
                [],
                |r| r.get(0),
            ).map_err(sql_err)?;
            if !has_table {
                return Ok(None);
            }
            c
                .query_row("SELECT value FROM server_config WHERE key = ?1", [key], |r| r.get(0))
                .optional().map_err(sql_err)
        })
    }

    /// Stores a `server_config` value unless one exists; returns the value in
    /// force afterwards.
    pub fn init_config_value(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.write_blocking(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO server_config (key, value) VALUES (?1, ?2)",
                rusqlite::params![key, value],
            )
            .map_err(sql_err)?;
            tx.query_row(
                "SELECT value FROM server_config WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .map_err(sql_err)
        })
    }

    /// A cheap query proving the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
                .map_err(sql_err)
        })
        .await
    }

    /// Checkpoints the WAL so the main file holds everything (clean shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        self.read_blocking(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sql_err)?;
            Ok(())
        })
    }
}

fn applied(c: &Connection) -> Result<Vec<i64>> {
    let has: bool = c.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    ).map_err(sql_err)?;
    if !has {
        return Ok(Vec::new());
    }
    let mut stmt = c
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .map_err(sql_err)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(sql_err)?;
    rows.collect::<rusqlite::Result<Vec<i64>>>()
        .map_err(sql_err)
}

/// The one conversion of SQLite errors into the crate's error: busy or
/// locked is UNAVAILABLE (retryable), anything else INTERNAL with the detail
/// for the log. Used with `map_err`, so `error.rs` knows nothing of SQLite.
pub(super) fn sql_err(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(ref f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Error::new(
                crate::error::ErrorKind::Unavailable,
                "database_busy",
                "database is busy",
            )
        }
        other => Error::internal(format!("database: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    /// A read-only store reads, refuses every write, and leaves a cleanly
    /// closed database without `-wal` or `-shm` (the crash case, where
    /// they exist, is `tests/crash.rs` against the real binary: a lock is
    /// per process, so it cannot be staged in one).
    #[test]
    fn read_only_store_reads_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // A name with URI syntax in it is still this file.
        let path = dir.path().join("odd ?#%name.db");
        {
            let s = super::Store::open(&path).unwrap();
            s.migrate(1).unwrap();
            s.init_config_value("k", b"v").unwrap();
        }
        let side = |x: &str| super::offline::sibling(&path, x);
        assert!(!side("-wal").exists() && !side("-shm").exists());
        let before = std::fs::read(&path).unwrap();
        let ro = super::Store::open_read_only(&path).unwrap();
        assert!(ro.is_read_only());
        assert_eq!(ro.config_value("k").unwrap().as_deref(), Some(&b"v"[..]));
        assert!(ro.pending_migrations().unwrap().is_empty());
        assert!(ro.init_config_value("k2", b"w").is_err(), "a write");
        assert!(ro.migrate(2).is_err(), "a migration");
        drop(ro);
        assert!(!side("-wal").exists() && !side("-shm").exists());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(super::Store::open_read_only(&dir.path().join("none.db")).is_err());
    }

    /// 0006 on a database with keys from before it: they become EdDSA keys
    /// that signed from their creation, and one active key per algorithm
    /// is enforced from then on.
    #[test]
    fn signing_key_alg_migration_keeps_earlier_keys() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let at = |name: &str| MIGRATIONS.iter().position(|(n, _)| *n == name).unwrap();
        let sixth = at("0006_signing_key_alg");
        for (_, sql) in &MIGRATIONS[..sixth] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            "INSERT INTO signing_keys (kid, public_key, private_key_sealed, created_at, active, retire_after)
             VALUES ('old', x'00', x'00', 100, 0, 900), ('cur', x'01', x'01', 200, 1, NULL)",
        )
        .unwrap();
        c.execute_batch(MIGRATIONS[sixth].1).unwrap();
        let rows: Vec<(String, i64, i64, bool)> = c
            .prepare("SELECT kid, alg, active_from, active FROM signing_keys ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("old".to_owned(), 1, 100, false),
                ("cur".to_owned(), 1, 200, true)
            ]
        );
        let insert = |kid: &str, alg: i64, active: bool| {
            c.execute(
                "INSERT INTO signing_keys (kid, alg, public_key, private_key_sealed, created_at, active, active_from)
                 VALUES (?1, ?2, x'02', x'02', 300, ?3, 300)",
                rusqlite::params![kid, alg, active],
            )
        };
        insert("rsa", 2, true).unwrap();
        assert!(insert("ed2", 1, true).is_err(), "a second active EdDSA key");
        assert!(
            insert("rsa2", 2, true).is_err(),
            "a second active RS256 key"
        );
        insert("ed3", 1, false).unwrap();
        assert!(insert("bad", 3, false).is_err(), "an unknown algorithm");
    }
}
