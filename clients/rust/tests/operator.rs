//! The operator calls `mciasctl` makes through this library (refresh,
//! client credentials, introspection, revocation by value, sign-out
//! everywhere, TOTP, password change, key and secret rotation, paging),
//! against a real `mciassrv dev` started by `clients/testdata/with-server.sh`.

use std::path::Path;
use std::time::Duration;

use mcias_client::{AuditFilter, Client, ConnectOptions, Error, TokenHint, pb};

fn var(k: &str) -> String {
    let v = std::env::var(k).unwrap_or_default();
    assert!(
        !v.is_empty(),
        "run the tests through clients/testdata/with-server.sh (make test-rust)"
    );
    v
}

fn options() -> ConnectOptions {
    ConnectOptions {
        connect_timeout: Some(Duration::from_secs(10)),
        timeout: Some(Duration::from_secs(60)),
    }
}

/// The ids of the published signing keys.
async fn published(client: &Client) -> Vec<String> {
    let keys = client.public_keys().await.unwrap();
    keys.into_iter().map(|k| k.kid).collect()
}

#[tokio::test]
async fn operator_calls() {
    let (server, ca, admin_password) = (
        var("MCIAS_SERVER"),
        var("MCIAS_CA_CERT"),
        var("MCIAS_ADMIN_PASSWORD"),
    );
    let admin = Client::connect(&server, Some(Path::new(&ca)), None, &options())
        .await
        .unwrap();
    let login = admin.login("admin", &admin_password, "").await.unwrap();
    assert!(!login.refresh_token.is_empty());

    // Refresh: a new pair, and the client holds the new access token.
    let refreshed = admin.refresh_token(&login.refresh_token).await.unwrap();
    assert_eq!(admin.token(), refreshed.token);
    assert_ne!(refreshed.refresh_token, login.refresh_token);
    let intro = admin
        .introspect(&refreshed.refresh_token, Some(TokenHint::Refresh))
        .await
        .unwrap();
    assert!(intro.active);
    let intro = admin.introspect("not a token", None).await.unwrap();
    assert!(!intro.active, "an unknown token is inactive, not an error");

    // Accounts by name, and one page at a time.
    let pid = std::process::id();
    let svc_name = format!("opsvc{pid}");
    let sys = admin
        .create_account(&svc_name, pb::AccountType::System, "")
        .await
        .unwrap();
    let found = admin
        .find_account_by_username(&svc_name.to_uppercase(), 1)
        .await
        .unwrap();
    assert_eq!(found.id, sys.id);
    assert!(matches!(
        admin
            .find_account_by_username("nobody-by-this-name", 500)
            .await,
        Err(Error::NotFound(_))
    ));
    let page = admin.list_accounts_page(1, "").await.unwrap();
    assert_eq!(page.accounts.len(), 1);
    assert!(!page.next_page_token.is_empty());

    // Client credentials with a rotated secret; a separate token cell.
    let secret = admin.rotate_client_secret(&sys.id).await.unwrap();
    let svc = admin.with_token(None);
    let cc = svc.client_credentials(&sys.id, &secret).await.unwrap();
    assert_eq!(svc.token(), cc.token);
    assert_ne!(admin.token(), svc.token());
    assert!(admin.validate(&cc.token).await.unwrap().valid);
    svc.revoke_token_value(&cc.token, Some(TokenHint::Access))
        .await
        .unwrap();
    assert!(!admin.validate(&cc.token).await.unwrap().valid);
    let cc = svc.client_credentials(&sys.id, &secret).await.unwrap();
    admin.sign_out_everywhere(&sys.id).await.unwrap();
    assert!(!admin.validate(&cc.token).await.unwrap().valid);
    assert!(matches!(
        svc.client_credentials(&sys.id, "wrong secret").await,
        Err(Error::Unauthenticated(_))
    ));

    // A person: password change, TOTP enrollment and its removal.
    let name = format!("ophuman{pid}");
    let (first, second) = ("first passphrase 4711", "second passphrase 4712");
    let human = admin
        .create_account(&name, pb::AccountType::Human, first)
        .await
        .unwrap();
    let user = admin.with_token(None);
    user.login(&name, first, "").await.unwrap();
    user.change_password(first, second).await.unwrap();
    user.login(&name, second, "").await.unwrap();
    let enroll = user.enroll_totp().await.unwrap();
    assert!(enroll.otpauth_uri.starts_with("otpauth://"));
    assert!(!enroll.secret.is_empty());
    assert!(user.confirm_totp("not a code").await.is_err());
    assert!(matches!(
        user.remove_totp(&human.id).await,
        Err(Error::PermissionDenied(_))
    ));
    admin.remove_totp(&human.id).await.unwrap();

    // Keys.
    let kid = admin.rotate_signing_key().await.unwrap();
    assert!(published(&admin).await.contains(&kid));
    assert!(!admin.rotate_refresh_key().await.unwrap().is_empty());
    // Revoking a superseded key (not the one that signed this session's
    // token): it leaves the published keys at once.
    admin.rotate_signing_key().await.unwrap();
    let revoked = admin.revoke_signing_key(&kid).await.unwrap();
    assert_eq!(
        (revoked.kid.as_str(), revoked.new_active_kid.as_str()),
        (kid.as_str(), "")
    );
    assert!(!published(&admin).await.contains(&kid));

    // One page of the audit log.
    let page = admin
        .list_audit_events_page(
            &AuditFilter {
                page_size: 2,
                ..AuditFilter::default()
            },
            "",
        )
        .await
        .unwrap();
    assert_eq!(page.events.len(), 2);
    assert!(!page.next_page_token.is_empty());
}

#[tokio::test]
async fn connect_reports_problems_up_front() {
    let ca = var("MCIAS_CA_CERT");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Client::connect(
        &format!("https://localhost:{closed}"),
        Some(Path::new(&ca)),
        None,
        &options(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable(m) if m.contains("cannot connect")),
        "{err}"
    );
    let err = Client::connect(
        "https://localhost:1",
        Some(Path::new("/nonexistent/ca.pem")),
        None,
        &options(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[tokio::test]
async fn applications() {
    let admin = Client::connect(
        &var("MCIAS_SERVER"),
        Some(Path::new(&var("MCIAS_CA_CERT"))),
        None,
        &options(),
    )
    .await
    .unwrap();
    admin
        .login("admin", &var("MCIAS_ADMIN_PASSWORD"), "")
        .await
        .unwrap();
    // A fresh id per run: the dev server may be shared by several suites.
    let id = format!(
        "rust-client-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (created, secret) = admin
        .create_client(pb::OAuthClient {
            client_id: id.clone(),
            name: "Rust client test".into(),
            client_type: pb::ClientType::Confidential.into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![pb::GrantType::AuthorizationCode.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(created.has_secret && !secret.is_empty());
    let err = admin
        .create_client(pb::OAuthClient {
            client_id: format!("{id}-bad"),
            name: "Bad".into(),
            client_type: pb::ClientType::Public.into(),
            redirect_uris: vec!["http://evil.example/cb".into()],
            grant_types: vec![pb::GrantType::AuthorizationCode.into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.starts_with("redirect_uris[0]")),
        "{err:?}"
    );
    assert!(
        admin
            .list_clients(1)
            .await
            .unwrap()
            .iter()
            .any(|c| c.client_id == id)
    );
    assert_eq!(admin.get_client(&id).await.unwrap(), created);
    let updated = admin
        .update_client(
            &id,
            pb::OAuthClient {
                name: "Renamed".into(),
                ..Default::default()
            },
            vec!["name".into()],
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Renamed");
    let rotated = admin.rotate_oauth_client_secret(&id).await.unwrap();
    assert_ne!(rotated, secret);
    admin.delete_client(&id).await.unwrap();
    assert!(matches!(
        admin.get_client(&id).await,
        Err(Error::NotFound(_))
    ));
}
