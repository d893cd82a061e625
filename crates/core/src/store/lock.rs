//! The database lock: an exclusive advisory lock (`flock`) on `<db>.lock`
//! beside the database file. The server holds it for as long as it serves;
//! `mciasdb` takes it for every command that writes, and refuses to write
//! while someone else holds it. Read-only commands do not take it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use fs2::FileExt;

use crate::error::{Error, Result};

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DbLock {
    path: PathBuf,
    _file: File,
}

/// The lock file of the database at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open(db: &Path) -> Result<(PathBuf, File)> {
    let path = lock_path(db);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            Error::invalid(
                "lock_open",
                format!("cannot open the database lock file {}: {e}", path.display()),
            )
        })?;
    Ok((path, file))
}

impl DbLock {
    /// Takes the lock without waiting. Fails with the code `database_busy`
    /// when another process (a running server or another `mciasdb`) holds it.
    pub fn acquire(db: &Path) -> Result<Self> {
        let (path, file) = open(db)?;
        match file.try_lock_exclusive() {
            Ok(()) => Ok(Self { path, _file: file }),
            Err(e) if e.kind() == fs2::lock_contended_error().kind() => Err(Error::precondition(
                "database_busy",
                format!(
                    "the database {} is in use by a running server (or another mciasdb): {} is locked",
                    db.display(),
                    path.display()
                ),
            )),
            Err(e) => Err(Error::internal(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }

    /// Whether another process holds the lock right now.
    pub fn is_held(db: &Path) -> Result<bool> {
        if !lock_path(db).exists() {
            return Ok(false);
        }
        match Self::acquire(db) {
            Ok(lock) => {
                drop(lock);
                Ok(false)
            }
            Err(e) if e.code == "database_busy" => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let first = DbLock::acquire(&db).unwrap();
        assert_eq!(first.path(), lock_path(&db));
        let err = DbLock::acquire(&db).unwrap_err();
        assert_eq!(err.code, "database_busy");
        assert!(err.message.contains("running server"));
        drop(first);
        assert!(!DbLock::is_held(&db).unwrap());
        let _again = DbLock::acquire(&db).unwrap();
    }
}
