//! Sign-out: `GET`/`POST /oauth2/end_session` (OpenID Connect RP-Initiated
//! Logout) and `POST /logout` from the account page. With a valid
//! `id_token_hint` the session ends at once; without, the user confirms.
//! Ending a session revokes every grant issued from it. The browser goes
//! back only to a registered `post_logout_redirect_uri`.

use axum::body::Body;
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use mcias_core::idm::oidc::EndSession;
use minijinja::context;

use super::page::{self, Params, SESSION_COOKIE};
use super::{Web, error_for};

impl Web {
    /// `GET /oauth2/end_session`
    pub(super) async fn end_session_get(&self, req: Request<Incoming>) -> Response<Body> {
        let q = match page::query(req.uri()) {
            Ok(q) => q,
            Err(res) => return res,
        };
        let plan = match self
            .idm
            .end_session_request(
                q.get("id_token_hint"),
                q.get("post_logout_redirect_uri"),
                q.get("client_id"),
            )
            .await
        {
            Ok(p) => p,
            Err(message) => return page::error_page(StatusCode::BAD_REQUEST, &message),
        };
        let session = self.session(req.headers()).await;
        let hinted = q.get("id_token_hint").is_some();
        match session {
            // A hint for this session's account: end it now.
            Some(s) if hinted && plan.subject.as_deref() == Some(s.account_id.as_str()) => {
                self.finish_sign_out(
                    req.extensions(),
                    req.headers(),
                    Some(s),
                    &plan,
                    q.get("state"),
                )
                .await
            }
            // No hint (or one for another account): ask first.
            Some(_) => {
                let client_name = match plan.client_id.as_deref() {
                    Some(id) => self.idm.get_client(id).await.ok().map(|c| c.name),
                    None => None,
                };
                let (csrf, new) = self.csrf_token(req.headers());
                self.form_page(
                    StatusCode::OK,
                    "confirm_logout.html",
                    new,
                    context! {
                        csrf,
                        client_name,
                        client_id => plan.client_id,
                        post_logout_redirect_uri => plan.redirect,
                        state => q.get("state"),
                    },
                )
            }
            // Nothing to end.
            None => {
                self.finish_sign_out(req.extensions(), req.headers(), None, &plan, q.get("state"))
                    .await
            }
        }
    }

    /// `POST /oauth2/end_session` (the confirmation) and `POST /logout`.
    pub(super) async fn end_session_post(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let form: Params = match page::read_form(&parts, body).await {
            Ok(f) => f,
            Err(res) => return res,
        };
        if let Err(res) = self.check_csrf(&parts.headers, &form) {
            return res;
        }
        let plan = match self
            .idm
            .end_session_request(
                None,
                form.get("post_logout_redirect_uri"),
                form.get("client_id"),
            )
            .await
        {
            Ok(p) => p,
            Err(message) => return page::error_page(StatusCode::BAD_REQUEST, &message),
        };
        let session = self.session(&parts.headers).await;
        self.finish_sign_out(
            &parts.extensions,
            &parts.headers,
            session,
            &plan,
            form.get("state"),
        )
        .await
    }

    async fn finish_sign_out(
        &self,
        ext: &http::Extensions,
        _headers: &HeaderMap,
        session: Option<mcias_core::model::WebSession>,
        plan: &EndSession,
        state: Option<&str>,
    ) -> Response<Body> {
        let ended = session.is_some();
        if let Some(s) = session {
            let caller = self.anonymous(ext);
            if let Err(e) = self.idm.web_sign_out(&caller, &s).await {
                return error_for(&e);
            }
        }
        let mut res = match &plan.redirect {
            Some(uri) => {
                let params: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
                page::redirect(&page::with_query(uri, &params))
            }
            None => page::render(
                StatusCode::OK,
                "signed_out.html",
                context! { ended_tokens => ended },
            ),
        };
        page::clear_cookie(&mut res, SESSION_COOKIE);
        res
    }
}
