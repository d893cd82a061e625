//! End-to-end flows against the real server over TLS with tonic clients.

use mcias_testkit as common;

use common::{TestServer, assert_code, authed};
use mcias_core::clock::Clock;
use mcias_proto::{self as pb, AccountType};
use tonic::{Code, Request};

const PW: &str = "correct horse battery";

#[tokio::test]
async fn login_validate_logout() {
    let s = TestServer::start().await;
    let token = s.admin_token().await;
    assert!(s.valid(&token).await);

    // The token authenticates calls.
    s.auth()
        .await
        .logout(authed(pb::LogoutRequest {}, &token))
        .await
        .unwrap();
    assert!(!s.valid(&token).await, "a logged-out token must be invalid");
    let res = s
        .accounts()
        .await
        .list_accounts(authed(pb::ListAccountsRequest::default(), &token))
        .await;
    assert_code(res, Code::Unauthenticated);

    // Wrong password and unknown user get the same answer.
    let a = assert_code(
        s.try_login("admin", "wrong password!", "").await,
        Code::Unauthenticated,
    );
    let b = assert_code(
        s.try_login("nobody", "wrong password!", "").await,
        Code::Unauthenticated,
    );
    assert_eq!(a.message(), b.message());
}

#[tokio::test]
async fn renew_revokes_the_old_token() {
    let s = TestServer::start().await;
    let old = s.admin_token().await;
    s.clock.advance(5);
    let new = s
        .auth()
        .await
        .renew_token(authed(pb::RenewTokenRequest {}, &old))
        .await
        .unwrap()
        .into_inner();
    assert!(new.expires_at.unwrap().seconds > s.clock.now());
    assert!(s.valid(&new.token).await);
    assert!(!s.valid(&old).await);
    // Renewing with the old token again fails.
    let res = s
        .auth()
        .await
        .renew_token(authed(pb::RenewTokenRequest {}, &old))
        .await;
    assert_code(res, Code::Unauthenticated);
}

#[tokio::test]
async fn admin_creates_account_sets_roles_user_logs_in() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "Alice", AccountType::Human, PW).await;

    let got = s
        .accounts()
        .await
        .get_account(authed(pb::GetAccountRequest { id: id.clone() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        got.username, "alice",
        "usernames are normalized to lowercase"
    );
    assert_eq!(got.status, pb::AccountStatus::Active as i32);

    let roles = s
        .accounts()
        .await
        .set_roles(authed(
            pb::SetRolesRequest {
                account_id: id.clone(),
                roles: vec!["reader".into(), "db:orders".into()],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .roles;
    assert_eq!(roles, vec!["db:orders".to_string(), "reader".to_string()]);

    let user = s.login("alice", PW).await;
    let v = s
        .tokens()
        .await
        .validate_token(pb::ValidateTokenRequest {
            token: user.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(v.valid);
    let claims = v.claims.unwrap();
    assert_eq!(claims.subject, id);
    assert_eq!(
        claims.roles,
        vec!["db:orders".to_string(), "reader".to_string()]
    );
    assert_eq!(claims.issuer, "https://mcias.test");
    assert_eq!(claims.token_type, "human");

    // Duplicate username.
    let res = s
        .accounts()
        .await
        .create_account(authed(
            pb::CreateAccountRequest {
                username: "alice".into(),
                account_type: AccountType::Human as i32,
                password: PW.into(),
            },
            &admin,
        ))
        .await;
    assert_code(res, Code::AlreadyExists);

    // Bad input names the problem.
    for (req, needle) in [
        (
            pb::CreateAccountRequest {
                username: "a b".into(),
                account_type: 1,
                password: PW.into(),
            },
            "username",
        ),
        (
            pb::CreateAccountRequest {
                username: "bob".into(),
                account_type: 0,
                password: PW.into(),
            },
            "account_type",
        ),
        (
            pb::CreateAccountRequest {
                username: "bob".into(),
                account_type: 1,
                password: "short".into(),
            },
            "12 characters",
        ),
        (
            pb::CreateAccountRequest {
                username: "svc".into(),
                account_type: 2,
                password: PW.into(),
            },
            "system accounts",
        ),
    ] {
        let st = assert_code(
            s.accounts().await.create_account(authed(req, &admin)).await,
            Code::InvalidArgument,
        );
        assert!(
            st.message().contains(needle),
            "{:?} should mention {needle}",
            st.message()
        );
    }
    let res = s
        .accounts()
        .await
        .get_account(authed(pb::GetAccountRequest { id: "nope".into() }, &admin))
        .await;
    assert_code(res, Code::NotFound);
}

#[tokio::test]
async fn non_admin_is_denied_and_anonymous_is_unauthenticated() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    s.create(&admin, "bob", AccountType::Human, PW).await;
    let bob = s.login("bob", PW).await;

    let res = s
        .accounts()
        .await
        .list_accounts(authed(pb::ListAccountsRequest::default(), &bob))
        .await;
    assert_code(res, Code::PermissionDenied);
    let res = s
        .accounts()
        .await
        .list_accounts(Request::new(pb::ListAccountsRequest::default()))
        .await;
    assert_code(res, Code::Unauthenticated);
    let res = s
        .accounts()
        .await
        .list_accounts(authed(pb::ListAccountsRequest::default(), "not.a.jwt"))
        .await;
    assert_code(res, Code::Unauthenticated);
    let res = s
        .auth()
        .await
        .logout(Request::new(pb::LogoutRequest {}))
        .await;
    assert_code(res, Code::Unauthenticated);
    // Public methods work without a token.
    s.tokens()
        .await
        .list_public_keys(pb::ListPublicKeysRequest {})
        .await
        .unwrap();
    let h = s
        .admin()
        .await
        .health(pb::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.status, "SERVING");
}

#[tokio::test]
async fn totp_enroll_confirm_login_and_replay() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "carol", AccountType::Human, PW).await;
    let carol = s.login("carol", PW).await;

    let e = s
        .auth()
        .await
        .enroll_totp(authed(pb::EnrollTotpRequest {}, &carol))
        .await
        .unwrap()
        .into_inner();
    assert!(e.otpauth_uri.starts_with("otpauth://totp/"));
    assert!(e.otpauth_uri.contains(&e.secret));
    let secret = data_encoding::BASE32_NOPAD
        .decode(e.secret.as_bytes())
        .unwrap();

    // A wrong code does not confirm.
    let bad = if mcias_core::crypto::totp::code_at(&secret, s.clock.now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let res = s
        .auth()
        .await
        .confirm_totp(authed(pb::ConfirmTotpRequest { code: bad.into() }, &carol))
        .await;
    assert_code(res, Code::InvalidArgument);
    let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
    s.auth()
        .await
        .confirm_totp(authed(pb::ConfirmTotpRequest { code }, &carol))
        .await
        .unwrap();

    let acct = s
        .accounts()
        .await
        .get_account(authed(pb::GetAccountRequest { id: id.clone() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert!(acct.totp_enabled);

    // Enrolling again is refused while enabled.
    let res = s
        .auth()
        .await
        .enroll_totp(authed(pb::EnrollTotpRequest {}, &carol))
        .await;
    assert_code(res, Code::FailedPrecondition);

    s.clock.advance(30);
    assert_code(s.try_login("carol", PW, "").await, Code::Unauthenticated);
    let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
    let t = s.try_login("carol", PW, &code).await.unwrap();
    assert!(s.valid(&t).await);
    // The same code again is a replay.
    assert_code(s.try_login("carol", PW, &code).await, Code::Unauthenticated);

    // An admin removes the factor; password alone works again.
    s.auth()
        .await
        .remove_totp(authed(pb::RemoveTotpRequest { account_id: id }, &admin))
        .await
        .unwrap();
    s.login("carol", PW).await;
}

#[tokio::test]
async fn service_token_issue_validate_revoke() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let svc = s
        .create(&admin, "billing-svc", AccountType::System, "")
        .await;
    let issued = s
        .tokens()
        .await
        .issue_service_token(authed(
            pb::IssueServiceTokenRequest {
                account_id: svc.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let v = s
        .tokens()
        .await
        .validate_token(pb::ValidateTokenRequest {
            token: issued.token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(v.valid);
    let claims = v.claims.unwrap();
    assert_eq!(claims.token_type, "system");
    assert_eq!(claims.subject, svc);
    assert!(claims.expires_at.unwrap().seconds >= s.clock.now() + 29 * 86_400);

    s.tokens()
        .await
        .revoke_token(authed(
            pb::RevokeTokenRequest {
                jti: claims.jti.clone(),
                reason: "rotated".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    assert!(!s.valid(&issued.token).await);
    let res = s
        .tokens()
        .await
        .revoke_token(authed(
            pb::RevokeTokenRequest {
                jti: "no-such-jti".into(),
                reason: String::new(),
            },
            &admin,
        ))
        .await;
    assert_code(res, Code::NotFound);

    // Human accounts get no service tokens; system accounts cannot log in.
    let human = s.create(&admin, "dave", AccountType::Human, PW).await;
    let res = s
        .tokens()
        .await
        .issue_service_token(authed(
            pb::IssueServiceTokenRequest { account_id: human },
            &admin,
        ))
        .await;
    assert_code(res, Code::FailedPrecondition);
    assert_code(
        s.try_login("billing-svc", "", "").await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn suspend_and_delete_revoke_everything() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "erin", AccountType::Human, PW).await;
    let t1 = s.login("erin", PW).await;
    let t2 = s.login("erin", PW).await;

    let upd = |status: pb::AccountStatus| pb::UpdateAccountRequest {
        id: id.clone(),
        status: status as i32,
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["status".into()],
        }),
    };
    let a = s
        .accounts()
        .await
        .update_account(authed(upd(pb::AccountStatus::Suspended), &admin))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(a.status, pb::AccountStatus::Suspended as i32);
    assert!(!s.valid(&t1).await && !s.valid(&t2).await);
    assert_code(s.try_login("erin", PW, "").await, Code::Unauthenticated);

    s.accounts()
        .await
        .update_account(authed(upd(pb::AccountStatus::Active), &admin))
        .await
        .unwrap();
    let t3 = s.login("erin", PW).await;
    assert!(s.valid(&t3).await);

    s.accounts()
        .await
        .delete_account(authed(pb::DeleteAccountRequest { id: id.clone() }, &admin))
        .await
        .unwrap();
    assert!(!s.valid(&t3).await);
    assert_code(s.try_login("erin", PW, "").await, Code::Unauthenticated);
    let res = s
        .accounts()
        .await
        .update_account(authed(upd(pb::AccountStatus::Active), &admin))
        .await;
    assert_code(res, Code::FailedPrecondition);

    // Bad masks and statuses are named.
    let mut bad = upd(pb::AccountStatus::Active);
    bad.update_mask = Some(prost_types::FieldMask {
        paths: vec!["username".into()],
    });
    let st = assert_code(
        s.accounts().await.update_account(authed(bad, &admin)).await,
        Code::InvalidArgument,
    );
    assert!(st.message().contains("username"));
}

#[tokio::test]
async fn last_admin_cannot_be_removed() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let me = s
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
        .accounts()
        .await
        .set_roles(authed(
            pb::SetRolesRequest {
                account_id: me.clone(),
                roles: vec![],
            },
            &admin,
        ))
        .await;
    assert_code(res, Code::FailedPrecondition);
    let res = s
        .accounts()
        .await
        .delete_account(authed(pb::DeleteAccountRequest { id: me }, &admin))
        .await;
    assert_code(res, Code::FailedPrecondition);
}

#[tokio::test]
async fn pg_creds_for_owner_and_admin_only() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let frank = s.create(&admin, "frank", AccountType::Human, PW).await;
    s.create(&admin, "grace", AccountType::Human, PW).await;
    let frank_t = s.login("frank", PW).await;
    let grace_t = s.login("grace", PW).await;

    let res = s
        .accounts()
        .await
        .get_pg_creds(authed(
            pb::GetPgCredsRequest {
                account_id: frank.clone(),
            },
            &frank_t,
        ))
        .await;
    assert_code(res, Code::NotFound);

    s.accounts()
        .await
        .set_pg_creds(authed(
            pb::SetPgCredsRequest {
                account_id: frank.clone(),
                host: "db.internal".into(),
                port: 5432,
                database: "orders".into(),
                username: "frank_app".into(),
                password: "pg-secret-value-42".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let c = s
        .accounts()
        .await
        .get_pg_creds(authed(
            pb::GetPgCredsRequest {
                account_id: frank.clone(),
            },
            &frank_t,
        ))
        .await
        .unwrap()
        .into_inner()
        .creds
        .unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.password.as_str()),
        ("db.internal", 5432, "pg-secret-value-42")
    );
    let res = s
        .accounts()
        .await
        .get_pg_creds(authed(
            pb::GetPgCredsRequest {
                account_id: frank.clone(),
            },
            &grace_t,
        ))
        .await;
    assert_code(res, Code::PermissionDenied);
    let res = s
        .accounts()
        .await
        .set_pg_creds(authed(
            pb::SetPgCredsRequest {
                account_id: frank,
                host: "h".into(),
                port: 0,
                database: "d".into(),
                username: "u".into(),
                password: "p".into(),
            },
            &admin,
        ))
        .await;
    let st = assert_code(res, Code::InvalidArgument);
    assert!(st.message().contains("port"));
}

fn profile_req(account_id: &str, paths: &[&str]) -> pb::UpdateProfileRequest {
    pb::UpdateProfileRequest {
        account_id: account_id.to_owned(),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn profiles_for_self_and_admin() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let hana = s.create(&admin, "hana", AccountType::Human, PW).await;
    let ivan = s.create(&admin, "ivan", AccountType::Human, PW).await;
    let hana_t = s.login("hana", PW).await;
    let ivan_t = s.login("ivan", PW).await;

    // Self edits its own profile.
    let mut r = profile_req(
        &hana,
        &["email", "display_name", "given_name", "family_name"],
    );
    r.email = "Hana@Example.COM".into();
    r.display_name = "Hana H.".into();
    r.given_name = "Hana".into();
    r.family_name = "Hara".into();
    let a = s
        .accounts()
        .await
        .update_profile(authed(r, &hana_t))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        (a.email.as_str(), a.email_verified, a.display_name.as_str()),
        ("Hana@example.com", false, "Hana H.")
    );
    assert_eq!(
        (a.given_name.as_str(), a.family_name.as_str()),
        ("Hana", "Hara")
    );

    // A user cannot edit another's profile, nor set email_verified.
    let mut r = profile_req(&hana, &["display_name"]);
    r.display_name = "Not Hana".into();
    let res = s.accounts().await.update_profile(authed(r, &ivan_t)).await;
    assert_code(res, Code::PermissionDenied);
    let mut r = profile_req(&hana, &["email_verified"]);
    r.email_verified = true;
    let res = s.accounts().await.update_profile(authed(r, &hana_t)).await;
    assert_code(res, Code::PermissionDenied);

    // Validation names the field; an unknown or empty mask is refused.
    let mut r = profile_req(&hana, &["email"]);
    r.email = "two@@example.com".into();
    let res = s.accounts().await.update_profile(authed(r, &hana_t)).await;
    assert!(
        assert_code(res, Code::InvalidArgument)
            .message()
            .contains("email")
    );
    let res = s
        .accounts()
        .await
        .update_profile(authed(profile_req(&hana, &["username"]), &hana_t))
        .await;
    assert_code(res, Code::InvalidArgument);
    let res = s
        .accounts()
        .await
        .update_profile(authed(profile_req(&hana, &[]), &hana_t))
        .await;
    assert_code(res, Code::InvalidArgument);

    // An admin can verify, and edit anyone's profile.
    let mut r = profile_req(&hana, &["email_verified"]);
    r.email_verified = true;
    let a = s
        .accounts()
        .await
        .update_profile(authed(r, &admin))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert!(a.email_verified);
    let mut r = profile_req(&ivan, &["display_name"]);
    r.display_name = "Ivan I.".into();
    s.accounts()
        .await
        .update_profile(authed(r, &admin))
        .await
        .unwrap();
    let got = s
        .accounts()
        .await
        .get_account(authed(pb::GetAccountRequest { id: ivan.clone() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(got.display_name, "Ivan I.");

    // Over REST: the account changes its email, which clears email_verified.
    let res = s
        .http()
        .patch(format!("{}/v1/accounts/{hana}/profile", s.base_url()))
        .bearer_auth(&hana_t)
        .json(&serde_json::json!({"email": "hana@new.example", "updateMask": "email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["account"]["email"], "hana@new.example");
    assert_eq!(body["account"]["displayName"], "Hana H.");
    assert!(
        body["account"]
            .get("emailVerified")
            .is_none_or(|v| v == false)
    );
    let res = s
        .http()
        .patch(format!("{}/v1/accounts/{ivan}/profile", s.base_url()))
        .bearer_auth(&hana_t)
        .json(&serde_json::json!({"displayName": "x", "updateMask": "displayName"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn change_password() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    s.create(&admin, "heidi", AccountType::Human, PW).await;
    let t = s.login("heidi", PW).await;
    let req = |cur: &str, new: &str| pb::ChangePasswordRequest {
        current_password: cur.into(),
        new_password: new.into(),
    };
    let res = s
        .auth()
        .await
        .change_password(authed(req("not my password", "another long password"), &t))
        .await;
    assert_code(res, Code::PermissionDenied);
    let res = s
        .auth()
        .await
        .change_password(authed(req(PW, "short"), &t))
        .await;
    assert_code(res, Code::InvalidArgument);
    s.auth()
        .await
        .change_password(authed(req(PW, "another long password"), &t))
        .await
        .unwrap();
    assert_code(s.try_login("heidi", PW, "").await, Code::Unauthenticated);
    s.login("heidi", "another long password").await;
}

#[tokio::test]
async fn failed_logins_back_off() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    s.create(&admin, "ivan", AccountType::Human, PW).await;
    for _ in 0..5 {
        assert_code(
            s.try_login("ivan", "wrong password!!", "").await,
            Code::Unauthenticated,
        );
    }
    // Locked: even the right password fails, with the same message.
    assert_code(s.try_login("ivan", PW, "").await, Code::Unauthenticated);
    s.clock.advance(6);
    s.login("ivan", PW).await;
}

#[tokio::test]
async fn list_accounts_pages() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    for i in 0..5 {
        s.create(&admin, &format!("user{i}"), AccountType::Human, PW)
            .await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let r = s
            .accounts()
            .await
            .list_accounts(authed(
                pb::ListAccountsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(r.accounts.len() <= 2);
        seen.extend(r.accounts.into_iter().map(|a| a.username));
        pages += 1;
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 6, "admin + 5 users: {seen:?}");
    let res = s
        .accounts()
        .await
        .list_accounts(authed(
            pb::ListAccountsRequest {
                page_size: 2,
                page_token: "garbage".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await;
    assert_code(res, Code::InvalidArgument);

    // Search: a prefix of the username or the email, any case, and status.
    let search = |query: &str, status: pb::AccountStatus| pb::ListAccountsRequest {
        page_size: 50,
        query: query.into(),
        status: status as i32,
        ..Default::default()
    };
    let found = |r: pb::ListAccountsResponse| {
        r.accounts
            .into_iter()
            .map(|a| a.username)
            .collect::<Vec<_>>()
    };
    let r = s
        .accounts()
        .await
        .list_accounts(authed(
            search("ADM", pb::AccountStatus::Unspecified),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found(r), ["admin"]);
    let r = s
        .accounts()
        .await
        .list_accounts(authed(search("", pb::AccountStatus::Suspended), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(found(r).is_empty(), "nobody is suspended");
}

#[tokio::test]
async fn audit_log_records_and_filters() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "judy", AccountType::Human, PW).await;
    assert_code(
        s.try_login("judy", "wrong password!!", "").await,
        Code::Unauthenticated,
    );
    s.login("judy", PW).await;

    let list = |event_type: &str, account_id: &str, page_token: &str, page_size: i32| {
        pb::ListAuditEventsRequest {
            account_id: account_id.into(),
            event_type: event_type.into(),
            since: None,
            page_size,
            page_token: page_token.into(),
            until: None,
        }
    };
    let all = s
        .admin()
        .await
        .list_audit_events(authed(list("", "", "", 0), &admin))
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = all.events.iter().map(|e| e.event_type.as_str()).collect();
    for t in ["account_create", "login_success", "login_failure"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    assert!(
        all.events.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );

    let fails = s
        .admin()
        .await
        .list_audit_events(authed(list("login_failure", &id, "", 0), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fails.events.len(), 1);
    assert_eq!(fails.events[0].outcome, "failure");
    assert!(fails.events[0].peer.starts_with("127.0.0.1:"));

    let p1 = s
        .admin()
        .await
        .list_audit_events(authed(list("", "", "", 2), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p1.events.len(), 2);
    let p2 = s
        .admin()
        .await
        .list_audit_events(authed(list("", "", &p1.next_page_token, 2), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(p2.events[0].id < p1.events[1].id);
}

#[tokio::test]
async fn rate_limit_answers_resource_exhausted() {
    let s = TestServer::start_with(common::Options {
        rps: 1,
        burst: 3,
        ..Default::default()
    })
    .await;
    let mut client = s.admin().await;
    let mut exhausted = 0;
    for _ in 0..10 {
        if let Err(st) = client.health(pb::HealthRequest {}).await {
            assert_eq!(st.code(), Code::ResourceExhausted);
            exhausted += 1;
        }
    }
    assert!(exhausted >= 6, "only {exhausted} of 10 calls were limited");
}

#[tokio::test]
async fn restart_keeps_accounts_keys_and_revocations() {
    let mut s = TestServer::start().await;
    let admin = s.admin_token().await;
    s.create(&admin, "kim", AccountType::Human, PW).await;
    let keep = s.login("kim", PW).await;
    let revoked = s.login("kim", PW).await;
    s.auth()
        .await
        .logout(authed(pb::LogoutRequest {}, &revoked))
        .await
        .unwrap();

    s.restart().await;
    assert!(
        s.valid(&keep).await,
        "tokens survive a restart (signing key persisted)"
    );
    assert!(!s.valid(&revoked).await, "revocations survive a restart");
    s.login("kim", PW).await;
}

#[tokio::test]
async fn wrong_master_key_refuses_to_start_and_changes_nothing() {
    let mut s = TestServer::start().await;
    s.admin_token().await;
    s.stop().await;
    let dir = s.dir.path().to_owned();
    // The main file byte for byte, and the WAL's content (an empty or absent
    // WAL and the shared-memory index hold no data).
    let snapshot = |dir: &std::path::Path| {
        use sha2::Digest;
        let digest = |p: std::path::PathBuf| {
            let bytes = std::fs::read(p).unwrap_or_default();
            (bytes.len(), format!("{:x}", sha2::Sha256::digest(&bytes)))
        };
        (
            digest(dir.join("mcias.db")),
            digest(dir.join("mcias.db-wal")),
        )
    };
    let before = snapshot(&dir);
    assert!(before.0.0 > 0);

    let key = common::keyfile_path(&dir);
    std::fs::remove_file(&key).unwrap();
    mcias_core::crypto::master::create_keyfile(&key, &mcias_core::clock::OsRandom).unwrap();

    // In-process.
    let err = mcias_core::idm::Idm::open(
        &s.config,
        mcias_core::idm::KeySource::from_config(&s.config).unwrap(),
        s.clock.clone(),
        std::sync::Arc::new(mcias_core::clock::OsRandom),
        mcias_core::crypto::password::PoolSize {
            workers: 1,
            queue: 1,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "wrong_master_key");

    // The real binary.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mciassrv"))
        .arg("--config")
        .arg(dir.join("mcias.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("master key does not open this database"),
        "{stderr}"
    );

    assert_eq!(
        snapshot(&dir),
        before,
        "the database files must be byte-identical"
    );
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let s = TestServer::start().await;
    let res = s.try_login("admin", &"x".repeat(200 * 1024), "").await;
    let st = res.unwrap_err();
    assert_eq!(
        st.code(),
        Code::ResourceExhausted,
        "refused before the login logic, as gRPC says for a size limit: {st:?}"
    );
    assert!(st.message().contains("too large"), "{st:?}");
    // The server is still fine.
    s.admin_token().await;
}

/// The gRPC status of a raw gRPC-Web call of `path` with `message` as the
/// body (one uncompressed frame): from the headers of a trailers-only
/// answer, or from the trailers frame.
async fn raw_grpc_web(s: &TestServer, path: &str, message: &[u8]) -> (String, String) {
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend_from_slice(message);
    let res = s
        .http()
        .post(format!("{}{path}", s.base_url()))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    if let Some(code) = header("grpc-status") {
        return (code, header("grpc-message").unwrap_or_default());
    }
    let data = res.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&data).into_owned();
    // The trailers frame is `grpc-status:N\r\ngrpc-message:...` after the data.
    let field = |name: &str| {
        text.split(&format!("{name}:"))
            .nth(1)
            .and_then(|rest| rest.split(['\r', '\n']).next())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    (field("grpc-status"), field("grpc-message"))
}

#[tokio::test]
async fn malformed_messages_are_invalid_arguments_without_decoder_details() {
    let s = TestServer::start().await;
    // Field 1 with wire type 7, which does not exist.
    let (code, message) =
        raw_grpc_web(&s, "/mcias.v1.AuthService/Login", &[0x0f, 0xff, 0xff]).await;
    assert_eq!(
        code,
        (Code::InvalidArgument as i32).to_string(),
        "malformed protobuf: {message}"
    );
    assert!(
        !message.contains("wire") && !message.to_lowercase().contains("decode"),
        "no decoder details: {message}"
    );
    assert!(
        message.contains("malformed"),
        "names the problem: {message}"
    );
    // A well-formed message still works the same way.
    let (code, _) = raw_grpc_web(&s, "/mcias.v1.AdminService/Health", &[]).await;
    assert_eq!(code, "0");
}

#[tokio::test]
async fn reflection_and_standard_health() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let s = TestServer::start().await;
    let mut client = ServerReflectionClient::new(s.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("{resp:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "mcias.v1.AuthService",
        "mcias.v1.TokenService",
        "mcias.v1.AccountService",
        "mcias.v1.AdminService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }

    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel().await);
    let r = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "mcias.v1.AuthService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn the_binary_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let s = common::TestServer::prepare(common::Options::default());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mciassrv"))
        .arg("--config")
        .arg(s.config_path())
        .env("MCIAS_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log on a thread so a silent server fails the test, not hangs it.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(std::time::Duration::from_secs(60));
    // The log line announcing the listener names the bound port.
    let port = loop {
        let line = next().expect("the server did not announce its port");
        if let Some(rest) = line.split("addr=127.0.0.1:").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u16>()
                .unwrap();
        }
    };
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&s.ca_pem))
        .domain_name("localhost");
    let channel = tonic::transport::Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let h = pb::admin_service_client::AdminServiceClient::new(channel)
        .health(pb::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.status, "SERVING");

    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = std::iter::from_fn(|| next().ok()).collect();
    assert!(status.success(), "exit status {status:?}: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("server stopped")),
        "{rest:?}"
    );
}

#[test]
fn dev_on_a_busy_port_creates_nothing() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("dev");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mciassrv"))
        .arg("dev")
        .arg("--data-dir")
        .arg(&data)
        .arg("--listen")
        .arg(addr.to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    assert!(!data.exists(), "mciassrv dev created {}", data.display());
}

/// Starts `mciassrv dev` on a free port, returns the discovery document's
/// issuer and the banner, then stops it.
async fn dev_issuer(data: &std::path::Path, extra: &[&str]) -> (String, String) {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mciassrv"))
        .arg("dev")
        .arg("--data-dir")
        .arg(data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while !banner.contains("Try:") {
        let line = lines.next().expect("the banner").unwrap();
        banner.push_str(&line);
        banner.push('\n');
    }
    let ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/.well-known/openid-configuration");
    let doc = common::get_json(&http, &url).await;
    child.kill().unwrap();
    child.wait().unwrap();
    (doc["issuer"].as_str().unwrap().to_owned(), banner)
}

#[tokio::test]
async fn dev_issuer_follows_the_listen_address_on_every_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("dev");
    let (first, banner) = dev_issuer(&data, &[]).await;
    assert!(first.starts_with("https://localhost:"), "{first}");
    assert!(banner.contains(&format!("issuer   : {first}")), "{banner}");
    // Restarted on another port, the same data directory follows.
    let (second, _) = dev_issuer(&data, &[]).await;
    assert!(second.starts_with("https://localhost:"), "{second}");
    assert_ne!(first, second);
    // Reached by another name, the operator says so.
    let (named, _) = dev_issuer(&data, &["--public-url", "https://127.0.0.1:9"]).await;
    assert_eq!(named, "https://127.0.0.1:9");
}
