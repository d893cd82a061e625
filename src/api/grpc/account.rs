//! `mcias.v1.AccountService`.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

use super::caller;
use crate::api::pb::account_service_server::AccountService;
use crate::api::pb::*;
use crate::api::status::{OrStatus, status};
use crate::api::timestamp;
use mcias_core::error::Error;
use mcias_core::idm::{Idm, PgCreds as DomainPgCreds, ProfileUpdate};
use mcias_core::model;
use mcias_core::model::AccountRecord;

/// The AccountService implementation.
#[derive(Debug, Clone)]
pub struct AccountApi(pub Arc<Idm>);

fn account(a: AccountRecord) -> Account {
    Account {
        id: a.id,
        username: a.username,
        account_type: match a.account_type {
            model::AccountType::Human => AccountType::Human,
            model::AccountType::System => AccountType::System,
        } as i32,
        status: match a.status {
            model::AccountStatus::Active => AccountStatus::Active,
            model::AccountStatus::Inactive => AccountStatus::Inactive,
            model::AccountStatus::Suspended => AccountStatus::Suspended,
            model::AccountStatus::Deleted => AccountStatus::Deleted,
        } as i32,
        totp_enabled: a.totp_enabled,
        created_at: Some(timestamp(a.created_at)),
        updated_at: Some(timestamp(a.updated_at)),
        email: a.profile.email.unwrap_or_default(),
        email_verified: a.profile.email_verified,
        display_name: a.profile.display_name.unwrap_or_default(),
        given_name: a.profile.given_name.unwrap_or_default(),
        family_name: a.profile.family_name.unwrap_or_default(),
        last_login_at: a.last_login_at.map(timestamp),
        password_change_required: a.password_change_required,
    }
}

fn account_type(v: i32) -> Result<model::AccountType, Error> {
    match AccountType::try_from(v) {
        Ok(AccountType::Human) => Ok(model::AccountType::Human),
        Ok(AccountType::System) => Ok(model::AccountType::System),
        _ => Err(Error::invalid(
            "invalid_account_type",
            "account_type must be ACCOUNT_TYPE_HUMAN or ACCOUNT_TYPE_SYSTEM",
        )),
    }
}

fn account_status(v: i32) -> Result<model::AccountStatus, Error> {
    match AccountStatus::try_from(v) {
        Ok(AccountStatus::Active) => Ok(model::AccountStatus::Active),
        Ok(AccountStatus::Inactive) => Ok(model::AccountStatus::Inactive),
        Ok(AccountStatus::Suspended) => Ok(model::AccountStatus::Suspended),
        Ok(AccountStatus::Deleted) => Ok(model::AccountStatus::Deleted),
        _ => Err(Error::invalid(
            "invalid_status",
            "status must be ACCOUNT_STATUS_ACTIVE, ACCOUNT_STATUS_INACTIVE or ACCOUNT_STATUS_SUSPENDED",
        )),
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn reset_password(
        &self,
        req: Request<ResetPasswordRequest>,
    ) -> Result<Response<ResetPasswordResponse>, Status> {
        let c = caller(&req);
        let temporary = self
            .0
            .reset_password(&c, &req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(ResetPasswordResponse {
            temporary_password: temporary.to_string(),
        }))
    }

    async fn list_sessions(
        &self,
        req: Request<ListSessionsRequest>,
    ) -> Result<Response<ListSessionsResponse>, Status> {
        let c = caller(&req);
        let (sessions, families) = self
            .0
            .account_sessions(&c, &req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(ListSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|s| BrowserSession {
                    sid: s.sid,
                    created_at: Some(timestamp(s.created_at)),
                    last_seen_at: Some(timestamp(s.last_seen)),
                    expires_at: Some(timestamp(s.expires_at)),
                    peer: s.peer.unwrap_or_default(),
                    user_agent: s.user_agent.unwrap_or_default(),
                    amr: s.amr,
                })
                .collect(),
            families: families
                .into_iter()
                .map(|f| RefreshFamily {
                    family_id: f.family_id,
                    client_id: f.client_id.unwrap_or_default(),
                    scope: f.scope.unwrap_or_default(),
                    created_at: Some(timestamp(f.created_at)),
                    last_used_at: Some(timestamp(f.last_used)),
                    expires_at: Some(timestamp(f.expires_at)),
                })
                .collect(),
        }))
    }

    async fn create_account(
        &self,
        req: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        let t = account_type(r.account_type).or_status()?;
        let a = self
            .0
            .create_account(&c, &r.username, t, Some(Zeroizing::new(r.password)))
            .await
            .or_status()?;
        Ok(Response::new(CreateAccountResponse {
            account: Some(account(a)),
        }))
    }

    async fn list_accounts(
        &self,
        req: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let r = req.into_inner();
        let status = match r.status {
            0 => None,
            s => Some(account_status(s).or_status()?),
        };
        let page = self
            .0
            .search_accounts(r.page_size, &r.page_token, &r.query, status)
            .await
            .or_status()?;
        Ok(Response::new(ListAccountsResponse {
            accounts: page.accounts.into_iter().map(account).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_account(
        &self,
        req: Request<GetAccountRequest>,
    ) -> Result<Response<GetAccountResponse>, Status> {
        let a = self.0.get_account(&req.into_inner().id).await.or_status()?;
        Ok(Response::new(GetAccountResponse {
            account: Some(account(a)),
        }))
    }

    async fn update_account(
        &self,
        req: Request<UpdateAccountRequest>,
    ) -> Result<Response<UpdateAccountResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        if let Some(p) = paths.iter().find(|p| p.as_str() != "status") {
            return Err(status(Error::invalid(
                "invalid_update_mask",
                format!("update_mask path {p:?} is not updatable; only \"status\" is"),
            )));
        }
        let status = account_status(r.status).or_status()?;
        let a = self.0.update_status(&c, &r.id, status).await.or_status()?;
        Ok(Response::new(UpdateAccountResponse {
            account: Some(account(a)),
        }))
    }

    async fn update_profile(
        &self,
        req: Request<UpdateProfileRequest>,
    ) -> Result<Response<UpdateProfileResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        // Who may act on the account comes before what the request says, so
        // another account's request is PERMISSION_DENIED whatever it holds.
        c.self_or_admin(&r.account_id).or_status()?;
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(status(Error::invalid(
                "invalid_update_mask",
                "update_mask must name the fields to change",
            )));
        }
        let mut u = ProfileUpdate::default();
        for p in &paths {
            match p.as_str() {
                "email" => u.email = Some(r.email.clone()),
                "email_verified" => u.email_verified = Some(r.email_verified),
                "display_name" => u.display_name = Some(r.display_name.clone()),
                "given_name" => u.given_name = Some(r.given_name.clone()),
                "family_name" => u.family_name = Some(r.family_name.clone()),
                other => {
                    return Err(status(Error::invalid(
                        "invalid_update_mask",
                        format!("update_mask path {other:?} is not a profile field"),
                    )));
                }
            }
        }
        let a = self
            .0
            .update_profile(&c, &r.account_id, u)
            .await
            .or_status()?;
        Ok(Response::new(UpdateProfileResponse {
            account: Some(account(a)),
        }))
    }

    async fn delete_account(
        &self,
        req: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        let c = caller(&req);
        self.0
            .delete_account(&c, &req.into_inner().id)
            .await
            .or_status()?;
        Ok(Response::new(DeleteAccountResponse {}))
    }

    async fn get_roles(
        &self,
        req: Request<GetRolesRequest>,
    ) -> Result<Response<GetRolesResponse>, Status> {
        let roles = self
            .0
            .get_roles(&req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(GetRolesResponse { roles }))
    }

    async fn set_roles(
        &self,
        req: Request<SetRolesRequest>,
    ) -> Result<Response<SetRolesResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        let roles = self
            .0
            .set_roles(&c, &r.account_id, &r.roles)
            .await
            .or_status()?;
        Ok(Response::new(SetRolesResponse { roles }))
    }

    async fn rotate_client_secret(
        &self,
        req: Request<RotateClientSecretRequest>,
    ) -> Result<Response<RotateClientSecretResponse>, Status> {
        let c = caller(&req);
        let secret = self
            .0
            .rotate_client_secret(&c, &req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(RotateClientSecretResponse {
            client_secret: secret.to_string(),
        }))
    }

    async fn get_pg_creds(
        &self,
        req: Request<GetPgCredsRequest>,
    ) -> Result<Response<GetPgCredsResponse>, Status> {
        let c = caller(&req);
        let p = self
            .0
            .get_pg_creds(&c, &req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(GetPgCredsResponse {
            creds: Some(PgCreds {
                host: p.host,
                port: u32::from(p.port),
                database: p.database,
                username: p.username,
                password: p.password.to_string(),
            }),
        }))
    }

    async fn set_pg_creds(
        &self,
        req: Request<SetPgCredsRequest>,
    ) -> Result<Response<SetPgCredsResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        c.self_or_admin(&r.account_id).or_status()?;
        let port = u16::try_from(r.port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| Error::invalid("invalid_pgcreds", "port must be between 1 and 65535"))
            .or_status()?;
        self.0
            .set_pg_creds(
                &c,
                &r.account_id,
                DomainPgCreds {
                    host: r.host,
                    port,
                    database: r.database,
                    username: r.username,
                    password: Zeroizing::new(r.password),
                },
            )
            .await
            .or_status()?;
        Ok(Response::new(SetPgCredsResponse {}))
    }
}
