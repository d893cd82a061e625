//! The browser surface and the OpenID Connect endpoints against the real
//! server over TLS, as a browser without JavaScript drives them: cookies,
//! CSRF, the security headers, the authorization code flow with PKCE,
//! userinfo, introspection by a client, sign-out, and the requests that
//! must never redirect.

use mcias_testkit as common;

use base64::Engine;
use common::{TestServer, authed};
use mcias_proto as pb;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:5555/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A browser-like client: no redirects followed, cookies kept by hand.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(s: &TestServer) -> Self {
        let ca = reqwest::Certificate::from_pem(s.ca_pem.as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .resolve("localhost", s.addr())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: s.base_url(),
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap();
            assert!(
                attrs.contains("Secure") && attrs.contains("HttpOnly"),
                "{v}"
            );
            assert!(
                attrs.contains("SameSite=Lax") && attrs.contains("Path=/"),
                "{v}"
            );
            let (k, val) = pair.split_once('=').unwrap();
            assert!(k.starts_with("__Host-"), "{v}");
            self.cookies.retain(|(n, _)| n != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let res = self
            .http
            .get(url)
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The value of hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let raw = &html[start..start + html[start..].find('"').unwrap()];
    raw.replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ] {
        if !extra.iter().any(|(x, _)| *x == k) {
            ser.append_pair(k, v);
        }
    }
    for (k, v) in extra {
        ser.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", ser.finish())
}

/// A server with `alice` (email set) and a confidential client `app`;
/// returns the client secret.
async fn setup() -> (TestServer, String) {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s
        .create(&admin, "alice", pb::AccountType::Human, "alice password 1")
        .await;
    let http = s.http();
    let res = http
        .patch(format!("{}/v1/accounts/{id}/profile", s.base_url()))
        .bearer_auth(&admin)
        .json(&json!({ "email": "alice@example.com", "emailVerified": true, "displayName": "Alice A.", "updateMask": "email,emailVerified,displayName" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let created = s
        .clients()
        .await
        .create_client(authed(
            pb::CreateClientRequest {
                client: Some(pb::OAuthClient {
                    client_id: "app".into(),
                    name: "The App".into(),
                    client_type: pb::ClientType::Confidential as i32,
                    redirect_uris: vec![REDIRECT.into()],
                    post_logout_redirect_uris: vec!["http://127.0.0.1:5555/bye".into()],
                    grant_types: vec![
                        pb::GrantType::AuthorizationCode as i32,
                        pb::GrantType::RefreshToken as i32,
                    ],
                    scopes: vec!["openid".into(), "profile".into(), "email".into()],
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    (s, created.client_secret)
}

/// Signs alice in through the pages, starting from an authorization request
/// (consent granted); returns the redirect to the client.
async fn sign_in_and_consent(b: &mut Browser, authorize: &str) -> String {
    let res = b.get(authorize).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let login = location(&res);
    assert!(login.starts_with("/login?return_to="), "{login}");
    let page = b.get(&login).await.text().await.unwrap();
    assert!(
        page.contains("The App"),
        "the sign-in page names the application"
    );
    let res = b
        .post(
            "/login",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("return_to", &hidden(&page, "return_to")),
                ("username", "alice"),
                ("password", "alice password 1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.starts_with("/oauth2/authorize?"), "{back}");
    let res = b.get(&back).await;
    assert_eq!(res.status(), StatusCode::OK, "consent page");
    let page = res.text().await.unwrap();
    assert!(page.contains("Allow") && page.contains("email"), "{page}");
    let res = b
        .post(
            "/consent",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("request", &hidden(&page, "request")),
                ("decision", "allow"),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
}

#[tokio::test]
async fn the_code_flow_end_to_end_with_pages_cookies_and_csrf() {
    let (s, secret) = setup().await;
    let mut b = Browser::new(&s);
    let to_client = sign_in_and_consent(&mut b, &authorize_path("app", &[])).await;
    assert!(to_client.starts_with(REDIRECT), "{to_client}");
    assert_eq!(query_param(&to_client, "state").as_deref(), Some("st-1"));
    assert!(query_param(&to_client, "iss").is_some());
    let code = query_param(&to_client, "code").unwrap();

    let http = s.http();
    let token_url = format!("{}/oauth2/token", s.base_url());
    let exchange = |verifier: &'static str| {
        http.post(&token_url)
            .basic_auth("app", Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let res = exchange(VERIFIER).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile email");
    let access = t["access_token"].as_str().unwrap();
    let header_json: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header_json["typ"], "at+jwt");

    let info: Value = http
        .get(format!("{}/oauth2/userinfo", s.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["name"], "Alice A.");
    assert_eq!(info["preferred_username"], "alice");

    // Introspection by the client that holds the token.
    let seen: Value = http
        .post(format!("{}/oauth2/introspect", s.base_url()))
        .basic_auth("app", Some(&secret))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], "app");
    assert_eq!(seen["username"], "alice");
    assert_eq!(seen["scope"], "openid profile email");

    // The code works once; the second use revokes what the first issued.
    let res = exchange(VERIFIER).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = http
        .get(format!("{}/oauth2/userinfo", s.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"mcias\", error=\"invalid_token\""
    );

    // The account page works with the session; signing out ends it, and the
    // replayed cookie is worth nothing.
    let account = b.get("/account").await;
    assert_eq!(account.status(), StatusCode::OK);
    let page = account.text().await.unwrap();
    assert!(page.contains("alice@example.com") && page.contains("This browser"));
    let old_cookies = b.cookie_header();
    let res = b.post("/logout", &[("csrf", &hidden(&page, "csrf"))]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("You are signed out"));
    let replay = b
        .http
        .get(format!("{}/account", s.base_url()))
        .header(header::COOKIE, old_cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert!(location(&replay).starts_with("/login"));
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_forms_need_their_csrf_token() {
    let (s, _) = setup().await;
    let mut b = Browser::new(&s);
    let res = b.get("/login").await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    let page = res.text().await.unwrap();
    assert!(page.contains("<label for=\"username\">Username</label>"));
    assert!(!page.contains("<script"));
    let css = b.get("/static/mcias.css").await;
    assert_eq!(
        css.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );

    for csrf in ["", "forged-token"] {
        let res = b
            .post(
                "/login",
                &[
                    ("csrf", csrf),
                    ("username", "alice"),
                    ("password", "alice password 1"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    // A wrong password: the generic answer, on the page.
    let res = b
        .post(
            "/login",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("username", "alice"),
                ("password", "wrong"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Invalid username or password.")
    );
}

#[tokio::test]
async fn requests_that_must_never_redirect() {
    let (s, _) = setup().await;
    let mut b = Browser::new(&s);
    for path in [
        authorize_path("app", &[("redirect_uri", "http://127.0.0.1:5555/cb/evil")]),
        authorize_path("app", &[("redirect_uri", "http://127.0.0.1:5555/c")]),
        authorize_path("app", &[("redirect_uri", "https://evil.example/cb")]),
        authorize_path("nobody", &[]),
        "/oauth2/end_session?client_id=app&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
            .to_owned(),
        "/oauth2/end_session?post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fbye"
            .to_owned(),
    ] {
        let res = b.get(&path).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(res.headers().get(header::LOCATION).is_none(), "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains("<h1>"), "{path}: an error page");
    }
    // After the redirect URI is validated, errors go back to the client.
    let res = b.get(&authorize_path("app", &[("prompt", "none")])).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.starts_with(REDIRECT));
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
    let res = b
        .get(&authorize_path(
            "app",
            &[("code_challenge_method", "plain")],
        ))
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn consent_denied_answers_access_denied_and_discovery_names_every_endpoint() {
    let (s, _) = setup().await;
    let mut b = Browser::new(&s);
    let res = b.get(&authorize_path("app", &[])).await;
    let page = b.get(&location(&res)).await.text().await.unwrap();
    let res = b
        .post(
            "/login",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("return_to", &hidden(&page, "return_to")),
                ("username", "alice"),
                ("password", "alice password 1"),
            ],
        )
        .await;
    let consent = b.get(&location(&res)).await.text().await.unwrap();
    let res = b
        .post(
            "/consent",
            &[
                ("csrf", &hidden(&consent, "csrf")),
                ("request", &hidden(&consent, "request")),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("access_denied")
    );

    let d = common::get_json(
        &s.http(),
        &format!("{}/.well-known/openid-configuration", s.base_url()),
    )
    .await;
    let base = d["issuer"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    for (k, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("end_session_endpoint", "/oauth2/end_session"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(d[k], format!("{base}{path}"), "{k}");
    }
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        d["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256"))
    );
    let m = common::get_json(
        &s.http(),
        &format!("{}/.well-known/oauth-authorization-server", s.base_url()),
    )
    .await;
    assert_eq!(m["issuer"], d["issuer"]);
}

/// Signs `user` in through the pages; returns the `/account` page's HTML.
async fn sign_in(b: &mut Browser, user: &str, password: &str, return_to: &str) -> String {
    let page = b
        .get(&format!(
            "/login?return_to={}",
            return_to.replace('/', "%2F")
        ))
        .await
        .text()
        .await
        .unwrap();
    let res = b
        .post(
            "/login",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("return_to", &hidden(&page, "return_to")),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {user}");
    let res = b.get(&location(&res)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

#[tokio::test]
async fn the_console_is_for_admins_and_acts_through_the_gated_services() {
    let (s, _) = setup().await;
    // A non-admin gets 403 on every console URL.
    let mut alice = Browser::new(&s);
    sign_in(&mut alice, "alice", "alice password 1", "/account").await;
    for path in [
        "/admin",
        "/admin/accounts",
        "/admin/applications",
        "/admin/audit",
        "/admin/keys",
    ] {
        assert_eq!(
            alice.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    let mut b = Browser::new(&s);
    let overview = sign_in(&mut b, "admin", &s.admin_password, "/admin").await;
    assert!(overview.contains("<h1>Overview</h1>") && overview.contains("SERVING"));

    // Create an account through the form, find it, set its roles.
    let page = b.get("/admin/accounts").await.text().await.unwrap();
    let res = b
        .post(
            "/admin/accounts",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("username", "carol"),
                ("account_type", "human"),
                ("password", "carol password 1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let carol_page = location(&res);
    assert!(carol_page.starts_with("/admin/accounts/"));
    let listed = b.get("/admin/accounts?q=CAR").await.text().await.unwrap();
    assert!(listed.contains(">carol</a>") && !listed.contains(">alice</a>"));
    let page = b.get(&carol_page).await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let res = b
        .post(
            &format!("{carol_page}/roles"),
            &[("csrf", &csrf), ("roles", "reader, writer")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("reader, writer"));

    // Suspending ends the account's tokens.
    let carol_token = s.login("carol", "carol password 1").await;
    assert!(s.valid(&carol_token).await);
    let res = b
        .post(
            &format!("{carol_page}/status"),
            &[("csrf", &csrf), ("status", "suspended")],
        )
        .await;
    assert!(res.text().await.unwrap().contains("suspended"));
    assert!(!s.valid(&carol_token).await);

    // A temporary password is shown once.
    let res = b
        .post(&format!("{carol_page}/reset-password"), &[("csrf", &csrf)])
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"shown-once\""), "{html}");

    // Applications: register one, its secret shown once.
    let page = b.get("/admin/applications").await.text().await.unwrap();
    let res = b
        .post(
            "/admin/applications",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("client_id", "wiki"),
                ("client_type", "confidential"),
                ("name", "Wiki"),
                ("redirect_uris", "https://wiki.example/cb"),
                ("scopes", "openid email"),
                ("grant_authorization_code", "on"),
                ("id_token_alg", "RS256"),
            ],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"shown-once\"") && html.contains("Wiki"),
        "{html}"
    );
    // A bad redirect URI is refused with a message naming the field.
    let res = b
        .post(
            "/admin/applications",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("client_id", "bad"),
                ("name", "Bad"),
                ("redirect_uris", "http://evil.example/cb"),
                ("grant_authorization_code", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("redirect_uris"));

    // The audit view shows what was done, with the admin as actor.
    let audit = b
        .get("/admin/audit?type=roles_set")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("roles_set"), "{audit}");
    let live = b.get("/admin/audit?live=1").await.text().await.unwrap();
    assert!(live.contains("http-equiv=\"refresh\""));
    let keys = b.get("/admin/keys").await.text().await.unwrap();
    assert!(keys.contains("RS256") && keys.contains("EdDSA") && keys.contains("signing"));

    // Eleven minutes later, a destructive action asks for a fresh sign-in.
    s.clock.advance(11 * 60);
    let page = b.get(&carol_page).await.text().await.unwrap();
    let res = b
        .post(
            &format!("{carol_page}/roles"),
            &[("csrf", &hidden(&page, "csrf")), ("roles", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("reauth=1"), "{}", location(&res));
}
