//! `mcias.v1.TokenService`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::caller;
use crate::api::pb::token_service_server::TokenService;
use crate::api::pb::*;
use crate::api::status::OrStatus;
use crate::api::timestamp;
use mcias_core::idm::Idm;

/// The TokenService implementation.
#[derive(Debug, Clone)]
pub struct TokenApi(pub Arc<Idm>);

#[tonic::async_trait]
impl TokenService for TokenApi {
    async fn validate_token(
        &self,
        req: Request<ValidateTokenRequest>,
    ) -> Result<Response<ValidateTokenResponse>, Status> {
        let claims = self.0.validate(&req.into_inner().token);
        Ok(Response::new(ValidateTokenResponse {
            valid: claims.is_some(),
            claims: claims.map(|c| TokenClaims {
                subject: c.sub,
                roles: c.roles,
                issuer: c.iss,
                issued_at: Some(timestamp(c.iat)),
                expires_at: Some(timestamp(c.exp)),
                jti: c.jti,
                token_type: c.typ,
            }),
        }))
    }

    async fn issue_service_token(
        &self,
        req: Request<IssueServiceTokenRequest>,
    ) -> Result<Response<IssueServiceTokenResponse>, Status> {
        let c = caller(&req);
        let t = self
            .0
            .issue_service_token(&c, &req.into_inner().account_id)
            .await
            .or_status()?;
        Ok(Response::new(IssueServiceTokenResponse {
            token: t.token.to_string(),
            expires_at: Some(timestamp(t.expires_at)),
        }))
    }

    async fn revoke_token(
        &self,
        req: Request<RevokeTokenRequest>,
    ) -> Result<Response<RevokeTokenResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        self.0
            .revoke_token(&c, &r.jti, &r.reason)
            .await
            .or_status()?;
        Ok(Response::new(RevokeTokenResponse {}))
    }

    async fn introspect_token(
        &self,
        req: Request<IntrospectTokenRequest>,
    ) -> Result<Response<IntrospectTokenResponse>, Status> {
        let c = caller(&req);
        let i = self
            .0
            .introspect(&c, &req.into_inner().token)
            .await
            .or_status()?;
        let ts = |v: i64| (i.active).then(|| timestamp(v));
        Ok(Response::new(IntrospectTokenResponse {
            active: i.active,
            token_type: i.token_type.clone(),
            subject: i.subject.clone(),
            roles: i.roles.clone(),
            issuer: i.issuer.clone(),
            issued_at: ts(i.issued_at),
            expires_at: ts(i.expires_at),
            jti: i.jti.clone(),
            account_type: i.account_type.clone(),
        }))
    }

    async fn revoke_token_value(
        &self,
        req: Request<RevokeTokenValueRequest>,
    ) -> Result<Response<RevokeTokenValueResponse>, Status> {
        let c = caller(&req);
        self.0
            .revoke_value(&c, &req.into_inner().token)
            .await
            .or_status()?;
        Ok(Response::new(RevokeTokenValueResponse {}))
    }

    async fn list_public_keys(
        &self,
        _req: Request<ListPublicKeysRequest>,
    ) -> Result<Response<ListPublicKeysResponse>, Status> {
        let keys = self
            .0
            .public_keys()
            .into_iter()
            .map(|k| Jwk {
                kty: k.kty.into(),
                crv: k.crv.map(Into::into).unwrap_or_default(),
                x: k.x.unwrap_or_default(),
                kid: k.kid,
                alg: k.alg.into(),
                r#use: k.use_.into(),
                n: k.n.unwrap_or_default(),
                e: k.e.unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(ListPublicKeysResponse { keys }))
    }
}
