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
