//! `schema verify|migrate`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

use crate::output::Printer;
use mcias_core::clock::{OsRandom, SystemClock};
use mcias_core::error::Result;
use mcias_core::idm::{self, KeySource, ReadOnlyDb};

/// `schema verify`: exit 1 when migrations are pending.
pub(super) fn status(p: &Printer, db: &ReadOnlyDb) -> Result<ExitCode> {
    let s = db.schema()?;
    p.record(
        &json!({ "applied": s.applied, "pending": s.pending }),
        &["applied", "pending"],
    );
    if !s.pending.is_empty() {
        eprintln!(
            "mciasdb: {} migration(s) pending; run `mciasdb schema migrate` with the server stopped",
            s.pending.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `schema migrate` (under the lock).
pub(super) async fn migrate(p: &Printer, db: &Path, source: &KeySource) -> Result<ExitCode> {
    let applied =
        idm::migrate_audited(db, source, Arc::new(SystemClock), Arc::new(OsRandom)).await?;
    p.ack(
        &if applied.is_empty() {
            "the schema is up to date; nothing to apply".to_owned()
        } else {
            format!("applied {}", applied.join(", "))
        },
        json!({ "applied": applied }),
    );
    Ok(ExitCode::SUCCESS)
}
