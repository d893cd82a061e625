//! `/account`: self-service for the signed-in account — profile, password,
//! TOTP (enrol with a QR code and confirm, remove with a current code),
//! the account's browser sessions, sign out everywhere. Every action is the
//! domain operation the API calls, as the session's account.

use axum::body::Body;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use mcias_core::error::Error;
use mcias_core::idm::ProfileUpdate;
use mcias_core::model::WebSession;
use minijinja::context;
use serde::Serialize;
use zeroize::Zeroizing;

use super::page::{self, SESSION_COOKIE};
use super::{Web, error_for};

#[derive(Serialize)]
struct AccountView {
    username: String,
    email: String,
    email_verified: bool,
    display_name: String,
    given_name: String,
    family_name: String,
    totp_enabled: bool,
}

#[derive(Serialize)]
struct SessionLine {
    sid: String,
    created: String,
    last_seen: String,
    peer: String,
    user_agent: String,
    current: bool,
}

#[derive(Serialize)]
struct FamilyLine {
    family_id: String,
    client_name: Option<String>,
    scope: String,
    created: String,
    last_used: String,
}

#[derive(Serialize)]
struct TotpSetup {
    qr: String,
    secret: String,
}

fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The notices an action may leave (by key, never echoing input).
fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "profile" => "Your profile was saved.",
        "totp_on" => "Two-step verification is on.",
        "totp_off" => "Two-step verification is off.",
        "session_ended" => "That session was signed out.",
        "access_revoked" => "That access was revoked.",
        _ => return None,
    })
}

/// The QR code of an `otpauth://` URI as inline SVG (no script, no data
/// URI, so the page's CSP stays strict).
fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    )
}

impl Web {
    async fn render_account(
        &self,
        headers: &http::HeaderMap,
        session: &WebSession,
        status: StatusCode,
        note: Option<&str>,
        error: Option<String>,
        totp_setup: Option<TotpSetup>,
    ) -> Response<Body> {
        let account = match self.idm.get_account(&session.account_id).await {
            Ok(a) => a,
            Err(e) => return error_for(&e),
        };
        let sessions = match self.idm.own_web_sessions(session).await {
            Ok(s) => s,
            Err(e) => return error_for(&e),
        };
        let families = match self.idm.own_families(session).await {
            Ok(f) => f,
            Err(e) => return error_for(&e),
        };
        let mut family_lines = Vec::with_capacity(families.len());
        for f in families {
            let client_name = match &f.client_id {
                Some(id) => Some(
                    self.idm
                        .get_client(id)
                        .await
                        .map(|c| c.name)
                        .unwrap_or_else(|_| id.clone()),
                ),
                None => None,
            };
            family_lines.push(FamilyLine {
                family_id: f.family_id,
                client_name,
                scope: f.scope.unwrap_or_default(),
                created: when(f.created_at),
                last_used: when(f.last_used),
            });
        }
        let p = &account.profile;
        let view = AccountView {
            username: account.username.clone(),
            email: p.email.clone().unwrap_or_default(),
            email_verified: p.email_verified,
            display_name: p.display_name.clone().unwrap_or_default(),
            given_name: p.given_name.clone().unwrap_or_default(),
            family_name: p.family_name.clone().unwrap_or_default(),
            totp_enabled: account.totp_enabled,
        };
        let lines: Vec<SessionLine> = sessions
            .into_iter()
            .map(|s| SessionLine {
                current: s.sid == session.sid,
                created: when(s.created_at),
                last_seen: when(s.last_seen),
                peer: s
                    .peer
                    .as_deref()
                    .and_then(|p| p.parse::<std::net::SocketAddr>().ok())
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default(),
                user_agent: s.user_agent.unwrap_or_default(),
                sid: s.sid,
            })
            .collect();
        let (csrf, new) = self.csrf_token(headers);
        self.form_page(
            status,
            "account.html",
            new,
            context! {
                csrf,
                signed_in_as => account.username,
                account => view,
                sessions => lines,
                families => family_lines,
                notice => notice(note),
                error,
                totp_setup,
            },
        )
    }

    /// `GET /account`
    pub(super) async fn account_page(&self, req: Request<Incoming>) -> Response<Body> {
        let Some(session) = self.session(req.headers()).await else {
            return page::redirect("/login?return_to=%2Faccount");
        };
        let q = match page::query(req.uri()) {
            Ok(q) => q,
            Err(res) => return res,
        };
        self.render_account(
            req.headers(),
            &session,
            StatusCode::OK,
            q.get("done"),
            None,
            None,
        )
        .await
    }

    /// `POST /account/…`
    pub(super) async fn account_action(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let form = match page::read_form(&parts, body).await {
            Ok(f) => f,
            Err(res) => return res,
        };
        if let Err(res) = self.check_csrf(&parts.headers, &form) {
            return res;
        }
        let Some(session) = self.session(&parts.headers).await else {
            return page::redirect("/login?return_to=%2Faccount");
        };
        let caller = match self
            .idm
            .session_caller(&session, super::peer(&parts.extensions))
            .await
        {
            Ok(c) => c,
            Err(e) => return error_for(&e),
        };
        let (headers, session) = (&parts.headers, &session);
        let again = |e: Error| async move {
            self.render_account(
                headers,
                session,
                StatusCode::BAD_REQUEST,
                None,
                Some(e.message),
                None,
            )
            .await
        };
        let field = |name: &str| form.get(name).map(|v| v.trim().to_owned());
        match parts.uri.path() {
            "/account/profile" => {
                let update = ProfileUpdate {
                    email: Some(field("email").unwrap_or_default()),
                    email_verified: None,
                    display_name: Some(field("display_name").unwrap_or_default()),
                    given_name: Some(field("given_name").unwrap_or_default()),
                    family_name: Some(field("family_name").unwrap_or_default()),
                };
                match self
                    .idm
                    .update_profile(&caller, &session.account_id, update)
                    .await
                {
                    Ok(_) => page::redirect("/account?done=profile"),
                    Err(e) => again(e).await,
                }
            }
            "/account/password" => {
                let current =
                    Zeroizing::new(form.get("current_password").unwrap_or_default().to_owned());
                let new = Zeroizing::new(form.get("new_password").unwrap_or_default().to_owned());
                if form.get("confirm_password") != Some(new.as_str()) {
                    return again(Error::invalid(
                        "password_mismatch",
                        "The new password and its repetition differ.",
                    ))
                    .await;
                }
                match self.idm.change_password(&caller, current, new).await {
                    // Every session of the account ended with the change.
                    Ok(()) => {
                        let mut res = page::redirect("/login?return_to=%2Faccount");
                        page::clear_cookie(&mut res, SESSION_COOKIE);
                        res
                    }
                    Err(e) => again(e).await,
                }
            }
            "/account/totp/enroll" => match self.idm.enroll_totp(&caller).await {
                Ok((secret, uri)) => {
                    let setup = TotpSetup {
                        qr: qr_svg(&uri).unwrap_or_default(),
                        secret: secret.to_string(),
                    };
                    self.render_account(headers, session, StatusCode::OK, None, None, Some(setup))
                        .await
                }
                Err(e) => again(e).await,
            },
            "/account/totp/confirm" => {
                let code = field("code").unwrap_or_default();
                match self.idm.confirm_totp(&caller, &code).await {
                    Ok(()) => page::redirect("/account?done=totp_on"),
                    Err(e) => again(e).await,
                }
            }
            "/account/totp/remove" => {
                let code = field("code").unwrap_or_default();
                match self.idm.remove_own_totp(&caller, &code).await {
                    Ok(()) => {
                        // Removing a factor bumps the token version: sign in
                        // again.
                        let mut res = page::redirect("/login?return_to=%2Faccount");
                        page::clear_cookie(&mut res, SESSION_COOKIE);
                        res
                    }
                    Err(e) => again(e).await,
                }
            }
            "/account/sessions/end" => {
                let sid = field("sid").unwrap_or_default();
                match self.idm.end_own_web_session(&caller, session, &sid).await {
                    Ok(()) => page::redirect("/account?done=session_ended"),
                    Err(e) => again(e).await,
                }
            }
            "/account/access/revoke" => {
                let family = field("family").unwrap_or_default();
                match self.idm.revoke_own_family(&caller, session, &family).await {
                    Ok(()) => page::redirect("/account?done=access_revoked"),
                    Err(e) => again(e).await,
                }
            }
            "/account/sign-out-everywhere" => {
                match self
                    .idm
                    .sign_out_everywhere(&caller, &session.account_id)
                    .await
                {
                    Ok(()) => {
                        let mut res = page::render(
                            StatusCode::OK,
                            "signed_out.html",
                            context! { ended_tokens => true },
                        );
                        page::clear_cookie(&mut res, SESSION_COOKIE);
                        res
                    }
                    Err(e) => again(e).await,
                }
            }
            _ => page::error_page(StatusCode::NOT_FOUND, "There is no such page."),
        }
    }
}
