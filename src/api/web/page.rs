//! What every page shares: templates compiled into the binary (minijinja,
//! HTML auto-escaped), the security headers, cookies, CSRF tokens, forms
//! and query strings, redirects and the error page.

use std::sync::LazyLock;

use axum::body::Body;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::body::Incoming;
use minijinja::Environment;
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::api::body::{BodyError, read_limited};

/// The session cookie (`__Host-`: Secure, Path=/, no Domain).
pub const SESSION_COOKIE: &str = "__Host-mcias_session";
/// The CSRF cookie: a random value whose HMAC every form carries.
pub const CSRF_COOKIE: &str = "__Host-mcias_csrf";
/// The largest form a page accepts.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The stylesheet, served at `/static/mcias.css`.
pub const STYLESHEET: &str = include_str!("mcias.css");

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("totp.html", include_str!("templates/totp.html")),
    ("consent.html", include_str!("templates/consent.html")),
    ("error.html", include_str!("templates/error.html")),
    ("signed_out.html", include_str!("templates/signed_out.html")),
    (
        "confirm_logout.html",
        include_str!("templates/confirm_logout.html"),
    ),
    ("account.html", include_str!("templates/account.html")),
    (
        "new_password.html",
        include_str!("templates/new_password.html"),
    ),
    ("admin_base.html", include_str!("templates/admin_base.html")),
    (
        "admin_overview.html",
        include_str!("templates/admin_overview.html"),
    ),
    (
        "admin_accounts.html",
        include_str!("templates/admin_accounts.html"),
    ),
    (
        "admin_account.html",
        include_str!("templates/admin_account.html"),
    ),
    (
        "admin_applications.html",
        include_str!("templates/admin_applications.html"),
    ),
    (
        "admin_application.html",
        include_str!("templates/admin_application.html"),
    ),
    (
        "admin_client_form.html",
        include_str!("templates/admin_client_form.html"),
    ),
    (
        "admin_audit.html",
        include_str!("templates/admin_audit.html"),
    ),
    ("admin_keys.html", include_str!("templates/admin_keys.html")),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a page template does not compile");
        }
    }
    env
});

/// Content-Security-Policy of every page: no script at all, the one
/// stylesheet, no framing. No `form-action`: browsers apply it to the
/// redirects that follow a form (sign-in and consent end at the client's
/// redirect URI), and with no script on the page no form can be injected.
const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The security headers every page and redirect carries.
pub fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Renders a template into a page with the security headers.
pub fn render(status: StatusCode, template: &str, ctx: impl Serialize) -> Response<Body> {
    let html = ENV.get_template(template).and_then(|t| t.render(ctx));
    let (status, html) = match html {
        Ok(h) => (status, h),
        Err(e) => {
            tracing::error!(template, error = %e, "rendering a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>The page cannot be shown.</p>".to_owned(),
            )
        }
    };
    let mut res = Response::new(Body::from(html));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    security_headers(res.headers_mut());
    res
}

/// The error page: a heading and a message naming the problem.
pub fn error_page(status: StatusCode, message: &str) -> Response<Body> {
    let heading = match status {
        StatusCode::FORBIDDEN => "Request refused",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::NOT_FOUND => "Not found",
        s if s.is_server_error() => "Something went wrong",
        _ => "Sign-in error",
    };
    render(
        status,
        "error.html",
        minijinja::context! { heading, message },
    )
}

/// A 303 redirect (after a form, the browser follows with GET).
pub fn redirect(location: &str) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SEE_OTHER;
    match HeaderValue::from_str(location) {
        Ok(v) => {
            res.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => return error_page(StatusCode::BAD_REQUEST, "The address is not valid."),
    }
    security_headers(res.headers_mut());
    res
}

/// `base?k=v&…` with the parameters form-encoded, appended to a query the
/// base may already have.
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return base.to_owned();
    }
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{q}")
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Sets a `__Host-` cookie (Secure, HttpOnly, SameSite=Lax, Path=/).
pub fn set_cookie(res: &mut Response<Body>, name: &str, value: &str) {
    let v = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&v) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Removes a cookie.
pub fn clear_cookie(res: &mut Response<Body>, name: &str) {
    let v = format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&v) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// CSRF protection: a random cookie value, and in every form the HMAC of
/// that value under a key derived from the master key (double submit,
/// signed). A form whose token does not match its cookie is refused.
pub struct Csrf {
    key: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf")
    }
}

impl Csrf {
    /// A CSRF checker under `key`.
    pub fn new(key: zeroize::Zeroizing<[u8; 32]>) -> Self {
        Self { key }
    }

    fn token_for(&self, cookie: &str) -> String {
        match Hmac::<Sha256>::new_from_slice(self.key.as_ref()) {
            Ok(mut mac) => {
                mac.update(cookie.as_bytes());
                mcias_core::crypto::b64url(&mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }

    /// The token for this browser's forms, and the cookie to set when the
    /// browser has none yet.
    pub fn token(
        &self,
        headers: &HeaderMap,
        new_value: impl FnOnce() -> String,
    ) -> (String, Option<String>) {
        match cookie(headers, CSRF_COOKIE).filter(|c| valid_cookie_value(c)) {
            Some(c) => (self.token_for(c), None),
            None => {
                let fresh = new_value();
                (self.token_for(&fresh), Some(fresh))
            }
        }
    }

    /// Whether a submitted form's token matches the browser's cookie.
    pub fn check(&self, headers: &HeaderMap, submitted: Option<&str>) -> bool {
        let (Some(c), Some(s)) = (cookie(headers, CSRF_COOKIE), submitted) else {
            return false;
        };
        if !valid_cookie_value(c) {
            return false;
        }
        let expected = self.token_for(c);
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(s.as_bytes()))
    }
}

/// Cookie values we issue: base64url, 43 characters.
fn valid_cookie_value(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A parsed form or query: each name at most once.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `a=b&c=d` (form encoding); a repeated name is an error naming it.
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(text) {
            if out.iter().any(|(x, _)| *x == k) {
                return Err(format!("The parameter {k:?} is repeated."));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self(out))
    }

    /// A parameter's value; empty values count as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Whether a parameter is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The parameters re-encoded without `drop` names.
    pub fn encode_without(&self, drop: &[&str]) -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            if !drop.contains(&k.as_str()) {
                ser.append_pair(k, v);
            }
        }
        ser.finish()
    }
}

/// Reads a page's form body (bounded, form-encoded).
pub async fn read_form(
    parts: &http::request::Parts,
    body: Incoming,
) -> Result<Params, Response<Body>> {
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The form must be sent as application/x-www-form-urlencoded.",
        ));
    }
    let bytes: Bytes = match read_limited(&parts.headers, body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge(_)) => {
            return Err(error_page(StatusCode::PAYLOAD_TOO_LARGE, &e.message()));
        }
        Err(e) => return Err(error_page(StatusCode::BAD_REQUEST, &e.message())),
    };
    Params::parse(&bytes).map_err(|e| error_page(StatusCode::BAD_REQUEST, &e))
}

/// The request's query parameters.
pub fn query(uri: &http::Uri) -> Result<Params, Response<Body>> {
    Params::parse(uri.query().unwrap_or_default().as_bytes())
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn escapes_html() {
        let res = error_page(StatusCode::BAD_REQUEST, "<script>alert(1)</script>");
        let csp = res.headers().get(header::CONTENT_SECURITY_POLICY).unwrap();
        assert!(csp.to_str().unwrap().contains("frame-ancestors 'none'"));
        let html = ENV
            .get_template("error.html")
            .unwrap()
            .render(minijinja::context! { heading => "x", message => "<b>" })
            .unwrap();
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
    }

    #[test]
    fn params_refuse_repeats_and_append_queries() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        let p = Params::parse(b"a=1&b=x+y&prompt=login").unwrap();
        assert_eq!(p.get("b"), Some("x y"));
        assert_eq!(p.encode_without(&["prompt"]), "a=1&b=x+y");
        assert_eq!(
            with_query("https://a/cb", &[("code", "c d")]),
            "https://a/cb?code=c+d"
        );
        assert_eq!(
            with_query("https://a/cb?x=1", &[("s", "&")]),
            "https://a/cb?x=1&s=%26"
        );
    }

    #[test]
    fn csrf_tokens_match_their_cookie_only() {
        let csrf = Csrf::new(zeroize::Zeroizing::new([7u8; 32]));
        let value = "a".repeat(43);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{CSRF_COOKIE}={value}")).unwrap(),
        );
        let (token, set) = csrf.token(&h, || unreachable!());
        assert!(set.is_none());
        assert!(csrf.check(&h, Some(&token)));
        assert!(!csrf.check(&h, Some("forged")));
        assert!(!csrf.check(&h, None));
        assert!(!csrf.check(&HeaderMap::new(), Some(&token)));
    }
}
