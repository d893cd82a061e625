//! Console audit log: filter by account, event type and time range, page
//! back through older events, and a live view that reloads itself.

use axum::body::Body;
use http::{HeaderMap, Response, StatusCode};
use minijinja::{Value, context};

use super::{Admin, status_page, ts};
use crate::api::pb;
use crate::api::pb::admin_service_client::AdminServiceClient;
use crate::api::web::Web;
use crate::api::web::page::{self, Params};

/// An RFC 3339 time from the filter form, as a timestamp.
fn time_param(q: &Params, name: &str) -> Result<Option<prost_types::Timestamp>, String> {
    match q.get(name) {
        None => Ok(None),
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map(|d| Some(crate::api::timestamp(d.unix_timestamp())))
            .map_err(|_| format!("{name}: not an RFC 3339 time such as 2026-11-29T10:00:00Z")),
    }
}

impl Web {
    /// `GET /admin/audit?account=&type=&since=&until=&page=&live=1`
    pub(super) async fn audit_page(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        q: &Params,
    ) -> Response<Body> {
        let (since, until) = match (time_param(q, "since"), time_param(q, "until")) {
            (Ok(s), Ok(u)) => (s, u),
            (Err(e), _) | (_, Err(e)) => return page::error_page(StatusCode::BAD_REQUEST, &e),
        };
        let res = AdminServiceClient::new(self.grpc.clone())
            .list_audit_events(admin.req(pb::ListAuditEventsRequest {
                account_id: q.get("account").unwrap_or_default().to_owned(),
                event_type: q.get("type").unwrap_or_default().to_owned(),
                since,
                until,
                page_size: 100,
                page_token: q.get("page").unwrap_or_default().to_owned(),
            }))
            .await;
        let list = match res {
            Ok(r) => r.into_inner(),
            Err(s) => return status_page(&s),
        };
        let events: Vec<Value> = list
            .events
            .iter()
            .map(|e| {
                context! {
                    at => ts(&e.occurred_at),
                    event_type => e.event_type,
                    outcome => e.outcome,
                    actor => e.actor_id,
                    target => e.target_id,
                    peer => e.peer,
                    details => e.details,
                }
            })
            .collect();
        let f = context! {
            account => q.get("account").unwrap_or_default(),
            type => q.get("type").unwrap_or_default(),
            since => q.get("since").unwrap_or_default(),
            until => q.get("until").unwrap_or_default(),
        };
        self.admin_page(
            headers,
            admin,
            StatusCode::OK,
            "admin_audit.html",
            context! {
                nav => "audit",
                events,
                f,
                live => q.get("live") == Some("1"),
                query => q.encode_without(&["page", "live"]),
                next => (!list.next_page_token.is_empty()).then_some(list.next_page_token),
            },
        )
    }
}
