//! Refresh-token rotation and reuse detection, account-wide invalidation,
//! signing-key rotation, the OAuth 2.0 endpoints, and secrets at rest.

use mcias_testkit as common;

use std::sync::Arc;

use common::{Options, TestServer, assert_code, authed};
use mcias_core::clock::Clock;
use mcias_proto::{self as pb, AccountType};
use reqwest::StatusCode;
use serde_json::Value;
use tonic::Code;

const PW: &str = "correct horse battery";

async fn login_pair(s: &TestServer, user: &str) -> (String, String) {
    let r = s
        .auth()
        .await
        .login(pb::LoginRequest {
            username: user.into(),
            password: PW.into(),
            totp_code: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.refresh_expires_at.unwrap().seconds > r.expires_at.unwrap().seconds);
    (r.token, r.refresh_token)
}

async fn refresh(s: &TestServer, token: &str) -> Result<pb::RefreshTokenResponse, tonic::Status> {
    s.auth()
        .await
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: token.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn with_user(opts: Options) -> (TestServer, String, String) {
    let s = TestServer::start_with(opts).await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "rita", AccountType::Human, PW).await;
    (s, admin, id)
}

#[tokio::test]
async fn a_chain_of_100_refreshes_and_every_old_token_is_rejected() {
    let (s, _, _) = with_user(Options::default()).await;
    let (_, first) = login_pair(&s, "rita").await;
    // Refresh tokens are opaque: a key id, then 256 bits in base64url.
    let (kid, random) = first.split_once('.').unwrap();
    assert!(!kid.is_empty());
    assert!(
        random.len() >= 43 && !random.contains(['+', '/', '=']),
        "{random}"
    );
    let mut old = vec![first];
    for _ in 0..100 {
        let next = refresh(&s, old.last().unwrap()).await.unwrap();
        assert!(s.valid(&next.token).await);
        assert!(!old.contains(&next.refresh_token));
        old.push(next.refresh_token);
    }
    let newest = old.pop().unwrap();
    for t in &old {
        assert_code(refresh(&s, t).await, Code::Unauthenticated);
    }
    // Presenting old tokens was reuse: the family is gone, newest included.
    assert_code(refresh(&s, &newest).await, Code::Unauthenticated);
    assert_code(refresh(&s, "garbage").await, Code::Unauthenticated);
    assert_code(refresh(&s, "zzzz.abc").await, Code::Unauthenticated);
}

#[tokio::test]
async fn reuse_revokes_the_family_and_its_access_tokens() {
    let (s, admin, id) = with_user(Options::default()).await;
    let (a1, r1) = login_pair(&s, "rita").await;
    let n2 = refresh(&s, &r1).await.unwrap();
    let n3 = refresh(&s, &n2.refresh_token).await.unwrap();
    // An unrelated session of the same account survives.
    let (other, other_refresh) = login_pair(&s, "rita").await;
    for t in [&a1, &n2.token, &n3.token] {
        assert!(s.valid(t).await);
    }
    assert_code(refresh(&s, &r1).await, Code::Unauthenticated);
    for t in [&a1, &n2.token, &n3.token] {
        assert!(!s.valid(t).await, "access tokens of the family are revoked");
    }
    assert_code(refresh(&s, &n3.refresh_token).await, Code::Unauthenticated);
    assert!(s.valid(&other).await);
    refresh(&s, &other_refresh).await.unwrap();

    let events = s
        .admin()
        .await
        .list_audit_events(authed(
            pb::ListAuditEventsRequest {
                event_type: "refresh_token_reuse".into(),
                account_id: id,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "failure");
}

async fn parallel_refreshes(
    s: &Arc<TestServer>,
    token: &str,
) -> Vec<Result<pb::RefreshTokenResponse, tonic::Status>> {
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let s = s.clone();
        let t = token.to_owned();
        tasks.push(tokio::spawn(async move { refresh(&s, &t).await }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_refreshes_never_fork_a_family() {
    // Without a grace window: exactly one successor.
    let (s, _, _) = with_user(Options::default()).await;
    let s = Arc::new(s);
    let (_, r) = login_pair(&s, "rita").await;
    let results = parallel_refreshes(&s, &r).await;
    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 1, "exactly one refresh may succeed");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), Code::Unauthenticated);
    }

    // With a grace window: everyone gets the same successor.
    let (s, _, _) = with_user(Options {
        refresh_grace: "2s",
        ..Options::default()
    })
    .await;
    let s = Arc::new(s);
    let (_, r) = login_pair(&s, "rita").await;
    let results = parallel_refreshes(&s, &r).await;
    let successors: std::collections::BTreeSet<String> = results
        .into_iter()
        .map(|r| r.unwrap().refresh_token)
        .collect();
    assert_eq!(successors.len(), 1, "one successor for all: {successors:?}");
    let successor = successors.into_iter().next().unwrap();
    refresh(&s, &successor).await.unwrap();
}

#[tokio::test]
async fn grace_window_on_and_off() {
    // Off: the second use is reuse at once.
    let (s, _, _) = with_user(Options::default()).await;
    let (_, r1) = login_pair(&s, "rita").await;
    let r2 = refresh(&s, &r1).await.unwrap().refresh_token;
    assert_code(refresh(&s, &r1).await, Code::Unauthenticated);
    assert_code(refresh(&s, &r2).await, Code::Unauthenticated);

    // On: the previous token returns the same successor within the window.
    let (s, _, _) = with_user(Options {
        refresh_grace: "2s",
        ..Options::default()
    })
    .await;
    let (_, r1) = login_pair(&s, "rita").await;
    let a = refresh(&s, &r1).await.unwrap();
    s.clock.advance(1);
    let b = refresh(&s, &r1).await.unwrap();
    assert_eq!(a.refresh_token, b.refresh_token);
    assert!(s.valid(&b.token).await);
    // Outside the window it is reuse.
    s.clock.advance(5);
    assert_code(refresh(&s, &r1).await, Code::Unauthenticated);
    assert_code(refresh(&s, &a.refresh_token).await, Code::Unauthenticated);

    // Only the immediately preceding token: once the successor is used, the
    // one before it is reuse even inside the window.
    let (_, r1) = login_pair(&s, "rita").await;
    let r2 = refresh(&s, &r1).await.unwrap().refresh_token;
    refresh(&s, &r2).await.unwrap();
    assert_code(refresh(&s, &r1).await, Code::Unauthenticated);
}

#[tokio::test]
async fn account_wide_invalidation_for_each_trigger() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "uma", AccountType::Human, PW).await;

    for trigger in ["password", "roles", "totp", "suspend", "sign_out"] {
        let (access, refresh_token) = login_pair(&s, "uma").await;
        match trigger {
            "password" => {
                s.auth()
                    .await
                    .change_password(authed(
                        pb::ChangePasswordRequest {
                            current_password: PW.into(),
                            new_password: "interim password 1".into(),
                        },
                        &access,
                    ))
                    .await
                    .unwrap();
                // Put the password back for the next round.
                let t = s.login("uma", "interim password 1").await;
                s.auth()
                    .await
                    .change_password(authed(
                        pb::ChangePasswordRequest {
                            current_password: "interim password 1".into(),
                            new_password: PW.into(),
                        },
                        &t,
                    ))
                    .await
                    .unwrap();
            }
            "roles" => {
                s.accounts()
                    .await
                    .set_roles(authed(
                        pb::SetRolesRequest {
                            account_id: id.clone(),
                            roles: vec!["reader".into()],
                        },
                        &admin,
                    ))
                    .await
                    .unwrap();
            }
            "totp" => {
                let e = s
                    .auth()
                    .await
                    .enroll_totp(authed(pb::EnrollTotpRequest {}, &access))
                    .await
                    .unwrap()
                    .into_inner();
                let secret = data_encoding::BASE32_NOPAD
                    .decode(e.secret.as_bytes())
                    .unwrap();
                let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
                s.auth()
                    .await
                    .confirm_totp(authed(pb::ConfirmTotpRequest { code }, &access))
                    .await
                    .unwrap();
                assert!(s.valid(&access).await, "enrolling does not sign out");
                s.auth()
                    .await
                    .remove_totp(authed(
                        pb::RemoveTotpRequest {
                            account_id: id.clone(),
                        },
                        &admin,
                    ))
                    .await
                    .unwrap();
            }
            "suspend" => {
                let upd = |st: pb::AccountStatus| pb::UpdateAccountRequest {
                    id: id.clone(),
                    status: st as i32,
                    update_mask: None,
                };
                s.accounts()
                    .await
                    .update_account(authed(upd(pb::AccountStatus::Suspended), &admin))
                    .await
                    .unwrap();
                assert!(!s.valid(&access).await);
                s.accounts()
                    .await
                    .update_account(authed(upd(pb::AccountStatus::Active), &admin))
                    .await
                    .unwrap();
            }
            "sign_out" => {
                s.auth()
                    .await
                    .sign_out_everywhere(authed(
                        pb::SignOutEverywhereRequest {
                            account_id: String::new(),
                        },
                        &access,
                    ))
                    .await
                    .unwrap();
            }
            _ => unreachable!(),
        }
        assert!(
            !s.valid(&access).await,
            "{trigger}: the old access token must be invalid"
        );
        assert_code(refresh(&s, &refresh_token).await, Code::Unauthenticated);
        // A fresh login works again.
        let (fresh, _) = login_pair(&s, "uma").await;
        assert!(s.valid(&fresh).await, "{trigger}");
    }

    // Sign-out-everywhere for someone else needs the admin role.
    let (uma, _) = login_pair(&s, "uma").await;
    let admin_id = s
        .tokens()
        .await
        .validate_token(pb::ValidateTokenRequest {
            token: admin.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .claims
        .unwrap()
        .subject;
    let res = s
        .auth()
        .await
        .sign_out_everywhere(authed(
            pb::SignOutEverywhereRequest {
                account_id: admin_id,
            },
            &uma,
        ))
        .await;
    assert_code(res, Code::PermissionDenied);
    s.auth()
        .await
        .sign_out_everywhere(authed(
            pb::SignOutEverywhereRequest { account_id: id },
            &admin,
        ))
        .await
        .unwrap();
    assert!(!s.valid(&uma).await);
}

/// The published kids of one key type (`OKP`: Ed25519, `RSA`), newest first.
async fn jwks_kids(s: &TestServer, kty: &str) -> Vec<String> {
    let v = common::get_json(
        &s.http(),
        &format!("{}/.well-known/jwks.json", s.base_url()),
    )
    .await;
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == kty)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn signing_key_rotation_publishes_first_and_keeps_old_tokens_until_they_expire() {
    // The default lead time: a rotated key signs five minutes after it is
    // published.
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let svc = s.create(&admin, "svc-rot", AccountType::System, "").await;
    let service_token = s
        .tokens()
        .await
        .issue_service_token(authed(
            pb::IssueServiceTokenRequest { account_id: svc },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .token;
    let old_kid = mcias_core::crypto::jwt::peek_kid(&admin).unwrap();
    assert_eq!(jwks_kids(&s, "OKP").await, vec![old_kid.clone()]);
    let old_rsa = jwks_kids(&s, "RSA").await;
    assert_eq!(old_rsa.len(), 1);

    let new_kid = s.rotate_signing_key(&admin).await;
    assert_ne!(new_kid, old_kid);
    assert_eq!(
        jwks_kids(&s, "OKP").await,
        vec![new_kid.clone(), old_kid.clone()],
        "both published, new first"
    );
    let rsa = jwks_kids(&s, "RSA").await;
    assert_eq!((rsa.len(), &rsa[1]), (2, &old_rsa[0]), "a new RSA key too");
    assert!(
        s.valid(&admin).await,
        "tokens signed before the rotation still validate"
    );
    assert!(s.valid(&service_token).await);
    // Published, but not signing yet.
    let during = s.admin_token().await;
    assert_eq!(mcias_core::crypto::jwt::peek_kid(&during).unwrap(), old_kid);

    // A restart keeps both keys, and the schedule.
    let mut s = s;
    s.restart().await;
    assert!(s.valid(&service_token).await);
    assert!(s.valid(&during).await);
    let during = s.admin_token().await;
    assert_eq!(mcias_core::crypto::jwt::peek_kid(&during).unwrap(), old_kid);

    // Once the lead time is over the new key signs.
    s.clock.advance(300);
    let fresh = s.admin_token().await;
    assert_eq!(mcias_core::crypto::jwt::peek_kid(&fresh).unwrap(), new_kid);
    assert!(s.valid(&fresh).await);
    assert!(s.valid(&during).await);

    // Past the longest lifetime (the 30-day service tokens), the old key
    // stops verifying and is retired from the JWKS.
    s.clock.advance(29 * 86_400);
    assert!(s.valid(&service_token).await);
    s.clock.advance(2 * 86_400);
    assert!(!s.valid(&service_token).await);
    s.running
        .as_ref()
        .unwrap()
        .idm()
        .maintain_keys()
        .await
        .unwrap();
    assert_eq!(jwks_kids(&s, "OKP").await, vec![new_kid]);
    assert_eq!(jwks_kids(&s, "RSA").await, vec![rsa[0].clone()]);
}

async fn form(s: &TestServer, path: &str, body: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let mut req = s
        .http()
        .post(format!("{}{path}", s.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn oauth_endpoints() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let svc = s.create(&admin, "reporting", AccountType::System, "").await;
    s.create(&admin, "rita", AccountType::Human, PW).await;
    let secret = s
        .accounts()
        .await
        .rotate_client_secret(authed(
            pb::RotateClientSecretRequest {
                account_id: svc.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    assert!(secret.len() >= 43);

    // client_credentials, with Basic and with form parameters.
    let (st, body) = form(
        &s,
        "/oauth2/token",
        "grant_type=client_credentials",
        Some(&basic("reporting", &secret)),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 3000);
    assert!(body.get("refresh_token").is_none());
    let cc_token = body["access_token"].as_str().unwrap().to_owned();
    assert!(s.valid(&cc_token).await);
    let (st, _) = form(
        &s,
        "/oauth2/token",
        &format!("grant_type=client_credentials&client_id=reporting&client_secret={secret}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = form(
        &s,
        "/oauth2/token",
        "grant_type=client_credentials",
        Some(&basic("reporting", "wrong")),
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (st, body) = form(
        &s,
        "/oauth2/token",
        "grant_type=client_credentials",
        Some(&basic("rita", PW)),
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "humans are not clients"
    );

    // refresh_token.
    let (_, r) = login_pair(&s, "rita").await;
    let (st, body) = form(
        &s,
        "/oauth2/token",
        &format!("grant_type=refresh_token&refresh_token={r}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let next = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, r);
    let (st, body) = form(
        &s,
        "/oauth2/token",
        &format!("grant_type=refresh_token&refresh_token={r}"),
        None,
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Malformed requests.
    let (st, body) = form(&s, "/oauth2/token", "grant_type=password&username=x", None).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (st, body) = form(&s, "/oauth2/token", "", None).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (st, body) = form(&s, "/oauth2/token", "grant_type=a&grant_type=b", None).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // Introspection: active, revoked, expired; refresh tokens too.
    let (st, _) = form(&s, "/oauth2/introspect", &format!("token={cc_token}"), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the caller must authenticate");
    let bearer = format!("Bearer {admin}");
    let (st, body) = form(
        &s,
        "/oauth2/introspect",
        &format!("token={cc_token}"),
        Some(&bearer),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], svc);
    assert_eq!(body["token_type"], "access_token");
    let (_, r) = login_pair(&s, "rita").await;
    let (_, body) = form(
        &s,
        "/oauth2/introspect",
        &format!("token={r}&token_type_hint=refresh_token"),
        Some(&bearer),
    )
    .await;
    assert_eq!(
        (body["active"].as_bool(), body["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );

    // Revocation of both kinds.
    let (st, _) = form(&s, "/oauth2/revoke", &format!("token={cc_token}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!s.valid(&cc_token).await);
    let (_, body) = form(
        &s,
        "/oauth2/introspect",
        &format!("token={cc_token}"),
        Some(&bearer),
    )
    .await;
    assert_eq!(body, serde_json::json!({"active": false}));
    let (st, _) = form(&s, "/oauth2/revoke", &format!("token={r}"), None).await;
    assert_eq!(st, StatusCode::OK);
    let (_, body) = form(
        &s,
        "/oauth2/introspect",
        &format!("token={r}"),
        Some(&bearer),
    )
    .await;
    assert_eq!(body["active"], false);
    assert_code(refresh(&s, &r).await, Code::Unauthenticated);
    let (st, _) = form(&s, "/oauth2/revoke", "token=unknown-token", None).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "unknown tokens are not an error (RFC 7009)"
    );

    // Expiry.
    let (st, body) = form(
        &s,
        "/oauth2/token",
        "grant_type=client_credentials",
        Some(&basic("reporting", &secret)),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let short = body["access_token"].as_str().unwrap().to_owned();
    s.clock.advance(2 * 3600);
    let admin2 = s.admin_token().await;
    let (_, body) = form(
        &s,
        "/oauth2/introspect",
        &format!("token={short}"),
        Some(&format!("Bearer {admin2}")),
    )
    .await;
    assert_eq!(body["active"], false, "expired");

    // Discovery advertises the endpoints.
    let d: Value = s
        .http()
        .get(format!("{}/.well-known/openid-configuration", s.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["token_endpoint"], "https://mcias.test/oauth2/token");
    assert_eq!(
        d["introspection_endpoint"],
        "https://mcias.test/oauth2/introspect"
    );
    assert_eq!(d["revocation_endpoint"], "https://mcias.test/oauth2/revoke");
}

#[tokio::test]
async fn no_refresh_token_or_client_secret_in_the_database_file() {
    let mut s = TestServer::start().await;
    let admin = s.admin_token().await;
    let svc = s.create(&admin, "svc-db", AccountType::System, "").await;
    let secret = s
        .accounts()
        .await
        .rotate_client_secret(authed(
            pb::RotateClientSecretRequest { account_id: svc },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    s.create(&admin, "rita", AccountType::Human, PW).await;
    let (_, r1) = login_pair(&s, "rita").await;
    let r2 = refresh(&s, &r1).await.unwrap().refresh_token;
    s.stop().await;
    let mut bytes = std::fs::read(s.db_path()).unwrap();
    bytes.extend(std::fs::read(s.db_path().with_extension("db-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("refresh_tokens"), "the file was read");
    for (what, value) in [
        ("client secret", secret.as_str()),
        ("refresh token", r1.as_str()),
        ("rotated refresh token", r2.as_str()),
    ] {
        let random = value.rsplit('.').next().unwrap();
        assert!(!text.contains(random), "{what} is stored in the clear");
        let raw = mcias_core::crypto::b64url_decode(random).unwrap();
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
            "{what} bytes are stored"
        );
    }
}

#[tokio::test]
async fn introspection_tells_a_non_admin_only_about_its_own_tokens() {
    let (s, admin, rita_id) = with_user(Options::default()).await;
    s.create(&admin, "otto", AccountType::Human, PW).await;
    let (rita, rita_refresh) = login_pair(&s, "rita").await;
    let (otto, otto_refresh) = login_pair(&s, "otto").await;
    let grpc = |caller: String, token: String| {
        let s = &s;
        async move {
            s.tokens()
                .await
                .introspect_token(authed(
                    pb::IntrospectTokenRequest {
                        token,
                        token_type_hint: String::new(),
                    },
                    &caller,
                ))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let own = grpc(rita.clone(), rita_refresh.clone()).await;
    assert!(own.active);
    assert_eq!(own.subject, rita_id);
    for other in [&admin, &otto, &otto_refresh] {
        let i = grpc(rita.clone(), other.clone()).await;
        assert_eq!(i, pb::IntrospectTokenResponse::default(), "gRPC");
        let (st, body) = form(
            &s,
            "/oauth2/introspect",
            &format!("token={other}"),
            Some(&format!("Bearer {rita}")),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(body, serde_json::json!({"active": false}), "OAuth");
    }
    assert!(
        grpc(admin.clone(), otto_refresh).await.active,
        "admins see all"
    );
}
