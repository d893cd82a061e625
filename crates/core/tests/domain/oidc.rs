//! The OpenID Connect provider's domain: page sign-in and sessions, the
//! authorization request's validation order, consent, codes (single use,
//! expiry, client, redirect URI, PKCE), the grants they issue, userinfo,
//! refresh scoped to the client, and sign-out ending what a session issued.

use base64::Engine;
use mcias_core::error::ErrorKind;
use mcias_core::idm::oidc::{AuthorizeError, AuthorizeParams, ClientAuth, Next, SignIn};
use mcias_core::idm::{ClientSpec, Idm};
use mcias_core::model::{AccountType, ClientType, GrantType, SigningAlg, WebSession};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::kit::{Kit, anonymous, assert_kind, pw};

const PW: &str = "alice's long password";
const REDIRECT: &str = "https://app.example/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn spec(client_type: ClientType) -> ClientSpec {
    ClientSpec {
        name: "App".to_owned(),
        client_type,
        redirect_uris: vec![REDIRECT.to_owned()],
        post_logout_redirect_uris: vec!["https://app.example/bye".to_owned()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec![
            "openid".to_owned(),
            "profile".to_owned(),
            "email".to_owned(),
        ],
        audience: String::new(),
        access_token_ttl: 0,
        refresh_token_ttl: 0,
        first_party: false,
        id_token_alg: Some(SigningAlg::EdDsa),
    }
}

fn params(client_id: &str) -> AuthorizeParams {
    AuthorizeParams {
        response_type: Some("code".into()),
        client_id: Some(client_id.into()),
        redirect_uri: Some(REDIRECT.into()),
        scope: Some("openid email".into()),
        state: Some("s1".into()),
        nonce: Some("n1".into()),
        code_challenge: Some(challenge(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        ..AuthorizeParams::default()
    }
}

/// A kit with alice and two confidential clients (`app`, `other`); the
/// secret of `app`.
async fn setup() -> (Kit, Zeroizing<String>) {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, PW).await;
    let (_, secret) = k
        .idm
        .create_client(&k.admin(), "app", spec(ClientType::Confidential))
        .await
        .unwrap();
    k.idm
        .create_client(&k.admin(), "other", spec(ClientType::Confidential))
        .await
        .unwrap();
    (k, secret.unwrap())
}

async fn signed_in(idm: &Idm) -> (WebSession, Zeroizing<String>) {
    match idm
        .web_sign_in(&anonymous(), "alice", pw(PW), Some("test"))
        .await
        .unwrap()
    {
        SignIn::Done(n) => (n.session, n.cookie),
        other => panic!("alice has no second factor or temporary password: {other:?}"),
    }
}

async fn info_sub(k: &Kit) -> String {
    k.idm
        .list_accounts(100, "")
        .await
        .unwrap()
        .accounts
        .into_iter()
        .find(|a| a.username == "alice")
        .unwrap()
        .id
}

fn auth(id: &str, secret: &str) -> ClientAuth {
    ClientAuth {
        client_id: id.into(),
        secret: Some(Zeroizing::new(secret.into())),
    }
}

/// Signs alice in, consents and returns a code for `app`.
async fn code_for(k: &Kit, p: &AuthorizeParams) -> (WebSession, Zeroizing<String>) {
    let (session, _) = signed_in(&k.idm).await;
    let req = k.idm.authorization_request(p).await.unwrap();
    k.idm
        .record_consent(&anonymous(), &session, &req, true, true)
        .await
        .unwrap();
    let code = k
        .idm
        .issue_code(&anonymous(), &req, &session)
        .await
        .unwrap();
    (session, code)
}

#[tokio::test]
async fn sign_in_consent_code_tokens_userinfo_refresh_and_sign_out() {
    let (k, secret) = setup().await;
    let req = k.idm.authorization_request(&params("app")).await.unwrap();
    assert_eq!(
        k.idm.authorize_next(&req, None).await.unwrap(),
        Next::SignIn
    );
    let (session, cookie) = signed_in(&k.idm).await;
    assert_eq!(
        k.idm.web_session(&cookie).await.unwrap().unwrap().sid,
        session.sid
    );
    assert_eq!(
        k.idm.authorize_next(&req, Some(&session)).await.unwrap(),
        Next::Consent
    );
    k.idm
        .record_consent(&anonymous(), &session, &req, true, true)
        .await
        .unwrap();
    assert_eq!(
        k.idm.authorize_next(&req, Some(&session)).await.unwrap(),
        Next::Issue,
        "a remembered consent covers the same scopes"
    );
    assert_eq!(k.audit("consent_grant").await.len(), 1);
    let code = k
        .idm
        .issue_code(&anonymous(), &req, &session)
        .await
        .unwrap();
    let client = k
        .idm
        .authenticate_client(&auth("app", &secret))
        .await
        .unwrap();
    let t = k
        .idm
        .exchange_code(&anonymous(), &client, &code, REDIRECT, Some(VERIFIER))
        .await
        .unwrap();
    assert_eq!(t.scope, "openid email");
    let id_token = t.id_token.clone().unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["nonce"], "n1");
    assert_eq!(claims["sid"], session.sid.as_str());
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["at_hash"].is_string());
    let seen = k.idm.introspect(&k.admin(), &t.access_token).await.unwrap();
    assert!(seen.active, "an admin sees an application's token");
    assert_eq!(seen.subject, info_sub(&k).await);
    let info = k.idm.userinfo(&t.access_token).await.unwrap();
    assert!(info.contains_key("sub"));
    assert!(
        !info.contains_key("preferred_username"),
        "profile was not granted"
    );
    assert!(
        !k.valid(&t.access_token),
        "an application's token is not an MCIAS API token"
    );
    // The API refresh refuses an application's refresh token, and another
    // client cannot use it.
    let refresh = t.refresh_token.clone().unwrap();
    assert_kind(
        k.idm.refresh(&anonymous(), &refresh).await,
        ErrorKind::Unauthenticated,
    );
    let other = k.idm.get_client("other").await.unwrap();
    assert!(
        k.idm
            .refresh_for_client(&anonymous(), &other, &refresh, None)
            .await
            .is_err()
    );
    // The refused attempts did not use the token up.
    let wider = k
        .idm
        .refresh_for_client(&anonymous(), &client, &refresh, Some("openid profile"))
        .await
        .unwrap_err();
    assert_eq!(wider.code, "invalid_scope");
    let narrow = k
        .idm
        .refresh_for_client(&anonymous(), &client, &refresh, Some("email"))
        .await
        .unwrap();
    assert_eq!(narrow.scope, "email");
    assert!(narrow.id_token.is_none(), "openid was not asked for");
    let t2 = k
        .idm
        .refresh_for_client(
            &anonymous(),
            &client,
            narrow.refresh_token.as_ref().unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(t2.scope, "openid email", "the grant keeps its scope");
    assert!(t2.id_token.is_some());
    assert!(k.idm.userinfo(&t2.access_token).await.is_ok());
    // Signing out ends the session and everything issued from it.
    k.idm.web_sign_out(&anonymous(), &session).await.unwrap();
    assert!(k.idm.web_session(&cookie).await.unwrap().is_none());
    assert_kind(
        k.idm.userinfo(&t2.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert!(
        k.idm
            .refresh_for_client(
                &anonymous(),
                &client,
                t2.refresh_token.as_ref().unwrap(),
                None
            )
            .await
            .is_err()
    );
    assert_eq!(k.audit("logout").await.len(), 1);
}

#[tokio::test]
async fn a_code_is_single_use_and_reuse_revokes_what_it_issued() {
    let (k, secret) = setup().await;
    let (_, code) = code_for(&k, &params("app")).await;
    let client = k
        .idm
        .authenticate_client(&auth("app", &secret))
        .await
        .unwrap();
    let t = k
        .idm
        .exchange_code(&anonymous(), &client, &code, REDIRECT, Some(VERIFIER))
        .await
        .unwrap();
    let e = assert_kind(
        k.idm
            .exchange_code(&anonymous(), &client, &code, REDIRECT, Some(VERIFIER))
            .await,
        ErrorKind::InvalidArgument,
    );
    assert_eq!(e.code, "invalid_grant");
    assert_kind(
        k.idm.userinfo(&t.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert!(
        k.idm
            .refresh_for_client(
                &anonymous(),
                &client,
                t.refresh_token.as_ref().unwrap(),
                None
            )
            .await
            .is_err()
    );
    assert_eq!(k.audit("oauth_code_reuse").await.len(), 1);
}

#[tokio::test]
async fn a_code_expires_after_sixty_seconds() {
    let (k, secret) = setup().await;
    let (_, code) = code_for(&k, &params("app")).await;
    let client = k
        .idm
        .authenticate_client(&auth("app", &secret))
        .await
        .unwrap();
    k.clock.advance(61);
    let e = k
        .idm
        .exchange_code(&anonymous(), &client, &code, REDIRECT, Some(VERIFIER))
        .await
        .unwrap_err();
    assert_eq!(e.code, "invalid_grant");
}

#[tokio::test]
async fn the_code_is_bound_to_its_client_redirect_uri_and_verifier() {
    let (k, secret) = setup().await;
    let app = k
        .idm
        .authenticate_client(&auth("app", &secret))
        .await
        .unwrap();
    let other = k.idm.get_client("other").await.unwrap();
    for (client, redirect, verifier) in [
        (&other, REDIRECT, Some(VERIFIER)),
        (&app, "https://app.example/callback/x", Some(VERIFIER)),
        (&app, REDIRECT, None),
        (
            &app,
            REDIRECT,
            Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"),
        ),
    ] {
        let (_, code) = code_for(&k, &params("app")).await;
        let e = k
            .idm
            .exchange_code(&anonymous(), client, &code, redirect, verifier)
            .await
            .unwrap_err();
        assert_eq!(e.code, "invalid_grant", "{redirect} {verifier:?}: {e:?}");
    }
    let wrong = k
        .idm
        .authenticate_client(&auth("app", "not the secret"))
        .await;
    assert_eq!(wrong.unwrap_err().code, "invalid_client");
}

#[tokio::test]
async fn requests_are_checked_in_an_order_that_never_redirects_to_a_stranger() {
    let (k, _) = setup().await;
    for (mutate, page) in [
        (
            Box::new(|p: &mut AuthorizeParams| p.client_id = Some("nobody".into()))
                as Box<dyn Fn(&mut AuthorizeParams)>,
            true,
        ),
        (
            Box::new(|p: &mut AuthorizeParams| {
                p.redirect_uri = Some("https://app.example/callback/../evil".into())
            }),
            true,
        ),
        (
            Box::new(|p: &mut AuthorizeParams| {
                p.redirect_uri = Some("https://app.example/callbac".into())
            }),
            true,
        ),
        (
            Box::new(|p: &mut AuthorizeParams| p.response_type = Some("token".into())),
            false,
        ),
        (
            Box::new(|p: &mut AuthorizeParams| p.code_challenge_method = Some("plain".into())),
            false,
        ),
        (
            Box::new(|p: &mut AuthorizeParams| p.scope = Some("openid admin".into())),
            false,
        ),
    ] {
        let mut p = params("app");
        mutate(&mut p);
        match k.idm.authorization_request(&p).await.unwrap_err() {
            AuthorizeError::Page(_) => assert!(page, "{p:?}"),
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                ..
            } => {
                assert!(!page, "{p:?}");
                assert_eq!(redirect_uri, REDIRECT);
                assert_eq!(state.as_deref(), Some("s1"));
            }
        }
    }
}

#[tokio::test]
async fn public_clients_must_use_pkce_and_authenticate_by_id_alone() {
    let (k, _) = setup().await;
    k.idm
        .create_client(&k.admin(), "spa", spec(ClientType::Public))
        .await
        .unwrap();
    let mut p = params("spa");
    p.code_challenge = None;
    p.code_challenge_method = None;
    match k.idm.authorization_request(&p).await.unwrap_err() {
        AuthorizeError::Redirect { error, .. } => assert_eq!(error, "invalid_request"),
        other => panic!("{other:?}"),
    }
    let public = ClientAuth {
        client_id: "spa".into(),
        secret: None,
    };
    assert!(k.idm.authenticate_client(&public).await.is_ok());
    let confidential_without_secret = ClientAuth {
        client_id: "app".into(),
        secret: None,
    };
    assert!(
        k.idm
            .authenticate_client(&confidential_without_secret)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn prompt_none_answers_the_client_instead_of_showing_a_page() {
    let (k, _) = setup().await;
    let mut p = params("app");
    p.prompt = Some("none".into());
    let req = k.idm.authorization_request(&p).await.unwrap();
    match k.idm.authorize_next(&req, None).await.unwrap_err() {
        AuthorizeError::Redirect { error, .. } => assert_eq!(error, "login_required"),
        other => panic!("{other:?}"),
    }
    let (session, _) = signed_in(&k.idm).await;
    match k
        .idm
        .authorize_next(&req, Some(&session))
        .await
        .unwrap_err()
    {
        AuthorizeError::Redirect { error, .. } => assert_eq!(error, "consent_required"),
        other => panic!("{other:?}"),
    }
    p.prompt = Some("login".into());
    p.max_age = Some("60".into());
    let req = k.idm.authorization_request(&p).await.unwrap();
    assert_eq!(
        k.idm.authorize_next(&req, Some(&session)).await.unwrap(),
        Next::SignIn
    );
}

#[tokio::test]
async fn sessions_end_when_idle_too_long_and_when_the_password_changes() {
    let (k, _) = setup().await;
    let (_, cookie) = signed_in(&k.idm).await;
    k.clock.advance(29 * 60);
    assert!(k.idm.web_session(&cookie).await.unwrap().is_some());
    k.clock.advance(29 * 60);
    assert!(
        k.idm.web_session(&cookie).await.unwrap().is_some(),
        "activity renewed it"
    );
    k.clock.advance(31 * 60);
    assert!(k.idm.web_session(&cookie).await.unwrap().is_none(), "idle");

    let (session, cookie) = signed_in(&k.idm).await;
    let caller = k.idm.session_caller(&session, None).await.unwrap();
    k.idm
        .change_password(&caller, pw(PW), pw("a brand new long password"))
        .await
        .unwrap();
    assert!(k.idm.web_session(&cookie).await.unwrap().is_none());
    assert!(k.idm.web_session("not a cookie").await.unwrap().is_none());
}

#[tokio::test]
async fn the_second_factor_completes_sign_in_with_a_new_session_id() {
    let (k, _) = setup().await;
    let token = k.login("alice", PW).await.unwrap().token.to_string();
    let alice = k.caller(&token);
    let (secret, _) = k.idm.enroll_totp(&alice).await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.trim_end_matches('=').as_bytes())
        .unwrap();
    let code = |t: i64| mcias_core::crypto::totp::code_at(&secret, t);
    k.idm
        .confirm_totp(&alice, &code(k.idm.now()))
        .await
        .unwrap();
    k.clock.advance(30);
    let pending = match k
        .idm
        .web_sign_in(&anonymous(), "alice", pw(PW), None)
        .await
        .unwrap()
    {
        SignIn::SecondFactor(p) => p,
        other => panic!("the second factor was skipped: {other:?}"),
    };
    assert!(
        k.idm.web_session(&pending.cookie).await.unwrap().is_none(),
        "not signed in before the code"
    );
    assert!(
        k.idm
            .web_second_factor(&anonymous(), &pending.cookie, "000000", None)
            .await
            .is_err()
    );
    let done = match k
        .idm
        .web_second_factor(&anonymous(), &pending.cookie, &code(k.idm.now()), None)
        .await
        .unwrap()
    {
        SignIn::Done(n) => n,
        other => panic!("{other:?}"),
    };
    assert_ne!(done.cookie.as_str(), pending.cookie.as_str());
    assert_eq!(done.session.amr, ["pwd", "otp", "mfa"]);
    assert!(k.idm.web_session(&done.cookie).await.unwrap().is_some());
    assert!(
        k.idm
            .pending_session(&pending.cookie)
            .await
            .unwrap()
            .is_none(),
        "the password-only session is gone"
    );
}

#[tokio::test]
async fn id_tokens_are_signed_with_the_clients_algorithm() {
    let (k, _) = setup().await;
    let mut rs = spec(ClientType::Confidential);
    rs.id_token_alg = Some(SigningAlg::Rs256);
    let (_, secret) = k
        .idm
        .create_client(&k.admin(), "rsa-app", rs)
        .await
        .unwrap();
    let (_, code) = code_for(&k, &params("rsa-app")).await;
    let client = k
        .idm
        .authenticate_client(&auth("rsa-app", &secret.unwrap()))
        .await
        .unwrap();
    let t = k
        .idm
        .exchange_code(&anonymous(), &client, &code, REDIRECT, Some(VERIFIER))
        .await
        .unwrap();
    let id_token = t.id_token.unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let keys = k.idm.signing_keys();
    assert_eq!(
        header["kid"].as_str(),
        keys.signing_kid(SigningAlg::Rs256),
        "the active RS256 key"
    );
    let claims = keys.verify_jwt(&id_token, k.idm.now()).unwrap();
    assert_eq!(claims["aud"], "rsa-app");
    // The access token stays EdDSA whatever the ID token's algorithm.
    let access_header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.access_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(access_header["alg"], "EdDSA");
    assert_eq!(access_header["typ"], "at+jwt");
}

#[tokio::test]
async fn a_temporary_password_must_be_replaced_before_anything_else() {
    let (k, _) = setup().await;
    let alice = k
        .idm
        .search_accounts(10, "", "alice", None)
        .await
        .unwrap()
        .accounts
        .remove(0);
    let (_, old_cookie) = signed_in(&k.idm).await;
    let temporary = k.idm.reset_password(&k.admin(), &alice.id).await.unwrap();
    assert!(
        k.idm.web_session(&old_cookie).await.unwrap().is_none(),
        "the reset ends every session"
    );
    let e = assert_kind(
        k.idm.login(&anonymous(), "alice", pw(&temporary), "").await,
        ErrorKind::FailedPrecondition,
    );
    assert_eq!(e.code, "password_change_required");
    let pending = match k
        .idm
        .web_sign_in(&anonymous(), "alice", pw(&temporary), None)
        .await
        .unwrap()
    {
        SignIn::NewPassword(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(k.idm.web_session(&pending.cookie).await.unwrap().is_none());
    assert!(
        k.idm
            .web_new_password(&anonymous(), &pending.cookie, pw("short"), None)
            .await
            .is_err(),
        "the password rules apply"
    );
    let done = k
        .idm
        .web_new_password(
            &anonymous(),
            &pending.cookie,
            pw("alice's brand new password"),
            None,
        )
        .await
        .unwrap();
    assert!(k.idm.web_session(&done.cookie).await.unwrap().is_some());
    assert!(k.login("alice", "alice's brand new password").await.is_ok());
    assert_eq!(k.audit("password_reset").await.len(), 1);
    let page = k.idm.search_accounts(10, "", "ALI", None).await.unwrap();
    assert_eq!(page.accounts.len(), 1);
    assert!(page.accounts[0].last_login_at.is_some());
    assert!(!page.accounts[0].password_change_required);
}
