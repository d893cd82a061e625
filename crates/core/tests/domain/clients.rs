//! Applications (OAuth clients): validation naming the field, the secret
//! shown once and stored as an HMAC, update, rotation, soft deletion, and
//! the audit trail.

use mcias_core::error::ErrorKind;
use mcias_core::idm::{ClientChanges, ClientSpec};
use mcias_core::model::{ClientType, GrantType, SigningAlg};

use crate::kit::{Kit, assert_kind};

fn spec(client_type: ClientType) -> ClientSpec {
    ClientSpec {
        name: "Wiki".to_owned(),
        client_type,
        redirect_uris: vec!["https://wiki.example/callback".to_owned()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["openid".to_owned(), "email".to_owned()],
        audience: String::new(),
        access_token_ttl: 0,
        refresh_token_ttl: 0,
        first_party: false,
        id_token_alg: None,
    }
}

#[tokio::test]
async fn a_confidential_client_gets_a_secret_once_kept_only_as_an_hmac() {
    let k = Kit::new().await;
    let (c, secret) = k
        .idm
        .create_client(&k.admin(), "wiki", spec(ClientType::Confidential))
        .await
        .unwrap();
    let secret = secret.expect("a confidential client has a secret");
    assert_eq!(c.client_id, "wiki");
    assert_eq!(c.scopes, ["email", "openid"], "sorted");
    assert_eq!(c.id_token_alg, SigningAlg::EdDsa, "the default");
    let stored = k.idm.get_client("wiki").await.unwrap();
    let hash = stored.secret_hash.clone().unwrap();
    assert!(
        !hash.contains(secret.as_str()) && hash.len() == 64,
        "HMAC-SHA256, hex"
    );
    assert!(
        !format!("{stored:?}").contains(&hash),
        "Debug hides the hash"
    );
    k.idm
        .verify_oauth_client_secret("wiki", &secret)
        .await
        .unwrap();
    assert_kind(
        k.idm
            .verify_oauth_client_secret("wiki", "wrong.secret")
            .await,
        ErrorKind::Unauthenticated,
    );

    let new = k
        .idm
        .rotate_oauth_client_secret(&k.admin(), "wiki")
        .await
        .unwrap();
    assert_ne!(new.as_str(), secret.as_str());
    assert_kind(
        k.idm.verify_oauth_client_secret("wiki", &secret).await,
        ErrorKind::Unauthenticated,
    );
    k.idm
        .verify_oauth_client_secret("wiki", &new)
        .await
        .unwrap();

    for event in ["client_create", "client_secret_rotate"] {
        let events = k.audit(event).await;
        assert_eq!(events.len(), 1, "{event}");
        assert_eq!(events[0].target_id.as_deref(), Some("wiki"));
        assert!(!events[0].details.contains(new.as_str()));
        assert!(!events[0].details.contains(secret.as_str()));
    }
}

#[tokio::test]
async fn a_public_client_has_no_secret_and_no_client_credentials() {
    let k = Kit::new().await;
    let mut s = spec(ClientType::Public);
    s.redirect_uris = vec![
        "http://127.0.0.1:49152/cb".to_owned(),
        "http://[::1]/cb".to_owned(),
        "http://localhost:8080".to_owned(),
        "com.example.app:/cb".to_owned(),
    ];
    // Private-use schemes are not accepted in this slice: https or loopback.
    let e = assert_kind(
        k.idm.create_client(&k.admin(), "cli", s.clone()).await,
        ErrorKind::InvalidArgument,
    );
    assert!(e.message.starts_with("redirect_uris[3]"), "{e}");
    s.redirect_uris.pop();
    let (c, secret) = k
        .idm
        .create_client(&k.admin(), "", s.clone())
        .await
        .unwrap();
    assert!(secret.is_none() && c.secret_hash.is_none());
    assert!(!c.client_id.is_empty(), "generated id");
    assert_kind(
        k.idm
            .rotate_oauth_client_secret(&k.admin(), &c.client_id)
            .await,
        ErrorKind::FailedPrecondition,
    );
    s.grant_types.push(GrantType::ClientCredentials);
    let e = assert_kind(
        k.idm.create_client(&k.admin(), "cli2", s).await,
        ErrorKind::InvalidArgument,
    );
    assert!(e.message.starts_with("grant_types"), "{e}");
}

/// A change to a valid specification.
type Change = Box<dyn Fn(&mut ClientSpec)>;

#[tokio::test]
async fn validation_errors_name_the_field() {
    let k = Kit::new().await;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "ok-id",
            Box::new(|s| s.redirect_uris = vec!["http://evil.example/cb".into()]),
            "redirect_uris[0]",
        ),
        (
            "ok-id",
            Box::new(|s| s.redirect_uris = vec!["https://a.example/cb#frag".into()]),
            "redirect_uris[0]",
        ),
        (
            "ok-id",
            Box::new(|s| s.redirect_uris = vec!["https://*.example/cb".into()]),
            "redirect_uris[0]",
        ),
        (
            "ok-id",
            Box::new(|s| s.redirect_uris = vec!["/relative".into()]),
            "redirect_uris[0]",
        ),
        (
            "ok-id",
            Box::new(|s| s.redirect_uris = vec!["https://user@a.example/".into()]),
            "redirect_uris[0]",
        ),
        (
            "ok-id",
            Box::new(|s| s.post_logout_redirect_uris = vec!["http://evil.example/".into()]),
            "post_logout_redirect_uris[0]",
        ),
        (
            "ok-id",
            Box::new(|s| s.redirect_uris.clear()),
            "redirect_uris",
        ),
        ("ok-id", Box::new(|s| s.name.clear()), "name"),
        ("ok-id", Box::new(|s| s.name = "x".repeat(101)), "name"),
        (
            "ok-id",
            Box::new(|s| s.grant_types = vec![GrantType::RefreshToken]),
            "grant_types",
        ),
        ("ok-id", Box::new(|s| s.grant_types.clear()), "grant_types"),
        (
            "ok-id",
            Box::new(|s| s.scopes = vec!["two words".into()]),
            "scopes[0]",
        ),
        (
            "ok-id",
            Box::new(|s| s.access_token_ttl = 59),
            "access_token_ttl_seconds",
        ),
        (
            "ok-id",
            Box::new(|s| s.access_token_ttl = 86_401),
            "access_token_ttl_seconds",
        ),
        (
            "ok-id",
            Box::new(|s| {
                s.access_token_ttl = 600;
                s.refresh_token_ttl = 300
            }),
            "refresh_token_ttl_seconds",
        ),
        (
            "ok-id",
            Box::new(|s| s.refresh_token_ttl = 366 * 86_400),
            "refresh_token_ttl_seconds",
        ),
        ("Bad_ID", Box::new(|_| {}), "client_id"),
        ("ab", Box::new(|_| {}), "client_id"),
    ];
    for (id, change, field) in cases {
        let mut s = spec(ClientType::Confidential);
        change(&mut s);
        let e = assert_kind(
            k.idm.create_client(&k.admin(), id, s).await,
            ErrorKind::InvalidArgument,
        );
        assert!(e.message.starts_with(field), "{field}: {e}");
    }
    assert!(k.audit("client_create").await.is_empty());
}

#[tokio::test]
async fn update_list_and_delete() {
    let k = Kit::new().await;
    for id in ["b-app", "a-app", "c-app"] {
        k.idm
            .create_client(&k.admin(), id, spec(ClientType::Confidential))
            .await
            .unwrap();
    }
    let first = k.idm.list_clients(2, "").await.unwrap();
    let ids: Vec<_> = first.clients.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(ids, ["a-app", "b-app"]);
    let rest = k.idm.list_clients(2, &first.next_page_token).await.unwrap();
    assert_eq!(rest.clients.len(), 1);
    assert!(rest.next_page_token.is_empty());

    k.clock.advance(10);
    let updated = k
        .idm
        .update_client(
            &k.admin(),
            "a-app",
            ClientChanges {
                name: Some("Renamed".to_owned()),
                first_party: Some(true),
                id_token_alg: Some(SigningAlg::Rs256),
                ..ClientChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Renamed");
    assert!(updated.first_party);
    assert_eq!(updated.scopes, ["email", "openid"], "untouched");
    assert!(updated.updated_at > updated.created_at);
    assert_eq!(k.idm.get_client("a-app").await.unwrap(), updated);
    let e = assert_kind(
        k.idm
            .update_client(
                &k.admin(),
                "a-app",
                ClientChanges {
                    redirect_uris: Some(vec!["http://evil.example/".to_owned()]),
                    ..ClientChanges::default()
                },
            )
            .await,
        ErrorKind::InvalidArgument,
    );
    assert!(e.message.starts_with("redirect_uris[0]"), "{e}");

    k.idm.delete_client(&k.admin(), "a-app").await.unwrap();
    assert_kind(k.idm.get_client("a-app").await, ErrorKind::NotFound);
    assert_kind(
        k.idm.delete_client(&k.admin(), "a-app").await,
        ErrorKind::NotFound,
    );
    assert_kind(
        k.idm
            .create_client(&k.admin(), "a-app", spec(ClientType::Public))
            .await,
        ErrorKind::AlreadyExists,
    );
    assert_eq!(k.audit("client_update").await.len(), 1);
    assert_eq!(k.audit("client_delete").await.len(), 1);
}
