//! The in-memory mirror of revoked token ids (jti → expiry), so the token hot
//! path never touches the database. The database stays the durable record.

use std::collections::HashMap;
use std::sync::RwLock;

/// Revoked, not yet expired token ids.
#[derive(Debug, Default)]
pub struct RevocationSet {
    inner: RwLock<HashMap<String, i64>>,
}

impl RevocationSet {
    /// Replaces the contents (start-up).
    pub fn load(&self, entries: Vec<(String, i64)>) {
        if let Ok(mut m) = self.inner.write() {
            m.extend(entries);
        }
    }

    /// Marks `jti` revoked until `expires_at`.
    pub fn insert(&self, jti: String, expires_at: i64) {
        if let Ok(mut m) = self.inner.write() {
            m.insert(jti, expires_at);
        }
    }

    /// Whether `jti` is revoked. A poisoned lock counts as revoked.
    pub fn contains(&self, jti: &str) -> bool {
        self.inner.read().map_or(true, |m| m.contains_key(jti))
    }

    /// Drops entries that expired before `cutoff`.
    pub fn prune(&self, cutoff: i64) {
        if let Ok(mut m) = self.inner.write() {
            m.retain(|_, exp| *exp >= cutoff);
        }
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.inner.read().map_or(0, |m| m.len())
    }

    /// Whether no entries are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
