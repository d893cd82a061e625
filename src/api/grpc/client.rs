//! `mcias.v1.ClientService`: applications (OAuth clients).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::caller;
use crate::api::pb::client_service_server::ClientService;
use crate::api::pb::*;
use crate::api::status::{OrStatus, status};
use crate::api::timestamp;
use mcias_core::error::Error;
use mcias_core::idm::{ClientChanges, ClientSpec, Idm};
use mcias_core::model;
use mcias_core::model::ClientRecord;

/// The ClientService implementation.
#[derive(Debug, Clone)]
pub struct ClientApi(pub Arc<Idm>);

fn client(c: ClientRecord) -> OAuthClient {
    OAuthClient {
        client_id: c.client_id,
        name: c.name,
        client_type: match c.client_type {
            model::ClientType::Confidential => ClientType::Confidential,
            model::ClientType::Public => ClientType::Public,
        } as i32,
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        grant_types: c
            .grant_types
            .into_iter()
            .map(|g| match g {
                model::GrantType::AuthorizationCode => GrantType::AuthorizationCode,
                model::GrantType::RefreshToken => GrantType::RefreshToken,
                model::GrantType::ClientCredentials => GrantType::ClientCredentials,
            } as i32)
            .collect(),
        scopes: c.scopes,
        audience: c.audience,
        access_token_ttl_seconds: u32::try_from(c.access_token_ttl).unwrap_or_default(),
        refresh_token_ttl_seconds: u32::try_from(c.refresh_token_ttl).unwrap_or_default(),
        first_party: c.first_party,
        id_token_signing_alg: match c.id_token_alg {
            model::SigningAlg::EdDsa => SigningAlgorithm::Eddsa,
            model::SigningAlg::Rs256 => SigningAlgorithm::Rs256,
        } as i32,
        has_secret: c.secret_hash.is_some(),
        created_at: Some(timestamp(c.created_at)),
        updated_at: Some(timestamp(c.updated_at)),
    }
}

fn client_type(v: i32) -> Result<model::ClientType, Error> {
    match ClientType::try_from(v) {
        Ok(ClientType::Confidential) => Ok(model::ClientType::Confidential),
        Ok(ClientType::Public) => Ok(model::ClientType::Public),
        _ => Err(Error::invalid(
            "invalid_client_type",
            "client_type: must be CLIENT_TYPE_CONFIDENTIAL or CLIENT_TYPE_PUBLIC",
        )),
    }
}

fn grant_types(v: &[i32]) -> Result<Vec<model::GrantType>, Error> {
    v.iter()
        .map(|g| match GrantType::try_from(*g) {
            Ok(GrantType::AuthorizationCode) => Ok(model::GrantType::AuthorizationCode),
            Ok(GrantType::RefreshToken) => Ok(model::GrantType::RefreshToken),
            Ok(GrantType::ClientCredentials) => Ok(model::GrantType::ClientCredentials),
            _ => Err(Error::invalid(
                "invalid_grant_types",
                "grant_types: each must be GRANT_TYPE_AUTHORIZATION_CODE, GRANT_TYPE_REFRESH_TOKEN or GRANT_TYPE_CLIENT_CREDENTIALS",
            )),
        })
        .collect()
}

/// `None` for UNSPECIFIED (the default on creation).
fn signing_alg(v: i32) -> Result<Option<model::SigningAlg>, Error> {
    match SigningAlgorithm::try_from(v) {
        Ok(SigningAlgorithm::Unspecified) => Ok(None),
        Ok(SigningAlgorithm::Eddsa) => Ok(Some(model::SigningAlg::EdDsa)),
        Ok(SigningAlgorithm::Rs256) => Ok(Some(model::SigningAlg::Rs256)),
        Err(_) => Err(Error::invalid(
            "invalid_signing_alg",
            "id_token_signing_alg: must be SIGNING_ALGORITHM_EDDSA or SIGNING_ALGORITHM_RS256",
        )),
    }
}

/// The paths UpdateClient accepts in its mask.
const UPDATABLE: &[&str] = &[
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "scopes",
    "audience",
    "access_token_ttl_seconds",
    "refresh_token_ttl_seconds",
    "first_party",
    "id_token_signing_alg",
];

fn changes(c: OAuthClient, paths: &[String]) -> Result<ClientChanges, Error> {
    if let Some(p) = paths.iter().find(|p| !UPDATABLE.contains(&p.as_str())) {
        return Err(Error::invalid(
            "invalid_update_mask",
            format!("update_mask: path {p:?} is not updatable"),
        ));
    }
    let on = |name: &str| paths.is_empty() || paths.iter().any(|p| p == name);
    Ok(ClientChanges {
        grant_types: on("grant_types")
            .then(|| grant_types(&c.grant_types))
            .transpose()?,
        id_token_alg: if on("id_token_signing_alg") {
            Some(signing_alg(c.id_token_signing_alg)?.unwrap_or(model::SigningAlg::EdDsa))
        } else {
            None
        },
        name: on("name").then_some(c.name),
        redirect_uris: on("redirect_uris").then_some(c.redirect_uris),
        post_logout_redirect_uris: on("post_logout_redirect_uris")
            .then_some(c.post_logout_redirect_uris),
        scopes: on("scopes").then_some(c.scopes),
        audience: on("audience").then_some(c.audience),
        access_token_ttl: on("access_token_ttl_seconds")
            .then_some(i64::from(c.access_token_ttl_seconds)),
        refresh_token_ttl: on("refresh_token_ttl_seconds")
            .then_some(i64::from(c.refresh_token_ttl_seconds)),
        first_party: on("first_party").then_some(c.first_party),
    })
}

fn missing_client() -> Status {
    status(Error::invalid("missing_client", "client: is required"))
}

#[tonic::async_trait]
impl ClientService for ClientApi {
    async fn create_client(
        &self,
        req: Request<CreateClientRequest>,
    ) -> Result<Response<CreateClientResponse>, Status> {
        let c = caller(&req);
        let w = req.into_inner().client.ok_or_else(missing_client)?;
        let spec = ClientSpec {
            client_type: client_type(w.client_type).or_status()?,
            grant_types: grant_types(&w.grant_types).or_status()?,
            id_token_alg: signing_alg(w.id_token_signing_alg).or_status()?,
            name: w.name,
            redirect_uris: w.redirect_uris,
            post_logout_redirect_uris: w.post_logout_redirect_uris,
            scopes: w.scopes,
            audience: w.audience,
            access_token_ttl: i64::from(w.access_token_ttl_seconds),
            refresh_token_ttl: i64::from(w.refresh_token_ttl_seconds),
            first_party: w.first_party,
        };
        let (record, secret) = self
            .0
            .create_client(&c, &w.client_id, spec)
            .await
            .or_status()?;
        Ok(Response::new(CreateClientResponse {
            client: Some(client(record)),
            client_secret: secret.map(|s| s.to_string()).unwrap_or_default(),
        }))
    }

    async fn list_clients(
        &self,
        req: Request<ListClientsRequest>,
    ) -> Result<Response<ListClientsResponse>, Status> {
        let r = req.into_inner();
        let page = self
            .0
            .list_clients(r.page_size, &r.page_token)
            .await
            .or_status()?;
        Ok(Response::new(ListClientsResponse {
            clients: page.clients.into_iter().map(client).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_client(
        &self,
        req: Request<GetClientRequest>,
    ) -> Result<Response<GetClientResponse>, Status> {
        let c = self
            .0
            .get_client(&req.into_inner().client_id)
            .await
            .or_status()?;
        Ok(Response::new(GetClientResponse {
            client: Some(client(c)),
        }))
    }

    async fn update_client(
        &self,
        req: Request<UpdateClientRequest>,
    ) -> Result<Response<UpdateClientResponse>, Status> {
        let c = caller(&req);
        let r = req.into_inner();
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        let w = r.client.ok_or_else(missing_client)?;
        let ch = changes(w, &paths).or_status()?;
        let updated = self
            .0
            .update_client(&c, &r.client_id, ch)
            .await
            .or_status()?;
        Ok(Response::new(UpdateClientResponse {
            client: Some(client(updated)),
        }))
    }

    async fn delete_client(
        &self,
        req: Request<DeleteClientRequest>,
    ) -> Result<Response<DeleteClientResponse>, Status> {
        let c = caller(&req);
        self.0
            .delete_client(&c, &req.into_inner().client_id)
            .await
            .or_status()?;
        Ok(Response::new(DeleteClientResponse {}))
    }

    async fn rotate_secret(
        &self,
        req: Request<RotateSecretRequest>,
    ) -> Result<Response<RotateSecretResponse>, Status> {
        let c = caller(&req);
        let secret = self
            .0
            .rotate_oauth_client_secret(&c, &req.into_inner().client_id)
            .await
            .or_status()?;
        Ok(Response::new(RotateSecretResponse {
            client_secret: secret.to_string(),
        }))
    }
}
