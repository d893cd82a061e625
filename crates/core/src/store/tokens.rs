//! Issued tokens, revocation, signing keys and stored database credentials.

use rusqlite::{Connection, OptionalExtension, params};

use super::audit::append;
use super::{Store, sql_err};
use crate::error::{Error, Result};
use crate::model::{
    AuditEntry, NewToken, PgCredsRecord, SigningAlg, SigningKeyRecord, TokenRecord,
};

/// The columns [`token_from_row`] reads.
pub(super) const TOKEN_COLUMNS: &str =
    "jti, account_id, issued_at, expires_at, revoked_at, family_id";

/// A [`TokenRecord`] from a row of [`TOKEN_COLUMNS`].
pub(super) fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        jti: r.get(0)?,
        account_id: r.get(1)?,
        issued_at: r.get(2)?,
        expires_at: r.get(3)?,
        revoked_at: r.get(4)?,
        family_id: r.get(5)?,
    })
}

pub(super) fn insert_token(c: &Connection, t: &NewToken) -> Result<()> {
    c.execute(
        "INSERT INTO tokens (jti, account_id, kind, issued_at, expires_at, family_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![t.jti, t.account_id, t.kind as i64, t.issued_at, t.expires_at, t.family_id],
    ).map_err(sql_err)?;
    Ok(())
}

/// Revokes every live token of an account; returns (jti, expires_at) of each.
pub(super) fn revoke_all(
    c: &Connection,
    account_id: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<(String, i64)>> {
    let mut stmt = c
        .prepare_cached(
            "UPDATE tokens SET revoked_at = ?3, revoke_reason = ?2
         WHERE account_id = ?1 AND revoked_at IS NULL AND expires_at >= ?3
         RETURNING jti, expires_at",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map(params![account_id, reason, now], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(sql_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
}

impl Store {
    /// Records an issued token.
    pub async fn insert_token(&self, token: NewToken, audit: AuditEntry) -> Result<()> {
        self.write(move |tx| {
            insert_token(tx, &token)?;
            append(tx, &audit)
        })
        .await
    }

    /// Revokes `old_jti` and records `new` in one transaction (renewal).
    /// Fails with UNAUTHENTICATED when the old token was revoked meanwhile.
    pub async fn replace_token(
        &self,
        old_jti: String,
        new: NewToken,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE tokens SET revoked_at = ?2, revoke_reason = 'renewed'
                 WHERE jti = ?1 AND revoked_at IS NULL",
                    params![old_jti, new.issued_at],
                )
                .map_err(sql_err)?;
            if n != 1 {
                return Err(Error::bad_token());
            }
            insert_token(tx, &new)?;
            append(tx, &audit)
        })
        .await
    }

    /// One recorded token.
    pub async fn token(&self, jti: String) -> Result<Option<TokenRecord>> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE jti = ?1"),
                [jti],
                token_from_row,
            )
            .optional()
            .map_err(sql_err)
        })
        .await
    }

    /// Revokes one token. Returns its expiry, or `None` when no such token
    /// exists. Revoking an already revoked token is not an error.
    pub async fn revoke_token(
        &self,
        jti: String,
        reason: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<Option<i64>> {
        self.write(move |tx| {
            let exp: Option<i64> = tx
                .query_row("SELECT expires_at FROM tokens WHERE jti = ?1", [&jti], |r| r.get(0))
                .optional().map_err(sql_err)?;
            if exp.is_none() {
                return Ok(None);
            }
            tx.execute(
                "UPDATE tokens SET revoked_at = ?2, revoke_reason = ?3 WHERE jti = ?1 AND revoked_at IS NULL",
                params![jti, now, reason],
            ).map_err(sql_err)?;
            append(tx, &audit)?;
            Ok(exp)
        })
        .await
    }

    /// Every revoked token that has not expired yet: (jti, expires_at).
    pub async fn live_revocations(&self, now: i64) -> Result<Vec<(String, i64)>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT jti, expires_at FROM tokens WHERE revoked_at IS NOT NULL AND expires_at >= ?1",
            ).map_err(sql_err)?;
            let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
        })
        .await
    }

    /// Deletes token rows that expired before `before`; returns how many.
    pub async fn prune_tokens(&self, before: i64) -> Result<usize> {
        self.write(move |tx| {
            tx.execute("DELETE FROM tokens WHERE expires_at < ?1", [before])
                .map_err(sql_err)
        })
        .await
    }

    /// All unretired signing keys, newest first: in the order they were
    /// stored (rowid), newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.read(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT kid, alg, public_key, private_key_sealed, created_at, active,
                            active_from, retire_after
                     FROM signing_keys WHERE retired_at IS NULL ORDER BY rowid DESC",
                )
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(1)?,
                        SigningKeyRecord {
                            kid: r.get(0)?,
                            alg: SigningAlg::EdDsa,
                            public_key: r.get(2)?,
                            private_key_sealed: r.get(3)?,
                            created_at: r.get(4)?,
                            active: r.get(5)?,
                            active_from: r.get(6)?,
                            retire_after: r.get(7)?,
                        },
                    ))
                })
                .map_err(sql_err)?;
            rows.map(|row| {
                let (alg, rec) = row.map_err(sql_err)?;
                Ok(SigningKeyRecord {
                    alg: SigningAlg::from_i64(alg)?,
                    ..rec
                })
            })
            .collect()
        })
        .await
    }

    /// Stores a new signing key; when it is active the previous active key
    /// of its algorithm is superseded and verifies until
    /// `retire_previous_after`.
    pub async fn insert_signing_key(
        &self,
        key: SigningKeyRecord,
        retire_previous_after: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            if key.active {
                tx.execute(
                    "UPDATE signing_keys SET active = 0, retire_after = ?1
                     WHERE active = 1 AND alg = ?2",
                    params![retire_previous_after, key.alg as i64],
                )
                .map_err(sql_err)?;
            }
            tx.execute(
                "INSERT INTO signing_keys
                     (kid, alg, public_key, private_key_sealed, created_at, active, active_from)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    key.kid,
                    key.alg as i64,
                    key.public_key,
                    key.private_key_sealed,
                    key.created_at,
                    key.active,
                    key.active_from
                ],
            )
            .map_err(sql_err)?;
            append(tx, &audit)
        })
        .await
    }

    /// Retires one signing key now, whatever its period (a compromised
    /// key), with `audit`. False when no unretired, inactive key has that
    /// kid: the active key is never retired here, it must be rotated out
    /// first.
    pub async fn revoke_signing_key(
        &self,
        kid: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE signing_keys SET retired_at = ?2, retire_after = ?2
                     WHERE kid = ?1 AND active = 0 AND retired_at IS NULL",
                    params![kid, now],
                )
                .map_err(sql_err)?;
            if n == 1 {
                append(tx, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }

    /// Retires superseded signing keys whose verification period is over;
    /// returns their kids.
    pub async fn retire_signing_keys(&self, now: i64) -> Result<Vec<String>> {
        self.write(move |tx| {
            let mut stmt = tx.prepare(
                "UPDATE signing_keys SET retired_at = ?1
                 WHERE active = 0 AND retired_at IS NULL AND retire_after IS NOT NULL AND retire_after < ?1
                 RETURNING kid",
            ).map_err(sql_err)?;
            let rows = stmt.query_map([now], |r| r.get(0)).map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<String>>>().map_err(sql_err)
        })
        .await
    }

    /// Stored credentials of an account.
    pub async fn pg_creds(&self, account_id: String) -> Result<Option<PgCredsRecord>> {
        self.read(move |c| {
            c.query_row(
                "SELECT host, port, database, username, password_sealed FROM pg_credentials WHERE account_id = ?1",
                [account_id],
                |r| {
                    Ok(PgCredsRecord {
                        host: r.get(0)?,
                        port: r.get(1)?,
                        database: r.get(2)?,
                        username: r.get(3)?,
                        password_sealed: r.get(4)?,
                    })
                },
            )
            .optional().map_err(sql_err)
        })
        .await
    }

    /// Stores (replaces) the credentials of an account.
    pub async fn set_pg_creds(
        &self,
        account_id: String,
        creds: PgCredsRecord,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO pg_credentials (account_id, host, port, database, username, password_sealed, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (account_id) DO UPDATE SET host = ?2, port = ?3, database = ?4,
                   username = ?5, password_sealed = ?6, updated_at = ?7",
                params![
                    account_id,
                    creds.host,
                    creds.port,
                    creds.database,
                    creds.username,
                    creds.password_sealed,
                    now
                ],
            ).map_err(sql_err)?;
            append(tx, &audit)
        })
        .await
    }
}
