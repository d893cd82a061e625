//! Refresh tokens: families, rotation with reuse detection, and the HMAC
//! secrets they are stored under. The store sees only HMACs of token values.

use rusqlite::{Connection, OptionalExtension, params};

use super::audit::append;
use super::tokens::insert_token;
use super::{Store, sql_err};
use crate::error::Result;
use crate::model::{
    AuditEntry, NewRefresh, NewToken, RefreshKeyRecord, RefreshOutcome, RefreshRecord,
};

pub(super) fn insert(c: &Connection, r: &NewRefresh) -> Result<()> {
    c.execute(
        "INSERT INTO refresh_tokens (hash, key_id, family_id, account_id, token_version, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![r.hash, r.key_id, r.family_id, r.account_id, r.token_version, r.issued_at, r.expires_at],
    ).map_err(sql_err)?;
    Ok(())
}

fn get(c: &Connection, hash: &str) -> Result<Option<RefreshRecord>> {
    c
        .query_row(
            "SELECT hash, family_id, account_id, token_version, issued_at, expires_at, used_at, revoked_at
             FROM refresh_tokens WHERE hash = ?1",
            [hash],
            |r| {
                Ok(RefreshRecord {
                    hash: r.get(0)?,
                    family_id: r.get(1)?,
                    account_id: r.get(2)?,
                    token_version: r.get(3)?,
                    issued_at: r.get(4)?,
                    expires_at: r.get(5)?,
                    used_at: r.get(6)?,
                    revoked_at: r.get(7)?,
                })
            },
        )
        .optional().map_err(sql_err)
}

/// Revokes a family's refresh tokens and its access tokens.
pub(super) fn revoke_family(
    c: &Connection,
    family: &str,
    now: i64,
    reason: &str,
) -> Result<Vec<(String, i64)>> {
    c.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2, successor_sealed = NULL
         WHERE family_id = ?1 AND revoked_at IS NULL",
        params![family, now],
    )
    .map_err(sql_err)?;
    let mut stmt = c
        .prepare_cached(
            "UPDATE tokens SET revoked_at = ?2, revoke_reason = ?3
         WHERE family_id = ?1 AND revoked_at IS NULL AND expires_at >= ?2
         RETURNING jti, expires_at",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map(params![family, now, reason], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
}

impl Store {
    /// Every unretired refresh secret (start-up).
    pub async fn refresh_keys(&self) -> Result<Vec<RefreshKeyRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, secret_sealed, created_at, active FROM refresh_keys ORDER BY created_at",
            ).map_err(sql_err)?;
            let rows = stmt.query_map([], |r| {
                Ok(RefreshKeyRecord {
                    id: r.get(0)?,
                    secret_sealed: r.get(1)?,
                    created_at: r.get(2)?,
                    active: r.get(3)?,
                })
            }).map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
        })
        .await
    }

    /// Stores a new active refresh secret; older ones keep verifying.
    pub async fn insert_refresh_key(&self, key: RefreshKeyRecord, audit: AuditEntry) -> Result<()> {
        self.write(move |tx| {
            tx.execute("UPDATE refresh_keys SET active = 0 WHERE active = 1", []).map_err(sql_err)?;
            tx.execute(
                "INSERT INTO refresh_keys (id, secret_sealed, created_at, active) VALUES (?1, ?2, ?3, 1)",
                params![key.id, key.secret_sealed, key.created_at],
            ).map_err(sql_err)?;
            append(tx, &audit)
        })
        .await
    }

    /// A refresh token by the HMAC of its value.
    pub async fn refresh_token(&self, hash: String) -> Result<Option<RefreshRecord>> {
        self.read(move |c| get(c, &hash)).await
    }

    /// Uses up a refresh token in one write transaction. When it is unused
    /// (or replayed within `grace` seconds of its use), records `successor`
    /// and `access`. A second use outside the grace window revokes the
    /// family and appends `reuse_audit`.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_refresh(
        &self,
        hash: String,
        current_version: i64,
        now: i64,
        grace: i64,
        successor: NewRefresh,
        access: NewToken,
        audit: AuditEntry,
        reuse_audit: AuditEntry,
    ) -> Result<RefreshOutcome> {
        self.write(move |tx| {
            let Some(rec) = get(tx, &hash)? else {
                return Ok(RefreshOutcome::Invalid);
            };
            if rec.revoked_at.is_some() || rec.expires_at < now || rec.token_version != current_version {
                return Ok(RefreshOutcome::Invalid);
            }
            match rec.used_at {
                None => {
                    tx.execute(
                        "UPDATE refresh_tokens SET used_at = ?2, successor_hash = ?3, successor_sealed = ?4 WHERE hash = ?1",
                        params![hash, now, successor.hash, successor.sealed],
                    ).map_err(sql_err)?;
                    insert(tx, &successor)?;
                    insert_token(tx, &access)?;
                    append(tx, &audit)?;
                    Ok(RefreshOutcome::Rotated)
                }
                Some(used) => {
                    let row: (Option<String>, Option<Vec<u8>>) = tx.query_row(
                        "SELECT successor_hash, successor_sealed FROM refresh_tokens WHERE hash = ?1",
                        [&hash],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    ).map_err(sql_err)?;
                    if grace > 0
                        && now - used <= grace
                        && let (Some(next_hash), Some(sealed)) = row
                        && let Some(next) = get(tx, &next_hash)?
                        && next.used_at.is_none()
                        && next.revoked_at.is_none()
                    {
                        insert_token(tx, &access)?;
                        append(tx, &audit)?;
                        return Ok(RefreshOutcome::Replayed {
                            hash: next_hash,
                            sealed,
                            expires_at: next.expires_at,
                        });
                    }
                    let revoked = revoke_family(tx, &rec.family_id, now, "refresh_token_reuse")?;
                    append(tx, &reuse_audit)?;
                    Ok(RefreshOutcome::Reused(revoked))
                }
            }
        })
        .await
    }

    /// Revokes the family of a refresh token; returns the access tokens
    /// revoked with it, or `None` for an unknown token.
    pub async fn revoke_refresh_family(
        &self,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<Option<Vec<(String, i64)>>> {
        self.write(move |tx| {
            let Some(rec) = get(tx, &hash)? else {
                return Ok(None);
            };
            let revoked = revoke_family(tx, &rec.family_id, now, "revoked")?;
            append(tx, &audit)?;
            Ok(Some(revoked))
        })
        .await
    }

    /// Logout: revokes the access token `jti` and, when it was issued from a
    /// refresh-token family, the family (its refresh tokens and access
    /// tokens), with `audit`, in one transaction. Returns (jti, expiry) of
    /// every access token revoked, `jti` first; empty for an unknown token.
    pub async fn end_session(
        &self,
        jti: String,
        family: Option<String>,
        now: i64,
        audit: AuditEntry,
    ) -> Result<Vec<(String, i64)>> {
        self.write(move |tx| {
            let exp: Option<i64> = tx
                .query_row(
                    "SELECT expires_at FROM tokens WHERE jti = ?1",
                    [&jti],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?;
            let Some(exp) = exp else {
                return Ok(Vec::new());
            };
            tx.execute(
                "UPDATE tokens SET revoked_at = ?2, revoke_reason = 'logout'
                 WHERE jti = ?1 AND revoked_at IS NULL",
                params![jti, now],
            )
            .map_err(sql_err)?;
            let mut revoked = vec![(jti, exp)];
            if let Some(family) = family {
                revoked.extend(revoke_family(tx, &family, now, "logout")?);
            }
            append(tx, &audit)?;
            Ok(revoked)
        })
        .await
    }

    /// Deletes refresh tokens that expired before `before`.
    pub async fn prune_refresh_tokens(&self, before: i64) -> Result<usize> {
        self.write(move |tx| {
            tx.execute("DELETE FROM refresh_tokens WHERE expires_at < ?1", [before])
                .map_err(sql_err)
        })
        .await
    }
}
