//! `audit list [--follow]`.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use super::cli::AuditCommand;
use super::{Ctx, Fail, R};
use crate::render;
use mcias_client::AuditFilter;

pub(super) async fn run(cx: &Ctx, c: AuditCommand) -> R<()> {
    let AuditCommand::List {
        account,
        filter,
        limit,
        follow,
        interval,
    } = c;
    let since = filter.since_unix().map_err(Fail::Usage)?;
    let client = cx.authed().await?;
    let request = |page_size: i32| AuditFilter {
        account_id: account.clone().unwrap_or_default(),
        event_type: filter.event_type.clone().unwrap_or_default(),
        since: since.map(|s| prost_types::Timestamp {
            seconds: s,
            nanos: 0,
        }),
        page_size,
    };
    let events = client
        .list_audit_events_page(&request(limit), "")
        .await?
        .events;
    if !follow {
        let rows: Vec<Value> = events.iter().map(render::audit_pb).collect();
        render::audit(&cx.p, &rows, false);
        return Ok(());
    }
    let mut last = events.iter().map(|e| e.id).max().unwrap_or(0);
    let rows: Vec<Value> = events.iter().rev().map(render::audit_pb).collect();
    render::audit(&cx.p, &rows, false);
    let _ = std::io::stdout().flush();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(interval)) => {}
        }
        let events = client
            .list_audit_events_page(&request(500), "")
            .await?
            .events;
        let fresh: Vec<Value> = events
            .iter()
            .rev()
            .filter(|e| e.id > last)
            .map(render::audit_pb)
            .collect();
        last = events.iter().map(|e| e.id).max().unwrap_or(last).max(last);
        render::audit(&cx.p, &fresh, true);
        let _ = std::io::stdout().flush();
    }
}
