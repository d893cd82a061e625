//! Reading the audit log (writing it is part of every change).

use super::Idm;
use super::accounts::{decode_page_token, encode_page_token, page_size};
use crate::error::Error;
use crate::error::Result;
use crate::model::AuditFilter;
use crate::model::AuditRecord;

impl Idm {
    /// A page of audit events, newest first.
    pub async fn list_audit(
        &self,
        mut filter: AuditFilter,
        page_size_req: i32,
        page_token: &str,
    ) -> Result<(Vec<AuditRecord>, String)> {
        let size = page_size(page_size_req)?;
        filter.before_id = match decode_page_token("e", page_token)? {
            Some(v) => Some(v.parse().map_err(|_| {
                Error::invalid(
                    "invalid_page_token",
                    "page_token is not one this listing returned",
                )
            })?),
            None => None,
        };
        if filter.event_type.as_deref().is_some_and(|t| t.len() > 64) {
            return Err(Error::invalid(
                "invalid_event_type",
                "event_type is too long",
            ));
        }
        let mut events = self.store.list_audit(filter, size + 1).await?;
        let next = if events.len() > size as usize {
            events.truncate(size as usize);
            events
                .last()
                .map(|e| encode_page_token("e", &e.id.to_string()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((events, next))
    }
}
