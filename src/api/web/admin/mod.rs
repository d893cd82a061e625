//! `/admin`: the console for accounts holding the `admin` role. Every page
//! and action calls the gated services in-process as the session's account
//! (`gate::PageSession`): the same permission check from the proto, the
//! same audit with the admin as actor, the same log line as gRPC and REST.
//! Destructive actions (delete, role change, key and secret rotation) need a
//! sign-in within the last ten minutes (step-up).
//!
//! `accounts.rs` (search, create, view, actions), `applications.rs` (OAuth
//! clients), `audit.rs` (filters, paging, live view), `keys.rs` (signing
//! keys, rotation); the overview is here.

mod accounts;
mod applications;
mod audit;
mod keys;

use axum::body::Body;
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use mcias_core::idm::Principal;
use mcias_core::model::WebSession;
use minijinja::{Value, context};
use tonic::Status;

use super::page::{self, Params};
use super::{Web, error_for};
use crate::api::gate::{PageSession, PeerAddr};
use crate::api::pb;

/// How recent a sign-in must be for a destructive action.
const STEP_UP_SECS: i64 = 600;

/// A signed-in admin on a console request.
pub(super) struct Admin {
    session: WebSession,
    principal: Principal,
    username: String,
    peer: Option<std::net::SocketAddr>,
}

impl Admin {
    /// A request to a gated service as this admin.
    fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.extensions_mut()
            .insert(PageSession(self.principal.clone()));
        if let Some(p) = self.peer {
            r.extensions_mut().insert(PeerAddr(p));
        }
        r
    }
}

/// A gRPC status as a page message.
fn status_page(s: &Status) -> Response<Body> {
    page::error_page(crate::api::status::http_status(s.code()), s.message())
}

/// Unix seconds as RFC 3339 (UTC).
pub(super) fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn ts(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| when(t.seconds)).unwrap_or_default()
}

impl Web {
    /// The admin behind a console request: a signed-in session whose account
    /// holds the admin role; else the sign-in page or 403.
    async fn admin(
        &self,
        headers: &HeaderMap,
        ext: &http::Extensions,
        path_and_query: &str,
    ) -> Result<Admin, Response<Body>> {
        let Some(session) = self.session(headers).await else {
            return Err(page::redirect(&page::with_query(
                "/login",
                &[("return_to", path_and_query)],
            )));
        };
        let caller = self
            .idm
            .session_caller(&session, super::peer(ext))
            .await
            .map_err(|e| error_for(&e))?;
        let Some(principal) = caller.principal.filter(Principal::is_admin) else {
            return Err(page::error_page(
                StatusCode::FORBIDDEN,
                "The console is for accounts with the admin role.",
            ));
        };
        let username = self
            .idm
            .get_account(&principal.account_id)
            .await
            .map(|a| a.username)
            .map_err(|e| error_for(&e))?;
        Ok(Admin {
            session,
            principal,
            username,
            peer: ext.get::<PeerAddr>().map(|p| p.0),
        })
    }

    /// Whether the admin signed in recently enough for a destructive
    /// action; else the page that asks to sign in again.
    fn step_up(&self, admin: &Admin, back_to: &str) -> Result<(), Response<Body>> {
        if self.idm.now().saturating_sub(admin.session.auth_time) <= STEP_UP_SECS {
            return Ok(());
        }
        Err(page::redirect(&page::with_query(
            "/login",
            &[("return_to", back_to), ("reauth", "1")],
        )))
    }

    /// Renders a console page with its CSRF token.
    fn admin_page(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        status: StatusCode,
        template: &str,
        ctx: Value,
    ) -> Response<Body> {
        let (csrf, new) = self.csrf_token(headers);
        let ctx = context! {
            csrf,
            signed_in_as => admin.username.clone(),
            ..ctx
        };
        self.form_page(status, template, new, ctx)
    }

    /// Serves every `/admin` request.
    pub(super) async fn admin_console(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/admin".to_owned());
        let admin = match self.admin(&parts.headers, &parts.extensions, &pq).await {
            Ok(a) => a,
            Err(res) => return res,
        };
        let query = match page::query(&parts.uri) {
            Ok(q) => q,
            Err(res) => return res,
        };
        let path = parts.uri.path().trim_end_matches('/').to_owned();
        let segments: Vec<&str> = path.split('/').skip(2).collect();
        if parts.method == http::Method::GET {
            return match segments.as_slice() {
                [] | [""] => self.overview(&parts.headers, &admin).await,
                ["accounts"] => {
                    self.accounts_page(&parts.headers, &admin, &query, None)
                        .await
                }
                ["accounts", id] => {
                    self.admin_account_page(&parts.headers, &admin, id, None, None)
                        .await
                }
                ["applications"] => {
                    self.applications_page(&parts.headers, &admin, &query, None)
                        .await
                }
                ["applications", id] => {
                    self.application_page(&parts.headers, &admin, id, None, None)
                        .await
                }
                ["audit"] => self.audit_page(&parts.headers, &admin, &query).await,
                ["keys"] => self.keys_page(&parts.headers, &admin, None).await,
                _ => page::error_page(StatusCode::NOT_FOUND, "There is no such page."),
            };
        }
        if parts.method != http::Method::POST {
            return page::error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "This page does not accept that method.",
            );
        }
        let form: Params = match page::read_form(&parts, body).await {
            Ok(f) => f,
            Err(res) => return res,
        };
        if let Err(res) = self.check_csrf(&parts.headers, &form) {
            return res;
        }
        let h = &parts.headers;
        match segments.as_slice() {
            ["accounts"] => self.create_account(h, &admin, &form).await,
            ["accounts", id, action] => {
                self.admin_account_action(h, &admin, id, action, &form)
                    .await
            }
            ["applications"] => self.create_application(h, &admin, &form).await,
            ["applications", id] => self.update_application(h, &admin, id, &form).await,
            ["applications", id, action] => self.application_action(h, &admin, id, action).await,
            ["keys", "rotate"] => self.rotate_keys(h, &admin).await,
            _ => page::error_page(StatusCode::NOT_FOUND, "There is no such page."),
        }
    }

    /// `GET /admin`: health, version, counts, the last hour's sign-ins.
    async fn overview(&self, headers: &HeaderMap, admin: &Admin) -> Response<Body> {
        let health = match pb::admin_service_client::AdminServiceClient::new(self.grpc.clone())
            .health(admin.req(pb::HealthRequest {}))
            .await
        {
            Ok(r) => r.into_inner().status,
            Err(s) => format!("unavailable: {}", s.message()),
        };
        let caller = mcias_core::idm::Caller {
            principal: Some(admin.principal.clone()),
            peer: admin.peer.map(|p| p.to_string()),
        };
        let counts = match self.idm.counts(&caller).await {
            Ok(c) => c,
            Err(e) => return error_for(&e),
        };
        let accounts: Vec<Value> = counts
            .accounts
            .iter()
            .map(|(s, n)| context! { status => s.as_str(), count => n })
            .collect();
        let history = self.metrics.last_hour();
        let totals = history
            .iter()
            .fold((0, 0, 0), |t, m| (t.0 + m.1, t.1 + m.2, t.2 + m.3));
        let minutes: Vec<Value> = history
            .iter()
            .rev()
            .map(|(at, ok, failed, refused)| context! { at => when(*at), ok, failed, refused })
            .collect();
        self.admin_page(
            headers,
            admin,
            StatusCode::OK,
            "admin_overview.html",
            context! {
                nav => "overview",
                health,
                version => env!("CARGO_PKG_VERSION"),
                accounts,
                clients => counts.clients,
                sessions => counts.sessions,
                totals => context! { ok => totals.0, failed => totals.1, refused => totals.2 },
                minutes,
            },
        )
    }
}
