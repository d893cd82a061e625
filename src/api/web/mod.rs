//! The browser surface: sign-in (password, then the TOTP code), the OAuth
//! authorization endpoint and its consent page, sign-out (RP-initiated
//! logout), and account self-service. Server-rendered HTML from templates
//! compiled into the binary; no JavaScript. Pages call the same domain
//! operations as the API, as the session's account.
//!
//! Every page carries the security headers (`page::security_headers`);
//! every form a CSRF token (`page::Csrf`); the session cookie is
//! `__Host-`, Secure, HttpOnly, SameSite=Lax, and the store keeps only its
//! hash.

// Handlers return a ready page as their error: built once per request, on
// the way out, so its size does not matter.
#![allow(clippy::result_large_err)]

mod account;
mod admin;
mod authorize;
pub mod page;
mod signin;
mod signout;

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use mcias_core::error::{Error, ErrorKind};
use mcias_core::idm::{Caller, Idm};
use mcias_core::model::WebSession;

use super::gate::PeerAddr;
use super::metrics::Metrics;
use super::rest::InProcess;
use page::{Csrf, SESSION_COOKIE};

/// What the pages need: the domain, the issuer, the CSRF key, the gated
/// services (the console calls them as the session's account) and the
/// metrics.
#[derive(Debug)]
pub struct Web {
    idm: Arc<Idm>,
    issuer: String,
    csrf: Csrf,
    grpc: InProcess,
    metrics: Arc<Metrics>,
}

/// Paths the browser surface serves.
pub fn serves(path: &str) -> bool {
    matches!(
        path,
        "/oauth2/authorize"
            | "/oauth2/end_session"
            | "/login"
            | "/login/totp"
            | "/login/new-password"
            | "/consent"
            | "/logout"
            | "/static/mcias.css"
    ) || path == "/account"
        || path.starts_with("/account/")
        || path == "/admin"
        || path.starts_with("/admin/")
}

impl Web {
    /// The browser surface over `idm`.
    pub fn new(idm: Arc<Idm>, issuer: String, grpc: InProcess, metrics: Arc<Metrics>) -> Self {
        let csrf = Csrf::new(idm.page_key("csrf"));
        Self {
            idm,
            issuer,
            csrf,
            grpc,
            metrics,
        }
    }

    /// Serves a page request (`serves(path)` is true).
    pub async fn serve(&self, req: Request<Incoming>) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        match (method, path.as_str()) {
            (Method::GET, "/static/mcias.css") => stylesheet(),
            (Method::GET, "/oauth2/authorize") => self.authorize(req).await,
            (Method::GET, "/login") => self.signin_page(req).await,
            (Method::POST, "/login") => self.signin(req).await,
            (Method::POST, "/login/totp") => self.second_factor(req).await,
            (Method::POST, "/login/new-password") => self.new_password(req).await,
            (Method::POST, "/consent") => self.consent(req).await,
            (Method::GET, "/oauth2/end_session") => self.end_session_get(req).await,
            (Method::POST, "/oauth2/end_session") | (Method::POST, "/logout") => {
                self.end_session_post(req).await
            }
            (Method::GET, "/account") => self.account_page(req).await,
            (Method::POST, p) if p.starts_with("/account/") => self.account_action(req).await,
            (_, p) if p == "/admin" || p.starts_with("/admin/") => self.admin_console(req).await,
            _ => page::error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "This page does not accept that method.",
            ),
        }
    }

    /// The caller behind a request without a session: its address only.
    fn anonymous(&self, ext: &http::Extensions) -> Caller {
        Caller {
            principal: None,
            peer: peer(ext),
        }
    }

    /// The signed-in session behind the request's cookie.
    async fn session(&self, headers: &HeaderMap) -> Option<WebSession> {
        let cookie = page::cookie(headers, SESSION_COOKIE)?;
        match self.idm.web_session(cookie).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "loading a browser session");
                None
            }
        }
    }

    /// The CSRF token for the forms of a page, and the cookie to set with
    /// the page when the browser has none.
    fn csrf_token(&self, headers: &HeaderMap) -> (String, Option<String>) {
        self.csrf.token(headers, || {
            mcias_core::crypto::b64url(&random_bytes(&self.idm))
        })
    }

    /// Renders a page with a form: the CSRF cookie is set when new.
    fn form_page(
        &self,
        status: StatusCode,
        template: &str,
        new_csrf: Option<String>,
        ctx: minijinja::Value,
    ) -> Response<Body> {
        let mut res = page::render(status, template, ctx);
        if let Some(c) = new_csrf {
            page::set_cookie(&mut res, page::CSRF_COOKIE, &c);
        }
        res
    }

    /// Refuses a form without a matching CSRF token.
    fn check_csrf(&self, headers: &HeaderMap, form: &page::Params) -> Result<(), Response<Body>> {
        if self.csrf.check(headers, form.get("csrf")) {
            Ok(())
        } else {
            Err(page::error_page(
                StatusCode::FORBIDDEN,
                "The form expired or did not come from this site (CSRF check failed). Go back, reload the page and try again.",
            ))
        }
    }
}

fn random_bytes(idm: &Idm) -> [u8; 32] {
    idm.random_bytes()
}

fn peer(ext: &http::Extensions) -> Option<String> {
    ext.get::<PeerAddr>().map(|p| p.0.to_string())
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

fn stylesheet() -> Response<Body> {
    let mut res = Response::new(Body::from(page::STYLESHEET));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=3600"),
    );
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    res
}

/// A domain error as a page: the message for what the user can fix, a
/// generic one for the rest.
fn error_for(e: &Error) -> Response<Body> {
    let status = match e.kind {
        ErrorKind::InvalidArgument | ErrorKind::FailedPrecondition | ErrorKind::AlreadyExists => {
            StatusCode::BAD_REQUEST
        }
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable | ErrorKind::Internal => {
            tracing::error!(error = %e, "page request failed");
            return page::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The request cannot be served right now; try again.",
            );
        }
    };
    page::error_page(status, &e.message)
}

/// Where a page may send the browser after sign-in: our own authorization
/// endpoint or the account pages, nothing else (no open redirect).
fn safe_return_to(v: Option<&str>) -> String {
    match v {
        Some(r)
            if (r.starts_with("/oauth2/authorize?")
                || r == "/account"
                || r == "/admin"
                || (r.starts_with("/admin/") && !r.starts_with("/admin//")))
                && !r.contains(['\\', '\r', '\n']) =>
        {
            r.to_owned()
        }
        _ => "/account".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_the_site() {
        assert_eq!(
            safe_return_to(Some("/oauth2/authorize?a=b")),
            "/oauth2/authorize?a=b"
        );
        assert_eq!(safe_return_to(Some("https://evil.example/")), "/account");
        assert_eq!(safe_return_to(Some("//evil.example/")), "/account");
        assert_eq!(safe_return_to(Some("/oauth2/authorize\\x")), "/account");
        assert_eq!(safe_return_to(None), "/account");
    }
}
