//! `mcias.v1.AuthService`.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

use super::caller;
use crate::api::pb::auth_service_server::AuthService;
use crate::api::pb::*;
use crate::api::status::OrStatus;
use crate::api::timestamp;
use mcias_core::idm::Idm;

fn refresh_parts(t: &mcias_core::idm::IssuedToken) -> (String, Option<prost_types::Timestamp>) {
    match &t.refresh {
        Some((value, exp)) => (value.to_string(), Some(timestamp(*exp))),
        None => (String::new(), None),
    }
}

/// The AuthService implementation.
#[derive(Debug, Clone)]
pub struct AuthApi(pub Arc<Idm>);

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn login(&self, req: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        let t = self
            .0
            .login(&c, &r.username, Zeroizing::new(r.password), &r.totp_code)
            .await
            .or_status()?;
        let (refresh_token, refresh_expires_at) = refresh_parts(&t);
        Ok(Response::new(LoginResponse {
            token: t.token.to_string(),
            expires_at: Some(timestamp(t.expires_at)),
            refresh_token,
            refresh_expires_at,
        }))
    }

    async fn refresh_token(
        &self,
        req: Request<RefreshTokenRequest>,
    ) -> Result<Response<RefreshTokenResponse>, Status> {
        let c = caller(&req);
        let t = self
            .0
            .refresh(&c, &req.into_inner().refresh_token)
            .await
            .or_status()?;
        let (refresh_token, refresh_expires_at) = refresh_parts(&t);
        Ok(Response::new(RefreshTokenResponse {
            token: t.token.to_string(),
            expires_at: Some(timestamp(t.expires_at)),
            refresh_token,
            refresh_expires_at,
        }))
    }

    async fn client_credentials(
        &self,
        req: Request<ClientCredentialsRequest>,
    ) -> Result<Response<ClientCredentialsResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        let t = self
            .0
            .client_credentials(&c, &r.client_id, Zeroizing::new(r.client_secret))
            .await
            .or_status()?;
        Ok(Response::new(ClientCredentialsResponse {
            token: t.token.to_string(),
            expires_at: Some(timestamp(t.expires_at)),
        }))
    }

    async fn sign_out_everywhere(
        &self,
        req: Request<SignOutEverywhereRequest>,
    ) -> Result<Response<SignOutEverywhereResponse>, Status> {
        let c = caller(&req);
        self.0
            .sign_out_everywhere(&c, &req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(SignOutEverywhereResponse {}))
    }

    async fn logout(
        &self,
        req: Request<LogoutRequest>,
    ) -> Result<Response<LogoutResponse>, Status> {
        self.0.logout(&caller(&req)).await.or_status()?;
        Ok(Response::new(LogoutResponse {}))
    }

    async fn renew_token(
        &self,
        req: Request<RenewTokenRequest>,
    ) -> Result<Response<RenewTokenResponse>, Status> {
        let t = self.0.renew(&caller(&req)).await.or_status()?;
        Ok(Response::new(RenewTokenResponse {
            token: t.token.to_string(),
            expires_at: Some(timestamp(t.expires_at)),
        }))
    }

    async fn enroll_totp(
        &self,
        req: Request<EnrollTotpRequest>,
    ) -> Result<Response<EnrollTotpResponse>, Status> {
        let (secret, uri) = self.0.enroll_totp(&caller(&req)).await.or_status()?;
        Ok(Response::new(EnrollTotpResponse {
            secret: secret.to_string(),
            otpauth_uri: uri.to_string(),
        }))
    }

    async fn confirm_totp(
        &self,
        req: Request<ConfirmTotpRequest>,
    ) -> Result<Response<ConfirmTotpResponse>, Status> {
        let c = caller(&req);
        self.0
            .confirm_totp(&c, &req.into_inner().code)
            .await
            .or_status()?;
        Ok(Response::new(ConfirmTotpResponse {}))
    }

    async fn remove_totp(
        &self,
        req: Request<RemoveTotpRequest>,
    ) -> Result<Response<RemoveTotpResponse>, Status> {
        let c = caller(&req);
        self.0
            .remove_totp(&c, &req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(RemoveTotpResponse {}))
    }

    async fn change_password(
        &self,
        req: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        self.0
            .change_password(
                &c,
                Zeroizing::new(r.current_password),
                Zeroizing::new(r.new_password),
            )
            .await
            .or_status()?;
        Ok(Response::new(ChangePasswordResponse {}))
    }
}
