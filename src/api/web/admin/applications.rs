//! Console applications (OAuth clients): list, register, edit, rotate the
//! secret (shown once), delete. Validation is the service's: its messages
//! name the field.

use axum::body::Body;
use http::{HeaderMap, Response, StatusCode};
use minijinja::{Value, context};

use super::{Admin, status_page};
use crate::api::pb;
use crate::api::pb::client_service_client::ClientServiceClient;
use crate::api::web::Web;
use crate::api::web::page::{self, Params};

const GRANTS: [(&str, pb::GrantType); 3] = [
    ("authorization_code", pb::GrantType::AuthorizationCode),
    ("refresh_token", pb::GrantType::RefreshToken),
    ("client_credentials", pb::GrantType::ClientCredentials),
];

fn client_view(c: &pb::OAuthClient) -> Value {
    let grants: Vec<&str> = c
        .grant_types
        .iter()
        .filter_map(|g| {
            GRANTS
                .iter()
                .find(|(_, x)| *x as i32 == *g)
                .map(|(n, _)| *n)
        })
        .collect();
    context! {
        client_id => c.client_id,
        name => c.name,
        client_type => if c.client_type == pb::ClientType::Public as i32 { "public" } else { "confidential" },
        redirect_uris => c.redirect_uris,
        post_logout_redirect_uris => c.post_logout_redirect_uris,
        scopes => c.scopes,
        grant_types => grants,
        first_party => c.first_party,
        id_token_alg => if c.id_token_signing_alg == pb::SigningAlgorithm::Rs256 as i32 { "RS256" } else { "EdDSA" },
        has_secret => c.has_secret,
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The client the form describes.
fn client_of(form: &Params) -> pb::OAuthClient {
    pb::OAuthClient {
        client_id: form.get("client_id").unwrap_or_default().trim().to_owned(),
        name: form.get("name").unwrap_or_default().trim().to_owned(),
        client_type: match form.get("client_type") {
            Some("public") => pb::ClientType::Public,
            _ => pb::ClientType::Confidential,
        } as i32,
        redirect_uris: lines(form.get("redirect_uris").unwrap_or_default()),
        post_logout_redirect_uris: lines(form.get("post_logout_redirect_uris").unwrap_or_default()),
        grant_types: GRANTS
            .iter()
            .filter(|(n, _)| form.get(&format!("grant_{n}")) == Some("on"))
            .map(|(_, g)| *g as i32)
            .collect(),
        scopes: form
            .get("scopes")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        first_party: form.get("first_party") == Some("on"),
        id_token_signing_alg: match form.get("id_token_alg") {
            Some("RS256") => pb::SigningAlgorithm::Rs256,
            _ => pb::SigningAlgorithm::Eddsa,
        } as i32,
        ..Default::default()
    }
}

impl Web {
    fn clients(&self) -> ClientServiceClient<crate::api::rest::InProcess> {
        ClientServiceClient::new(self.grpc.clone())
    }

    /// `GET /admin/applications`
    pub(super) async fn applications_page(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        q: &Params,
        failed: Option<(String, pb::OAuthClient)>,
    ) -> Response<Body> {
        let list = match self
            .clients()
            .list_clients(admin.req(pb::ListClientsRequest {
                page_size: 100,
                page_token: q.get("page").unwrap_or_default().to_owned(),
            }))
            .await
        {
            Ok(r) => r.into_inner(),
            Err(s) => return status_page(&s),
        };
        let clients: Vec<Value> = list.clients.iter().map(client_view).collect();
        let (error, draft) = match failed {
            Some((e, c)) => (Some(e), client_view(&c)),
            None => (
                None,
                client_view(&pb::OAuthClient {
                    scopes: vec!["openid".into(), "profile".into(), "email".into()],
                    grant_types: vec![
                        pb::GrantType::AuthorizationCode as i32,
                        pb::GrantType::RefreshToken as i32,
                    ],
                    ..Default::default()
                }),
            ),
        };
        self.admin_page(
            headers,
            admin,
            if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            "admin_applications.html",
            context! {
                nav => "applications",
                clients,
                next => (!list.next_page_token.is_empty()).then_some(list.next_page_token),
                c => draft,
                creating => true,
                error,
            },
        )
    }

    /// `GET /admin/applications/{id}`
    pub(super) async fn application_page(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        id: &str,
        notice: Option<&str>,
        secret: Option<String>,
    ) -> Response<Body> {
        self.application_page_with(headers, admin, id, notice, None, secret)
            .await
    }

    async fn application_page_with(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        id: &str,
        notice: Option<&str>,
        error: Option<String>,
        secret: Option<String>,
    ) -> Response<Body> {
        let c = match self
            .clients()
            .get_client(admin.req(pb::GetClientRequest {
                client_id: id.to_owned(),
            }))
            .await
        {
            Ok(r) => match r.into_inner().client {
                Some(c) => c,
                None => return page::error_page(StatusCode::NOT_FOUND, "client not found"),
            },
            Err(s) => return status_page(&s),
        };
        self.admin_page(
            headers,
            admin,
            if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            "admin_application.html",
            context! { nav => "applications", c => client_view(&c), creating => false, notice, error, secret },
        )
    }

    /// `POST /admin/applications`
    pub(super) async fn create_application(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        form: &Params,
    ) -> Response<Body> {
        let client = client_of(form);
        match self
            .clients()
            .create_client(admin.req(pb::CreateClientRequest {
                client: Some(client.clone()),
            }))
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                let id = r.client.map(|c| c.client_id).unwrap_or_default();
                let secret = (!r.client_secret.is_empty()).then_some(r.client_secret);
                self.application_page(
                    headers,
                    admin,
                    &id,
                    Some("The application is registered."),
                    secret,
                )
                .await
            }
            Err(s) => {
                self.applications_page(
                    headers,
                    admin,
                    &Params::default(),
                    Some((s.message().to_owned(), client)),
                )
                .await
            }
        }
    }

    /// `POST /admin/applications/{id}`: saves the form's settings.
    pub(super) async fn update_application(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        id: &str,
        form: &Params,
    ) -> Response<Body> {
        let client = client_of(form);
        let paths = [
            "name",
            "redirect_uris",
            "post_logout_redirect_uris",
            "grant_types",
            "scopes",
            "first_party",
            "id_token_signing_alg",
        ];
        match self
            .clients()
            .update_client(admin.req(pb::UpdateClientRequest {
                client_id: id.to_owned(),
                client: Some(client),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            }))
            .await
        {
            Ok(_) => {
                self.application_page(headers, admin, id, Some("The application was saved."), None)
                    .await
            }
            Err(s) => {
                self.application_page_with(
                    headers,
                    admin,
                    id,
                    None,
                    Some(s.message().to_owned()),
                    None,
                )
                .await
            }
        }
    }

    /// `POST /admin/applications/{id}/{rotate-secret|delete}` (step-up).
    pub(super) async fn application_action(
        &self,
        headers: &HeaderMap,
        admin: &Admin,
        id: &str,
        action: &str,
    ) -> Response<Body> {
        if let Err(res) = self.step_up(admin, &format!("/admin/applications/{id}")) {
            return res;
        }
        match action {
            "rotate-secret" => match self
                .clients()
                .rotate_secret(admin.req(pb::RotateSecretRequest {
                    client_id: id.to_owned(),
                }))
                .await
            {
                Ok(r) => {
                    self.application_page(
                        headers,
                        admin,
                        id,
                        Some("A new secret was made; the old one no longer works."),
                        Some(r.into_inner().client_secret),
                    )
                    .await
                }
                Err(s) => {
                    self.application_page_with(
                        headers,
                        admin,
                        id,
                        None,
                        Some(s.message().to_owned()),
                        None,
                    )
                    .await
                }
            },
            "delete" => match self
                .clients()
                .delete_client(admin.req(pb::DeleteClientRequest {
                    client_id: id.to_owned(),
                }))
                .await
            {
                Ok(_) => page::redirect("/admin/applications"),
                Err(s) => status_page(&s),
            },
            _ => page::error_page(StatusCode::NOT_FOUND, "There is no such action."),
        }
    }
}
