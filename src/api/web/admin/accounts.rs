//! Console accounts: search by username or email prefix and status with
//! paging, creation, the account's page (roles, profile, second factor,
//! sessions, last sign-in) and its actions — status, roles, temporary
//! password, second-factor removal, sign-out everywhere, client secret,
//! database credentials, deletion.

use axum::body::Body;
use http::{HeaderMap, Response, StatusCode};
use minijinja::{Value, context};

use super::{Admin, status_page, ts};
use crate::api::pb;
use crate::api::pb::account_service_client::AccountServiceClient;
use crate::api::pb::auth_service_client::AuthServiceClient;
use crate::api::web::Web;
use crate::api::web::page::{self, Params};

/// What an action did: the notice, and a secret to show once.
type Outcome<'a> = (&'a str, Option<(&'a str, String)>);

fn type_name(t: i32) -> &'static str {
    match pb::AccountType::try_from(t) {
        Ok(pb::AccountType::Human) => "human",
        Ok(pb::AccountType::System) => "system",
        _ => "unknown",
    }
}

fn status_name(s: i32) -> &'static str {
    match pb::AccountStatus::try_from(s) {
        Ok(pb::AccountStatus::Active) => "active",
        Ok(pb::AccountStatus::Inactive) => "inactive",
        Ok(pb::AccountStatus::Suspended) => "suspended",
        Ok(pb::AccountStatus::Deleted) => "deleted",
        _ => "unknown",
    }
}

fn status_value(s: &str) -> Option<pb::AccountStatus> {
    Some(match s {
        "active" => pb::AccountStatus::Active,
        "inactive" => pb::AccountStatus::Inactive,
        "suspended" => pb::AccountStatus::Suspended,
        "deleted" => pb::AccountStatus::Deleted,
        _ => return None,
    })
}

fn account_view(a: &pb::Account) -> Value {
    context! {
        id => a.id,
        username => a.username,
        account_type => type_name(a.account_type),
        status => status_name(a.status),
        email => a.email,
        email_verified => a.email_verified,
        display_name => a.display_name,
        totp_enabled => a.totp_enabled,
        password_change_required => a.password_change_required,
        created => ts(&a.created_at),
        last_login => ts(&a.last_login_at),
    }
}

/// Roles as typed: separated by spaces or commas.
fn roles_of(text: &str) -> Vec<String> {
    text.split([' ', ',', '\n', '\t'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Web {
    fn accounts(&self) -> AccountServiceClient<crate::api::rest::InProcess> {
        AccountServiceClient::new(self.grpc.clone())
    }

    /// `GET /admin/accounts?q=&status=&page=`
    pub(super) async fn accounts_page(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        q: &Params,
        error: Option<String>,
    ) -> Response<Body> {
        let query = q.get("q").unwrap_or_default().to_owned();
        let status = q.get("status").unwrap_or_default().to_owned();
        let Some(status_enum) = (if status.is_empty() {
            Some(pb::AccountStatus::Unspecified)
        } else {
            status_value(&status)
        }) else {
            return page::error_page(StatusCode::BAD_REQUEST, "status: not a known status");
        };
        let res = self
            .accounts()
            .list_accounts(admin.req(pb::ListAccountsRequest {
                page_size: 50,
                page_token: q.get("page").unwrap_or_default().to_owned(),
                query: query.clone(),
                status: status_enum as i32,
            }))
            .await;
        let list = match res {
            Ok(r) => r.into_inner(),
            Err(s) => return status_page(&s),
        };
        let next = (!list.next_page_token.is_empty()).then(|| {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            ser.append_pair("q", &query)
                .append_pair("status", &status)
                .append_pair("page", &list.next_page_token);
            ser.finish()
        });
        let accounts: Vec<Value> = list.accounts.iter().map(account_view).collect();
        self.admin_page(
            headers,
            admin,
            if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            "admin_accounts.html",
            context! { nav => "accounts", q => query, status, accounts, next, error },
        )
    }

    /// `POST /admin/accounts`
    pub(super) async fn create_account(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        form: &Params,
    ) -> Response<Body> {
        let account_type = match form.get("account_type") {
            Some("system") => pb::AccountType::System,
            _ => pb::AccountType::Human,
        };
        let res = self
            .accounts()
            .create_account(admin.req(pb::CreateAccountRequest {
                username: form.get("username").unwrap_or_default().trim().to_owned(),
                account_type: account_type as i32,
                password: form.get("password").unwrap_or_default().to_owned(),
            }))
            .await;
        match res {
            Ok(r) => match r.into_inner().account {
                Some(a) => page::redirect(&format!("/admin/accounts/{}", a.id)),
                None => page::redirect("/admin/accounts"),
            },
            Err(s) => {
                self.accounts_page(
                    headers,
                    admin,
                    &Params::default(),
                    Some(s.message().to_owned()),
                )
                .await
            }
        }
    }

    /// `GET /admin/accounts/{id}`
    pub(super) async fn admin_account_page(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        id: &str,
        notice: Option<&str>,
        secret: Option<(&str, String)>,
    ) -> Response<Body> {
        self.admin_account_page_with(headers, admin, id, notice, None, secret)
            .await
    }

    async fn admin_account_page_with(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        id: &str,
        notice: Option<&str>,
        error: Option<String>,
        secret: Option<(&str, String)>,
    ) -> Response<Body> {
        let a = match self
            .accounts()
            .get_account(admin.req(pb::GetAccountRequest { id: id.to_owned() }))
            .await
        {
            Ok(r) => match r.into_inner().account {
                Some(a) => a,
                None => return page::error_page(StatusCode::NOT_FOUND, "account not found"),
            },
            Err(s) => return status_page(&s),
        };
        let roles = match self
            .accounts()
            .get_roles(admin.req(pb::GetRolesRequest {
                account_id: id.to_owned(),
            }))
            .await
        {
            Ok(r) => r.into_inner().roles,
            Err(s) => return status_page(&s),
        };
        let sessions = match self
            .accounts()
            .list_sessions(admin.req(pb::ListSessionsRequest {
                account_id: id.to_owned(),
            }))
            .await
        {
            Ok(r) => r.into_inner(),
            Err(s) => return status_page(&s),
        };
        let pg = self
            .accounts()
            .get_pg_creds(admin.req(pb::GetPgCredsRequest {
                account_id: id.to_owned(),
            }))
            .await
            .ok()
            .and_then(|r| r.into_inner().creds)
            .map(|c| context! { host => c.host, port => c.port, database => c.database, username => c.username });
        let session_rows: Vec<Value> = sessions
            .sessions
            .iter()
            .map(|s| {
                context! {
                    created => ts(&s.created_at),
                    last_seen => ts(&s.last_seen_at),
                    peer => s.peer,
                    amr => s.amr.join(" "),
                }
            })
            .collect();
        let families: Vec<Value> = sessions
            .families
            .iter()
            .map(|f| {
                context! {
                    client_id => f.client_id,
                    scope => f.scope,
                    created => ts(&f.created_at),
                    last_used => ts(&f.last_used_at),
                }
            })
            .collect();
        let secret = secret.map(|(label, value)| context! { label, value });
        self.admin_page(
            headers,
            admin,
            if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            "admin_account.html",
            context! {
                nav => "accounts",
                a => account_view(&a),
                roles,
                sessions => session_rows,
                families,
                pg,
                notice,
                error,
                secret,
            },
        )
    }

    /// `POST /admin/accounts/{id}/{action}`
    pub(super) async fn admin_account_action(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        id: &str,
        action: &str,
        form: &Params,
    ) -> Response<Body> {
        let back = format!("/admin/accounts/{id}");
        if matches!(
            action,
            "delete" | "roles" | "rotate-secret" | "reset-password"
        ) && let Err(res) = self.step_up(admin, &back)
        {
            return res;
        }
        let id = id.to_owned();
        let done: Result<Outcome<'_>, tonic::Status> = match action {
            "status" => {
                let Some(status) = form.get("status").and_then(status_value) else {
                    return page::error_page(StatusCode::BAD_REQUEST, "status: not a known status");
                };
                self.accounts()
                    .update_account(admin.req(pb::UpdateAccountRequest {
                        id: id.clone(),
                        status: status as i32,
                        update_mask: None,
                    }))
                    .await
                    .map(|_| ("The status was changed.", None))
            }
            "roles" => self
                .accounts()
                .set_roles(admin.req(pb::SetRolesRequest {
                    account_id: id.clone(),
                    roles: roles_of(form.get("roles").unwrap_or_default()),
                }))
                .await
                .map(|_| ("The roles were set.", None)),
            "reset-password" => self
                .accounts()
                .reset_password(admin.req(pb::ResetPasswordRequest {
                    account_id: id.clone(),
                }))
                .await
                .map(|r| {
                    (
                        "The password was reset; give the temporary password to its owner.",
                        Some(("Temporary password", r.into_inner().temporary_password)),
                    )
                }),
            "remove-totp" => AuthServiceClient::new(self.grpc.clone())
                .remove_totp(admin.req(pb::RemoveTotpRequest {
                    account_id: id.clone(),
                }))
                .await
                .map(|_| ("The second factor was removed.", None)),
            "sign-out" => AuthServiceClient::new(self.grpc.clone())
                .sign_out_everywhere(admin.req(pb::SignOutEverywhereRequest {
                    account_id: id.clone(),
                }))
                .await
                .map(|_| ("Every session and token of the account ended.", None)),
            "rotate-secret" => self
                .accounts()
                .rotate_client_secret(admin.req(pb::RotateClientSecretRequest {
                    account_id: id.clone(),
                }))
                .await
                .map(|r| {
                    (
                        "A new client secret was made; the old one no longer works.",
                        Some(("Client secret", r.into_inner().client_secret)),
                    )
                }),
            "pgcreds" => {
                let Ok(port) = form.get("port").unwrap_or_default().parse::<u32>() else {
                    return self
                        .admin_account_page_with(
                            headers,
                            admin,
                            &id,
                            None,
                            Some("port: a number from 1 to 65535".to_owned()),
                            None,
                        )
                        .await;
                };
                self.accounts()
                    .set_pg_creds(admin.req(pb::SetPgCredsRequest {
                        account_id: id.clone(),
                        host: form.get("host").unwrap_or_default().to_owned(),
                        port,
                        database: form.get("database").unwrap_or_default().to_owned(),
                        username: form.get("username").unwrap_or_default().to_owned(),
                        password: form.get("password").unwrap_or_default().to_owned(),
                    }))
                    .await
                    .map(|_| ("The database credentials were stored.", None))
            }
            "delete" => {
                let account = self
                    .accounts()
                    .get_account(admin.req(pb::GetAccountRequest { id: id.clone() }))
                    .await
                    .ok()
                    .and_then(|r| r.into_inner().account);
                let Some(account) = account else {
                    return page::error_page(StatusCode::NOT_FOUND, "account not found");
                };
                if form.get("confirm") != Some(account.username.as_str()) {
                    return self
                        .admin_account_page_with(
                            headers,
                            admin,
                            &id,
                            None,
                            Some("confirm: type the account's username to delete it".to_owned()),
                            None,
                        )
                        .await;
                }
                return match self
                    .accounts()
                    .delete_account(admin.req(pb::DeleteAccountRequest { id: id.clone() }))
                    .await
                {
                    Ok(_) => page::redirect("/admin/accounts"),
                    Err(s) => {
                        self.admin_account_page_with(
                            headers,
                            admin,
                            &id,
                            None,
                            Some(s.message().to_owned()),
                            None,
                        )
                        .await
                    }
                };
            }
            _ => return page::error_page(StatusCode::NOT_FOUND, "There is no such action."),
        };
        match done {
            Ok((notice, secret)) => {
                self.admin_account_page_with(headers, admin, &id, Some(notice), None, secret)
                    .await
            }
            Err(s) => {
                self.admin_account_page_with(
                    headers,
                    admin,
                    &id,
                    None,
                    Some(s.message().to_owned()),
                    None,
                )
                .await
            }
        }
    }
}
