//! The SQLite store passes the store conformance suite: every area against
//! a fresh, migrated database in a temporary directory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mcias_core::store::{Backend, Store, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        let path = dir
            .path()
            .join(format!("area-{}.db", n.fetch_add(1, Ordering::Relaxed)));
        async move {
            let store = Store::open(&path).unwrap();
            store.migrate(0).unwrap();
            Arc::new(store) as Arc<dyn Backend>
        }
    })
    .await;
    assert_eq!(n.load(Ordering::Relaxed), conformance::areas().len());
}

/// The database and SQLite's -wal and -shm files, and a backup, are readable
/// by the owner only, whatever the umask.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcias.db");
    let store = Store::open(&path).unwrap();
    store.migrate(0).unwrap();
    store.ping().await.unwrap();
    let backup = dir.path().join("backup.db");
    store.backup_to(&backup, |_, _| {}).unwrap();
    let mode = |suffix: &str| {
        let p = mcias_core::store::sibling(&path, suffix);
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777
    };
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(suffix), 0o600, "mcias.db{suffix}");
    }
    let backup_mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(backup_mode, 0o600, "the backup");
}
