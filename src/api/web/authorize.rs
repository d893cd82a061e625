//! `GET /oauth2/authorize` and `POST /consent`: the authorization endpoint
//! (RFC 6749 section 4.1.1, OpenID Connect Core 3.1.2). Errors found before
//! the redirect URI is known to be the client's are a page; after, they go
//! back to the client with `state` and `iss` (RFC 9207).

use axum::body::Body;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use mcias_core::idm::oidc::{AuthorizeError, AuthorizeParams, AuthorizeRequest, Next};
use mcias_core::model::WebSession;
use minijinja::context;
use serde::Serialize;

use super::page::{self, Params};
use super::{Web, error_for};

/// What the consent page says a scope allows.
fn scope_text(scope: &str) -> &'static str {
    match scope {
        "openid" => "know who you are (your account id)",
        "profile" => "see your name and username",
        "email" => "see your email address",
        "roles" => "see your roles",
        "offline_access" => "stay signed in while you are away",
        _ => "use this permission",
    }
}

#[derive(Serialize)]
struct ScopeLine<'a> {
    name: &'a str,
    text: &'static str,
}

fn params_of(p: &Params) -> AuthorizeParams {
    let s = |n: &str| p.get(n).map(str::to_owned);
    AuthorizeParams {
        response_type: s("response_type"),
        response_mode: s("response_mode"),
        client_id: s("client_id"),
        redirect_uri: s("redirect_uri"),
        scope: s("scope"),
        state: s("state"),
        nonce: s("nonce"),
        code_challenge: s("code_challenge"),
        code_challenge_method: s("code_challenge_method"),
        prompt: s("prompt"),
        max_age: s("max_age"),
        login_hint: s("login_hint"),
        request_object: p.has("request") || p.has("request_uri"),
    }
}

impl Web {
    fn authorize_error(&self, e: AuthorizeError) -> Response<Body> {
        match e {
            AuthorizeError::Page(message) => page::error_page(StatusCode::BAD_REQUEST, &message),
            AuthorizeError::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut params = vec![
                    ("error", error),
                    ("error_description", description.as_str()),
                ];
                if let Some(s) = state.as_deref() {
                    params.push(("state", s));
                }
                params.push(("iss", self.issuer.as_str()));
                page::redirect(&page::with_query(&redirect_uri, &params))
            }
        }
    }

    /// Sends the browser back to the client with a new code.
    async fn send_code(
        &self,
        ext: &http::Extensions,
        req: &AuthorizeRequest,
        session: &WebSession,
    ) -> Response<Body> {
        let caller = self.anonymous(ext);
        match self.idm.issue_code(&caller, req, session).await {
            Ok(code) => {
                let mut params = vec![("code", code.as_str())];
                if let Some(s) = req.state.as_deref() {
                    params.push(("state", s));
                }
                params.push(("iss", self.issuer.as_str()));
                page::redirect(&page::with_query(&req.redirect_uri, &params))
            }
            Err(e) => {
                tracing::error!(error = %e, "issuing an authorization code");
                self.authorize_error(req.error("server_error", "the code could not be issued"))
            }
        }
    }

    /// `GET /oauth2/authorize`
    pub(super) async fn authorize(&self, req: Request<Incoming>) -> Response<Body> {
        let q = match page::query(req.uri()) {
            Ok(q) => q,
            Err(res) => return res,
        };
        let areq = match self.idm.authorization_request(&params_of(&q)).await {
            Ok(r) => r,
            Err(e) => return self.authorize_error(e),
        };
        let session = self.session(req.headers()).await;
        match self.idm.authorize_next(&areq, session.as_ref()).await {
            Err(e) => self.authorize_error(e),
            Ok(Next::SignIn) => {
                // Back here after signing in, without the prompt that sent
                // the browser to sign in (or it would loop).
                let back = format!("/oauth2/authorize?{}", q.encode_without(&["prompt"]));
                let mut params = vec![("return_to", back.as_str())];
                if let Some(h) = areq.login_hint.as_deref() {
                    params.push(("login_hint", h));
                }
                page::redirect(&page::with_query("/login", &params))
            }
            Ok(Next::Consent) => {
                let (csrf, new) = self.csrf_token(req.headers());
                let scopes: Vec<ScopeLine<'_>> = areq
                    .scopes
                    .iter()
                    .map(|s| ScopeLine {
                        name: s,
                        text: scope_text(s),
                    })
                    .collect();
                self.form_page(
                    StatusCode::OK,
                    "consent.html",
                    new,
                    context! {
                        csrf,
                        client_name => areq.client.name,
                        scopes,
                        request => q.encode_without(&["prompt"]),
                    },
                )
            }
            Ok(Next::Issue) => match session {
                Some(s) => self.send_code(req.extensions(), &areq, &s).await,
                None => self.authorize_error(areq.error("login_required", "not signed in")),
            },
        }
    }

    /// `POST /consent`: the decision on the consent page. The authorization
    /// request comes back in the form and is validated again.
    pub(super) async fn consent(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let form = match page::read_form(&parts, body).await {
            Ok(f) => f,
            Err(res) => return res,
        };
        if let Err(res) = self.check_csrf(&parts.headers, &form) {
            return res;
        }
        let inner = match Params::parse(form.get("request").unwrap_or_default().as_bytes()) {
            Ok(p) => p,
            Err(e) => return page::error_page(StatusCode::BAD_REQUEST, &e),
        };
        let areq = match self.idm.authorization_request(&params_of(&inner)).await {
            Ok(r) => r,
            Err(e) => return self.authorize_error(e),
        };
        let Some(session) = self.session(&parts.headers).await else {
            let back = format!("/oauth2/authorize?{}", inner.encode_without(&["prompt"]));
            return page::redirect(&page::with_query("/login", &[("return_to", &back)]));
        };
        let allow = match form.get("decision") {
            Some("allow") => true,
            Some("deny") => false,
            _ => {
                return page::error_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny.");
            }
        };
        let remember = form.get("remember") == Some("on");
        let caller = self.anonymous(&parts.extensions);
        if let Err(e) = self
            .idm
            .record_consent(&caller, &session, &areq, allow, remember)
            .await
        {
            return error_for(&e);
        }
        if allow {
            self.send_code(&parts.extensions, &areq, &session).await
        } else {
            self.authorize_error(areq.error("access_denied", "the user denied the request"))
        }
    }
}
