//! `/login`: username and password, then — for an account with TOTP — the
//! authentication code. Failures say only "invalid username or password"
//! (the API's one generic answer); the code step may say the code was
//! wrong, because the password was right.

use axum::body::Body;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use mcias_core::error::ErrorKind;
use mcias_core::idm::oidc::{NewSession, SignIn};
use minijinja::context;
use zeroize::Zeroizing;

use super::page::{self, SESSION_COOKIE};
use super::{Web, error_for, safe_return_to, user_agent};

impl Web {
    /// `GET /login`
    pub(super) async fn signin_page(&self, req: Request<Incoming>) -> Response<Body> {
        let q = match page::query(req.uri()) {
            Ok(q) => q,
            Err(res) => return res,
        };
        let return_to = safe_return_to(q.get("return_to"));
        let client_name = self.client_name_for(&return_to).await;
        let username = q.get("login_hint").unwrap_or_default().to_owned();
        let reauth = q.get("reauth") == Some("1");
        let (csrf, new) = self.csrf_token(req.headers());
        self.form_page(
            StatusCode::OK,
            "signin.html",
            new,
            context! { csrf, return_to, client_name, username, reauth },
        )
    }

    /// The name of the application a sign-in continues to, for the page.
    async fn client_name_for(&self, return_to: &str) -> Option<String> {
        let query = return_to.strip_prefix("/oauth2/authorize?")?;
        let params = page::Params::parse(query.as_bytes()).ok()?;
        let id = params.get("client_id")?;
        self.idm.get_client(id).await.ok().map(|c| c.name)
    }

    /// `POST /login`
    pub(super) async fn signin(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let form = match page::read_form(&parts, body).await {
            Ok(f) => f,
            Err(res) => return res,
        };
        if let Err(res) = self.check_csrf(&parts.headers, &form) {
            return res;
        }
        let return_to = safe_return_to(form.get("return_to"));
        let username = form.get("username").unwrap_or_default().trim().to_owned();
        let password = Zeroizing::new(form.get("password").unwrap_or_default().to_owned());
        let caller = self.anonymous(&parts.extensions);
        let again = |status: StatusCode, error: &str| {
            let (csrf, new) = self.csrf_token(&parts.headers);
            self.form_page(
                status,
                "signin.html",
                new,
                context! { csrf, return_to => return_to.clone(), username => username.clone(), error },
            )
        };
        if username.is_empty() || password.is_empty() {
            return again(
                StatusCode::BAD_REQUEST,
                "Enter your username and your password.",
            );
        }
        match self
            .idm
            .web_sign_in(&caller, &username, password, user_agent(&parts.headers))
            .await
        {
            Ok(step) => {
                self.metrics.page_login(matches!(step, SignIn::Done(_)));
                self.next_step(&parts.headers, step, &return_to)
            }
            Err(e) if e.kind == ErrorKind::Unauthenticated => {
                self.metrics.page_login(false);
                again(StatusCode::UNAUTHORIZED, "Invalid username or password.")
            }
            Err(e) if e.kind == ErrorKind::ResourceExhausted => again(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts right now; wait a moment and try again.",
            ),
            Err(e)
                if e.kind == ErrorKind::FailedPrecondition
                    || e.kind == ErrorKind::InvalidArgument =>
            {
                again(StatusCode::BAD_REQUEST, &e.message)
            }
            Err(e) => error_for(&e),
        }
    }

    /// `POST /login/totp`
    pub(super) async fn second_factor(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let form = match page::read_form(&parts, body).await {
            Ok(f) => f,
            Err(res) => return res,
        };
        if let Err(res) = self.check_csrf(&parts.headers, &form) {
            return res;
        }
        let return_to = safe_return_to(form.get("return_to"));
        let code = form.get("code").unwrap_or_default().trim().to_owned();
        let Some(cookie) = page::cookie(&parts.headers, SESSION_COOKIE) else {
            return page::redirect(&page::with_query("/login", &[("return_to", &return_to)]));
        };
        let caller = self.anonymous(&parts.extensions);
        match self
            .idm
            .web_second_factor(&caller, cookie, &code, user_agent(&parts.headers))
            .await
        {
            Ok(step) => self.next_step(&parts.headers, step, &return_to),
            Err(e) if e.code == "sign_in_expired" => {
                let (csrf, new) = self.csrf_token(&parts.headers);
                let mut res = self.form_page(
                    StatusCode::UNAUTHORIZED,
                    "signin.html",
                    new,
                    context! { csrf, return_to, error => e.message },
                );
                page::clear_cookie(&mut res, SESSION_COOKIE);
                res
            }
            Err(e)
                if e.kind == ErrorKind::Unauthenticated || e.kind == ErrorKind::InvalidArgument =>
            {
                let (csrf, new) = self.csrf_token(&parts.headers);
                self.form_page(
                    StatusCode::UNAUTHORIZED,
                    "totp.html",
                    new,
                    context! { csrf, return_to, error => "Invalid authentication code." },
                )
            }
            Err(e) => error_for(&e),
        }
    }
}

impl Web {
    /// The page after a sign-in step: signed in, the code, or a new password.
    fn next_step(
        &self,
        headers: &http::HeaderMap,
        step: SignIn,
        return_to: &str,
    ) -> Response<Body> {
        let (template, pending) = match step {
            SignIn::Done(new) => return signed_in(new, return_to),
            SignIn::SecondFactor(p) => ("totp.html", p),
            SignIn::NewPassword(p) => ("new_password.html", p),
        };
        let (csrf, new) = self.csrf_token(headers);
        let mut res = self.form_page(StatusCode::OK, template, new, context! { csrf, return_to });
        page::set_cookie(&mut res, SESSION_COOKIE, &pending.cookie);
        res
    }

    /// `POST /login/new-password`: the new password replacing a temporary one.
    pub(super) async fn new_password(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let form = match page::read_form(&parts, body).await {
            Ok(f) => f,
            Err(res) => return res,
        };
        if let Err(res) = self.check_csrf(&parts.headers, &form) {
            return res;
        }
        let return_to = safe_return_to(form.get("return_to"));
        let Some(cookie) = page::cookie(&parts.headers, SESSION_COOKIE) else {
            return page::redirect(&page::with_query("/login", &[("return_to", &return_to)]));
        };
        let new_password = Zeroizing::new(form.get("new_password").unwrap_or_default().to_owned());
        let again = |status: StatusCode, error: &str| {
            let (csrf, new) = self.csrf_token(&parts.headers);
            self.form_page(
                status,
                "new_password.html",
                new,
                context! { csrf, return_to => return_to.clone(), error },
            )
        };
        if form.get("confirm_password") != Some(new_password.as_str()) {
            return again(
                StatusCode::BAD_REQUEST,
                "The new password and its repetition differ.",
            );
        }
        let caller = self.anonymous(&parts.extensions);
        match self
            .idm
            .web_new_password(&caller, cookie, new_password, user_agent(&parts.headers))
            .await
        {
            Ok(new) => signed_in(new, &return_to),
            Err(e) if e.code == "sign_in_expired" => {
                let mut res =
                    page::redirect(&page::with_query("/login", &[("return_to", &return_to)]));
                page::clear_cookie(&mut res, SESSION_COOKIE);
                res
            }
            Err(e) if e.kind == ErrorKind::InvalidArgument => {
                again(StatusCode::BAD_REQUEST, &e.message)
            }
            Err(e) => error_for(&e),
        }
    }
}

/// Signed in: the new session's cookie (a new value: the id is rotated at
/// sign-in), then on to where the sign-in was for.
fn signed_in(new: NewSession, return_to: &str) -> Response<Body> {
    let mut res = page::redirect(return_to);
    page::set_cookie(&mut res, SESSION_COOKIE, &new.cookie);
    res
}
