//! `audit tail|query`.

use std::process::ExitCode;

use serde_json::Value;

use super::cli::DbAuditCommand;
use super::usage;
use crate::output::Printer;
use crate::render;
use mcias_core::error::Result;
use mcias_core::idm::ReadOnlyDb;
use mcias_core::model::AuditFilter;

pub(super) async fn run(p: &Printer, db: &ReadOnlyDb, c: DbAuditCommand) -> Result<ExitCode> {
    let events = match c {
        DbAuditCommand::Tail { n } => {
            let mut events = db.audit(AuditFilter::default(), n).await?;
            events.reverse();
            events
        }
        DbAuditCommand::Query {
            account,
            filter,
            limit,
        } => {
            let account_id = match account {
                Some(a) => Some(match db.find_account(&a).await {
                    Ok(acc) => acc.id,
                    // Actors such as `mciasdb` are not accounts.
                    Err(_) => a,
                }),
                None => None,
            };
            let since = filter.since_unix().map_err(usage)?;
            let filter = AuditFilter {
                account_id,
                event_type: filter.event_type,
                since,
                before_id: None,
                until: None,
            };
            db.audit(filter, limit).await?
        }
    };
    let rows: Vec<Value> = events.iter().map(render::audit_record).collect();
    render::audit(p, &rows, false);
    Ok(ExitCode::SUCCESS)
}
