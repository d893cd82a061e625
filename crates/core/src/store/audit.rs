//! The audit log: append inside the transaction of the change it records, and
//! list with filters.

use rusqlite::{Connection, params};

use super::{Store, sql_err};
use crate::error::Result;
use crate::model::{AuditEntry, AuditFilter, AuditRecord};

/// Appends `e` within an open transaction.
pub(super) fn append(c: &Connection, e: &AuditEntry) -> Result<()> {
    c.execute(
        "INSERT INTO audit_log (occurred_at, event_type, actor_id, target_id, peer, outcome, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            e.occurred_at,
            e.event_type,
            e.actor_id,
            e.target_id,
            e.peer,
            e.outcome.as_str(),
            e.details.to_string()
        ],
    ).map_err(sql_err)?;
    Ok(())
}

impl Store {
    /// Appends an audit event on its own.
    pub async fn append_audit(&self, entry: AuditEntry) -> Result<()> {
        self.write(move |tx| append(tx, &entry)).await
    }

    /// Lists events matching `filter`, newest first, at most `limit`.
    pub async fn list_audit(&self, filter: AuditFilter, limit: u32) -> Result<Vec<AuditRecord>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, occurred_at, event_type, actor_id, target_id, peer, outcome, details
                 FROM audit_log
                 WHERE (?1 IS NULL OR actor_id = ?1 OR target_id = ?1)
                   AND (?2 IS NULL OR event_type = ?2)
                   AND (?3 IS NULL OR occurred_at >= ?3)
                   AND (?4 IS NULL OR id < ?4)
                   AND (?6 IS NULL OR occurred_at < ?6)
                 ORDER BY id DESC
                 LIMIT ?5",
            ).map_err(sql_err)?;
            let rows = stmt
                .query_map(
                    params![
                        filter.account_id,
                        filter.event_type,
                        filter.since,
                        filter.before_id,
                        limit,
                        filter.until
                    ],
                    |r| {
                        Ok(AuditRecord {
                            id: r.get(0)?,
                            occurred_at: r.get(1)?,
                            event_type: r.get(2)?,
                            actor_id: r.get(3)?,
                            target_id: r.get(4)?,
                            peer: r.get(5)?,
                            outcome: r.get(6)?,
                            details: r.get(7)?,
                        })
                    },
                )
                .map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
        })
        .await
    }
}
