//! Offline maintenance for `mciasdb`: read-only opening with the key check,
//! verification that every sealed value opens, restore from a backup, and
//! the operations only the offline tool performs (re-keying, setting a
//! password without the current one, revoking all of an account's tokens).
//! Changes are audited with the actor `mciasdb`.

use std::path::{Path, PathBuf};

use serde_json::json;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::credentials::check_new_password;
use super::{Caller, Idm, KeySource, checked_key, derive};
use crate::clock::SecureRandom;
use crate::crypto::master::{self, KdfParams};
use crate::crypto::seal::{self, Aad, MasterKey};
use crate::error::{Error, Result};
use crate::model::Outcome;
use crate::store::{self, NewKeyMaterial, Store};

/// Opens an existing database without changing it (not even its `-wal`
/// and `-shm` files: [`Store::open_read_only`]) and checks the master key.
/// Safe while a server runs.
pub fn open_readonly(
    path: &Path,
    source: &KeySource,
    rng: &dyn SecureRandom,
) -> Result<(Store, MasterKey)> {
    let store = Store::open_read_only(path)?;
    let key = checked_key(&store, source, rng)?.ok_or_else(|| {
        Error::precondition(
            "database_uninitialized",
            format!(
                "database {} has no master key check value (it was never initialized by mciassrv)",
                path.display()
            ),
        )
    })?;
    Ok((store, key))
}

/// What [`verify`] found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Integrity and foreign-key problems.
    pub integrity: Vec<String>,
    /// How many sealed values opened.
    pub sealed_ok: usize,
    /// Locations of sealed values that do not open.
    pub sealed_bad: Vec<String>,
    /// Migrations not applied.
    pub pending_migrations: Vec<&'static str>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.integrity.is_empty()
            && self.sealed_bad.is_empty()
            && self.pending_migrations.is_empty()
    }
}

/// Checks the database: `integrity_check`, foreign keys, pending migrations,
/// and that every sealed value opens under `key` at its own location.
pub fn verify(store: &Store, key: &MasterKey) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        integrity: store.integrity_problems()?,
        pending_migrations: store.pending_migrations()?,
        ..VerifyReport::default()
    };
    for v in store.sealed_values()? {
        match seal::open(key, Aad::new(v.table, v.column, &v.row), &v.sealed) {
            Ok(_) => report.sealed_ok += 1,
            Err(_) => report.sealed_bad.push(format!("{v:?}")),
        }
    }
    Ok(report)
}

/// Restores the database at `db` from the backup `from`: checks the
/// backup's integrity and that the master key opens it before anything is
/// replaced. The caller holds the database lock. Returns where the previous
/// database was kept, if there was one.
pub fn restore(
    db: &Path,
    from: &Path,
    source: &KeySource,
    rng: &dyn SecureRandom,
    now: i64,
) -> Result<Option<PathBuf>> {
    store::check_file_integrity(from)?;
    {
        // Check the key on a scratch copy so the backup file itself is never
        // opened for writing.
        let scratch = tempfile_beside(db)?;
        std::fs::copy(from, scratch.path())
            .map_err(|e| Error::internal(format!("copying the backup: {e}")))?;
        let backup = Store::open_existing(scratch.path())?;
        let key = checked_key(&backup, source, rng)?.ok_or_else(|| {
            Error::invalid(
                "backup_uninitialized",
                format!("{} holds no MCIAS master key check value", from.display()),
            )
        })?;
        verify_sealed_only(&backup, &key)?;
    }
    store::replace_database(db, from, now)
}

fn verify_sealed_only(store: &Store, key: &MasterKey) -> Result<()> {
    for v in store.sealed_values()? {
        seal::open(key, Aad::new(v.table, v.column, &v.row), &v.sealed)?;
    }
    Ok(())
}

struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for side in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(store::sibling(&self.0, side));
        }
    }
}

fn tempfile_beside(db: &Path) -> Result<Scratch> {
    let p = store::sibling(db, &format!(".restore-check-{}", std::process::id()));
    Ok(Scratch(p))
}

impl Idm {
    /// Re-seals every secret (TOTP secrets, signing keys, stored
    /// credentials, the check value) under the key from `new`, atomically.
    /// Returns how many values were re-sealed. The running process keeps the
    /// old key: exit after calling this.
    pub fn rekey(&self, new: &KeySource) -> Result<usize> {
        let (new_key, kdf) = match new {
            KeySource::Keyfile(p) => (master::read_keyfile(p)?, None),
            KeySource::Passphrase(_) => {
                let params = KdfParams::generate(self.rng.as_ref());
                (derive(new, &params)?, Some(params.encode().into_bytes()))
            }
        };
        if bool::from(new_key.as_bytes().ct_eq(self.key.as_bytes())) {
            return Err(Error::invalid(
                "same_master_key",
                "the new master key is the same as the current one",
            ));
        }
        let check = master::make_check(&new_key, self.rng.as_ref())?;
        let audit = self.audit(
            "master_key_rotate",
            &Caller::offline_tool(),
            None,
            Outcome::Success,
            json!({ "source": if kdf.is_some() { "passphrase" } else { "keyfile" } }),
        );
        let rng = self.rng.clone();
        self.sqlite.reseal_all(
            |v| {
                let aad = Aad::new(v.table, v.column, &v.row);
                let plain = seal::open(&self.key, aad, &v.sealed)?;
                seal::seal(&new_key, rng.as_ref(), aad, &plain)
            },
            NewKeyMaterial { check, kdf },
            audit,
        )
    }

    /// Sets an account's password without the current one (offline
    /// recovery).
    pub async fn set_password(
        &self,
        caller: &Caller,
        account_id: &str,
        password: Zeroizing<String>,
    ) -> Result<()> {
        check_new_password(&password)?;
        let hash = self.hasher.hash(password).await?;
        let audit = self.audit(
            "password_set",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({}),
        );
        self.store
            .set_password(account_id.to_owned(), hash, self.clock.now(), audit)
            .await
    }

    /// Revokes every live token of an account; returns how many.
    pub async fn revoke_all_tokens(
        &self,
        caller: &Caller,
        account_id: &str,
        reason: &str,
    ) -> Result<usize> {
        let audit = self.audit(
            "tokens_revoke_all",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({ "reason": reason }),
        );
        self.store
            .revoke_all_tokens(
                account_id.to_owned(),
                reason.to_owned(),
                self.clock.now(),
                audit,
            )
            .await
    }

    /// Deletes expired token rows and records it in the audit log.
    pub async fn prune_audited(&self, caller: &Caller) -> Result<usize> {
        let n = self.prune().await?;
        let audit = self.audit(
            "tokens_prune",
            caller,
            None,
            Outcome::Success,
            json!({ "deleted": n }),
        );
        self.store.append_audit(audit).await?;
        Ok(n)
    }
}
