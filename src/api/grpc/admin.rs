//! `mcias.v1.AdminService`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::caller;
use crate::api::pb::admin_service_server::AdminService;
use crate::api::pb::*;
use crate::api::status::{OrStatus, status};
use crate::api::timestamp;
use mcias_core::error::Error;
use mcias_core::idm::Idm;
use mcias_core::model::AuditFilter;

/// The AdminService implementation.
#[derive(Debug, Clone)]
pub struct AdminApi(pub Arc<Idm>);

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn health(
        &self,
        _req: Request<HealthRequest>,
    ) -> Result<Response<HealthResponse>, Status> {
        let status = if self.0.healthy().await {
            "SERVING"
        } else {
            "NOT_SERVING"
        };
        Ok(Response::new(HealthResponse {
            status: status.into(),
        }))
    }

    async fn rotate_signing_key(
        &self,
        req: Request<RotateSigningKeyRequest>,
    ) -> Result<Response<RotateSigningKeyResponse>, Status> {
        let keys = self
            .0
            .rotate_signing_keys(&caller(&req))
            .await
            .or_status()?;
        Ok(Response::new(RotateSigningKeyResponse {
            kid: keys.eddsa,
            rs256_kid: keys.rs256,
        }))
    }

    async fn revoke_signing_key(
        &self,
        req: Request<RevokeSigningKeyRequest>,
    ) -> Result<Response<RevokeSigningKeyResponse>, Status> {
        let c = caller(&req);
        let r = self
            .0
            .revoke_signing_key(&c, &req.into_inner().kid)
            .await
            .or_status()?;
        Ok(Response::new(RevokeSigningKeyResponse {
            kid: r.kid,
            new_active_kid: r.rotated_to.unwrap_or_default(),
        }))
    }

    async fn rotate_refresh_key(
        &self,
        req: Request<RotateRefreshKeyRequest>,
    ) -> Result<Response<RotateRefreshKeyResponse>, Status> {
        let key_id = self.0.rotate_refresh_key(&caller(&req)).await.or_status()?;
        Ok(Response::new(RotateRefreshKeyResponse { key_id }))
    }

    async fn list_signing_keys(
        &self,
        _req: Request<ListSigningKeysRequest>,
    ) -> Result<Response<ListSigningKeysResponse>, Status> {
        let keys = self.0.signing_key_list().await.or_status()?;
        Ok(Response::new(ListSigningKeysResponse {
            keys: keys
                .into_iter()
                .map(|(k, signing)| SigningKey {
                    kid: k.kid,
                    alg: k.alg.as_str().to_owned(),
                    created_at: Some(crate::api::timestamp(k.created_at)),
                    active_from: Some(crate::api::timestamp(k.active_from)),
                    signing,
                    retire_after: k.retire_after.map(crate::api::timestamp),
                })
                .collect(),
        }))
    }

    async fn list_audit_events(
        &self,
        req: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let r = req.into_inner();
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        if r.since.as_ref().is_some_and(|t| t.seconds < 0) {
            return Err(status(Error::invalid(
                "invalid_since",
                "since must not be before 1970",
            )));
        }
        let filter = AuditFilter {
            account_id: non_empty(r.account_id),
            event_type: non_empty(r.event_type),
            since: r.since.map(|t| t.seconds),
            until: r.until.map(|t| t.seconds),
            before_id: None,
        };
        let (events, next) = self
            .0
            .list_audit(filter, r.page_size, &r.page_token)
            .await
            .or_status()?;
        Ok(Response::new(ListAuditEventsResponse {
            events: events
                .into_iter()
                .map(|e| AuditEvent {
                    id: e.id,
                    event_type: e.event_type,
                    actor_id: e.actor_id.unwrap_or_default(),
                    target_id: e.target_id.unwrap_or_default(),
                    occurred_at: Some(timestamp(e.occurred_at)),
                    peer: e.peer.unwrap_or_default(),
                    outcome: e.outcome,
                    details: e.details,
                })
                .collect(),
            next_page_token: next,
        }))
    }
}
