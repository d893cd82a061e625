//! Applications (OAuth clients) end to end: ClientService over gRPC and its
//! REST routes against the real server — creation of confidential and
//! public clients, validation errors naming the field, the secret shown
//! once, rotation, deletion, admin only, audited.

use mcias_testkit as common;

use common::{TestServer, assert_code, authed};
use mcias_proto::{self as pb, AccountType};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::Code;

const PW: &str = "correct horse battery";

fn web_client(id: &str) -> pb::OAuthClient {
    pb::OAuthClient {
        client_id: id.into(),
        name: "Wiki".into(),
        client_type: pb::ClientType::Confidential as i32,
        redirect_uris: vec!["https://wiki.example/callback".into()],
        grant_types: vec![
            pb::GrantType::AuthorizationCode as i32,
            pb::GrantType::RefreshToken as i32,
        ],
        scopes: vec!["openid".into(), "profile".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn clients_over_grpc() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let mut c = s.clients().await;

    let created = c
        .create_client(authed(
            pb::CreateClientRequest {
                client: Some(web_client("wiki")),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let secret = created.client_secret.clone();
    assert!(secret.len() >= 43, "256 bits: {secret}");
    let wiki = created.client.unwrap();
    assert!(wiki.has_secret);
    assert_eq!(
        wiki.id_token_signing_alg,
        pb::SigningAlgorithm::Eddsa as i32
    );

    let public = c
        .create_client(authed(
            pb::CreateClientRequest {
                client: Some(pb::OAuthClient {
                    client_id: "cli".into(),
                    client_type: pb::ClientType::Public as i32,
                    redirect_uris: vec![
                        "http://127.0.0.1:8976/cb".into(),
                        "http://[::1]/cb".into(),
                    ],
                    grant_types: vec![pb::GrantType::AuthorizationCode as i32],
                    ..web_client("cli")
                }),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(public.client_secret.is_empty());
    assert!(!public.client.unwrap().has_secret);

    // The secret never comes back.
    let got = c
        .get_client(authed(
            pb::GetClientRequest {
                client_id: "wiki".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.client, Some(wiki.clone()));
    let listed = c
        .list_clients(authed(pb::ListClientsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.clients.len(), 2);
    assert!(!format!("{listed:?}{got:?}").contains(&secret));

    // Validation names the field.
    for (uri, problem) in [
        ("http://evil.example/cb", "https"),
        ("https://wiki.example/cb#x", "fragment"),
        ("https://*.wiki.example/cb", "wildcard"),
    ] {
        let mut bad = web_client("bad-one");
        bad.redirect_uris = vec![uri.into()];
        let st = assert_code(
            c.create_client(authed(
                pb::CreateClientRequest { client: Some(bad) },
                &admin,
            ))
            .await,
            Code::InvalidArgument,
        );
        assert!(
            st.message().starts_with("redirect_uris[0]"),
            "{uri}: {}",
            st.message()
        );
        assert!(st.message().contains(problem), "{uri}: {}", st.message());
    }

    // Update one field; the others stay.
    let updated = c
        .update_client(authed(
            pb::UpdateClientRequest {
                client_id: "wiki".into(),
                client: Some(pb::OAuthClient {
                    first_party: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["first_party".into()],
                }),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .client
        .unwrap();
    assert!(updated.first_party);
    assert_eq!(updated.redirect_uris, wiki.redirect_uris);

    // Rotation gives a new secret.
    let rotated = c
        .rotate_secret(authed(
            pb::RotateSecretRequest {
                client_id: "wiki".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    assert_ne!(rotated, secret);
    assert_code(
        c.rotate_secret(authed(
            pb::RotateSecretRequest {
                client_id: "cli".into(),
            },
            &admin,
        ))
        .await,
        Code::FailedPrecondition,
    );

    // A non-admin is refused everywhere.
    s.create(&admin, "alice", AccountType::Human, PW).await;
    let alice = s.login("alice", PW).await;
    assert_code(
        c.list_clients(authed(pb::ListClientsRequest::default(), &alice))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        c.create_client(authed(
            pb::CreateClientRequest {
                client: Some(web_client("mine")),
            },
            &alice,
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_code(
        c.rotate_secret(authed(
            pb::RotateSecretRequest {
                client_id: "wiki".into(),
            },
            &alice,
        ))
        .await,
        Code::PermissionDenied,
    );

    // Delete; the id stays taken.
    c.delete_client(authed(
        pb::DeleteClientRequest {
            client_id: "wiki".into(),
        },
        &admin,
    ))
    .await
    .unwrap();
    assert_code(
        c.get_client(authed(
            pb::GetClientRequest {
                client_id: "wiki".into(),
            },
            &admin,
        ))
        .await,
        Code::NotFound,
    );
    assert_code(
        c.create_client(authed(
            pb::CreateClientRequest {
                client: Some(web_client("wiki")),
            },
            &admin,
        ))
        .await,
        Code::AlreadyExists,
    );

    // Audited, without the secrets.
    let events = s
        .admin()
        .await
        .list_audit_events(authed(pb::ListAuditEventsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .events;
    for t in [
        "client_create",
        "client_update",
        "client_secret_rotate",
        "client_delete",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.event_type == t && e.target_id == "wiki"),
            "{t} missing"
        );
    }
    let all = format!("{events:?}");
    assert!(!all.contains(&secret) && !all.contains(&rotated));
}

#[tokio::test]
async fn clients_over_rest() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let http = s.http();
    let base = s.base_url();

    let res = http
        .post(format!("{base}/v1/clients"))
        .bearer_auth(&admin)
        .json(&json!({
            "clientId": "portal",
            "name": "Portal",
            "clientType": "CLIENT_TYPE_CONFIDENTIAL",
            "redirectUris": ["https://portal.example/cb"],
            "postLogoutRedirectUris": ["https://portal.example/"],
            "grantTypes": ["GRANT_TYPE_AUTHORIZATION_CODE", "GRANT_TYPE_CLIENT_CREDENTIALS"],
            "scopes": ["openid"],
            "audience": "portal-api",
            "accessTokenTtlSeconds": 900,
            "idTokenSigningAlg": "SIGNING_ALGORITHM_RS256",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let secret = body["clientSecret"].as_str().unwrap().to_owned();
    assert!(!secret.is_empty());
    assert_eq!(
        body["client"]["idTokenSigningAlg"],
        "SIGNING_ALGORITHM_RS256"
    );
    assert_eq!(body["client"]["accessTokenTtlSeconds"], 900);

    let res = http
        .post(format!("{base}/v1/clients"))
        .bearer_auth(&admin)
        .json(&json!({
            "clientId": "spa",
            "name": "SPA",
            "clientType": "CLIENT_TYPE_PUBLIC",
            "redirectUris": ["http://localhost:3000/cb"],
            "grantTypes": ["GRANT_TYPE_AUTHORIZATION_CODE"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body["clientSecret"].as_str().unwrap_or_default().is_empty());

    // Errors name the field.
    let res = http
        .post(format!("{base}/v1/clients"))
        .bearer_auth(&admin)
        .json(&json!({
            "clientId": "evil",
            "name": "Evil",
            "clientType": "CLIENT_TYPE_CONFIDENTIAL",
            "redirectUris": ["http://evil.example/cb"],
            "grantTypes": ["GRANT_TYPE_AUTHORIZATION_CODE"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("redirect_uris[0]"),
        "{body}"
    );

    // Get and list never carry the secret.
    for url in [
        format!("{base}/v1/clients/portal"),
        format!("{base}/v1/clients"),
    ] {
        let res = http.get(&url).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();
        assert!(
            !text.contains(&secret) && !text.contains("clientSecret"),
            "{text}"
        );
    }

    let res = http
        .patch(format!("{base}/v1/clients/portal"))
        .bearer_auth(&admin)
        .json(&json!({"client": {"name": "Portal 2"}, "updateMask": "name"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["client"]["name"], "Portal 2");
    assert_eq!(body["client"]["audience"], "portal-api");

    let res = http
        .post(format!("{base}/v1/clients/portal/secret"))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_ne!(body["clientSecret"].as_str().unwrap(), secret);

    let res = http
        .delete(format!("{base}/v1/clients/spa"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .get(format!("{base}/v1/clients/spa"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Without a token: refused.
    let res = http.get(format!("{base}/v1/clients")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
