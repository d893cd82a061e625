//! Console signing keys: every published key (EdDSA and RS256) with its kid,
//! when it signs from and until when it verifies; rotation (step-up).

use axum::body::Body;
use http::{HeaderMap, Response, StatusCode};
use minijinja::{Value, context};

use super::{Admin, status_page, ts};
use crate::api::pb;
use crate::api::pb::admin_service_client::AdminServiceClient;
use crate::api::web::Web;

impl Web {
    /// `GET /admin/keys`
    pub(super) async fn keys_page(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        notice: Option<&str>,
    ) -> Response<Body> {
        let list = match AdminServiceClient::new(self.grpc.clone())
            .list_signing_keys(admin.req(pb::ListSigningKeysRequest {}))
            .await
        {
            Ok(r) => r.into_inner(),
            Err(s) => return status_page(&s),
        };
        let keys: Vec<Value> = list
            .keys
            .iter()
            .map(|k| {
                context! {
                    kid => k.kid,
                    alg => k.alg,
                    created => ts(&k.created_at),
                    active_from => ts(&k.active_from),
                    signing => k.signing,
                    retire_after => ts(&k.retire_after),
                }
            })
            .collect();
        self.admin_page(
            headers,
            admin,
            StatusCode::OK,
            "admin_keys.html",
            context! { nav => "keys", keys, notice },
        )
    }

    /// `POST /admin/keys/rotate` (step-up).
    pub(super) async fn rotate_keys(&self, headers: &HeaderMap, admin: &Admin) -> Response<Body> {
        if let Err(res) = self.step_up(admin, "/admin/keys") {
            return res;
        }
        match AdminServiceClient::new(self.grpc.clone())
            .rotate_signing_key(admin.req(pb::RotateSigningKeyRequest {}))
            .await
        {
            Ok(_) => {
                self.keys_page(
                    headers,
                    admin,
                    Some("New keys are published; they sign once their lead time has passed."),
                )
                .await
            }
            Err(s) => status_page(&s),
        }
    }
}
