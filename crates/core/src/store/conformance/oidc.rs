//! The OpenID Connect provider's records: browser sessions, consents,
//! authorization codes (single use in one transaction, reuse revoking the
//! grant), grants and the account's refresh families.

use super::{count, create, event, get, jtis, refresh, token};
use crate::model::{AuthCode, CodeOutcome, LoginSuccess, OAuthGrant, SessionStage, WebSession};
use crate::store::Backend;

fn session(hash: &str, sid: &str, stage: SessionStage, at: i64) -> WebSession {
    WebSession {
        id_hash: hash.to_owned(),
        sid: sid.to_owned(),
        account_id: "a1".to_owned(),
        token_version: 1,
        stage,
        amr: vec!["pwd".to_owned()],
        auth_time: at,
        created_at: at,
        last_seen: at,
        expires_at: at + 3600,
        ended_at: None,
        peer: Some("192.0.2.1:5000".to_owned()),
        user_agent: Some("agent".to_owned()),
    }
}

fn code(hash: &str, at: i64) -> AuthCode {
    AuthCode {
        code_hash: hash.to_owned(),
        client_id: "app".to_owned(),
        account_id: "a1".to_owned(),
        redirect_uri: "https://app.example/cb".to_owned(),
        scope: "openid email".to_owned(),
        nonce: Some("n".to_owned()),
        code_challenge: Some("c".repeat(43)),
        sid: "sid1".to_owned(),
        auth_time: at,
        amr: vec!["pwd".to_owned(), "otp".to_owned()],
        created_at: at,
        expires_at: at + 60,
        used_at: None,
        family_id: None,
    }
}

fn grant(family: &str, sid: &str, at: i64) -> OAuthGrant {
    OAuthGrant {
        family_id: family.to_owned(),
        client_id: "app".to_owned(),
        account_id: "a1".to_owned(),
        scope: "openid email".to_owned(),
        sid: Some(sid.to_owned()),
        auth_time: at,
        amr: vec!["pwd".to_owned()],
        created_at: at,
    }
}

pub(super) async fn oidc(s: &dyn Backend) {
    create(s, "a1", "alice", &[]).await;
    create(s, "a2", "bob", &[]).await;
    super::add_refresh_key(s, "rk1", 1).await;

    // Sessions: a pending one is replaced by the signed-in one in the same
    // write as the successful sign-in.
    s.create_web_session(
        session("h-pending", "sid0", SessionStage::SecondFactor, 1000),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        s.web_session("h-pending".to_owned())
            .await
            .unwrap()
            .unwrap()
            .stage,
        SessionStage::SecondFactor
    );
    s.login_succeeded(
        LoginSuccess {
            account_id: "a1".to_owned(),
            source: "192.0.2.1".to_owned(),
            now: 1000,
            new_hash: None,
            totp_step: None,
            token: None,
            refresh: None,
            session: Some((
                session("h1", "sid1", SessionStage::SignedIn, 1000),
                Some("h-pending".to_owned()),
            )),
        },
        event("login_success", 1000),
    )
    .await
    .unwrap();
    assert!(
        s.web_session("h-pending".to_owned())
            .await
            .unwrap()
            .is_none()
    );
    let got = s.web_session("h1".to_owned()).await.unwrap().unwrap();
    assert_eq!(got, session("h1", "sid1", SessionStage::SignedIn, 1000));
    s.touch_web_session("h1".to_owned(), 1100).await.unwrap();
    assert_eq!(
        s.web_session("h1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .last_seen,
        1100
    );
    s.create_web_session(
        session("h2", "sid2", SessionStage::SignedIn, 1200),
        None,
        Some(event("login_success", 1200)),
    )
    .await
    .unwrap();
    let live = s.account_web_sessions("a1".to_owned(), 1300).await.unwrap();
    assert_eq!(
        live.iter().map(|x| x.sid.as_str()).collect::<Vec<_>>(),
        ["sid2", "sid1"],
        "newest first"
    );
    assert!(
        s.account_web_sessions("a1".to_owned(), 5000)
            .await
            .unwrap()
            .is_empty(),
        "expired"
    );

    // Consent.
    assert!(
        s.consent("a1".to_owned(), "app".to_owned())
            .await
            .unwrap()
            .is_none()
    );
    s.set_consent(
        "a1".to_owned(),
        "app".to_owned(),
        vec!["openid".to_owned()],
        1000,
        event("consent_grant", 1000),
    )
    .await
    .unwrap();
    s.set_consent(
        "a1".to_owned(),
        "app".to_owned(),
        vec!["openid".to_owned(), "email".to_owned()],
        1001,
        event("consent_grant", 1001),
    )
    .await
    .unwrap();
    assert_eq!(
        s.consent("a1".to_owned(), "app".to_owned())
            .await
            .unwrap()
            .unwrap(),
        ["openid", "email"]
    );
    assert!(
        s.consent("a2".to_owned(), "app".to_owned())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(count(s, "consent_grant").await, 2);

    // Codes: fresh once, then reuse revokes the grant it was exchanged for.
    s.insert_auth_code(code("c1", 1000), event("oauth_authorize", 1000))
        .await
        .unwrap();
    let CodeOutcome::Fresh(taken) = s
        .take_auth_code("c1".to_owned(), 1010, event("oauth_code_reuse", 1010))
        .await
        .unwrap()
    else {
        panic!("a fresh code");
    };
    assert_eq!(taken, code("c1", 1000));
    s.issue_grant(
        grant("f1", "sid1", 1010),
        Some("c1".to_owned()),
        token("j1", "a1", 1010, 4600, Some("f1")),
        Some(refresh("r1", "f1", "a1", 1, 1010)),
        event("oauth_token", 1010),
    )
    .await
    .unwrap();
    assert_eq!(
        s.oauth_grant("f1".to_owned()).await.unwrap().unwrap(),
        grant("f1", "sid1", 1010)
    );
    assert!(s.oauth_grant("nope".to_owned()).await.unwrap().is_none());
    match s
        .take_auth_code("c1".to_owned(), 1020, event("oauth_code_reuse", 1020))
        .await
        .unwrap()
    {
        CodeOutcome::Reused(c, revoked) => {
            assert_eq!(c.family_id.as_deref(), Some("f1"));
            assert_eq!(jtis(revoked), ["j1"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(s, "oauth_code_reuse").await, 1);
    assert!(
        s.token("j1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    s.insert_auth_code(code("c2", 1000), event("oauth_authorize", 1000))
        .await
        .unwrap();
    assert_eq!(
        s.take_auth_code("c2".to_owned(), 1061, event("oauth_code_reuse", 1061))
            .await
            .unwrap(),
        CodeOutcome::Invalid,
        "expired"
    );
    assert_eq!(
        s.take_auth_code("unknown".to_owned(), 1000, event("oauth_code_reuse", 1000))
            .await
            .unwrap(),
        CodeOutcome::Invalid
    );

    // Families: the account's live ones, revocable only by their account.
    s.issue_grant(
        grant("f2", "sid2", 1300),
        None,
        token("j2", "a1", 1300, 4900, Some("f2")),
        Some(refresh("r2", "f2", "a1", 1, 1300)),
        event("oauth_token", 1300),
    )
    .await
    .unwrap();
    let families = s.account_families("a1".to_owned(), 1400).await.unwrap();
    assert_eq!(families.len(), 1, "f1 was revoked: {families:?}");
    assert_eq!(families[0].family_id, "f2");
    assert_eq!(families[0].client_id.as_deref(), Some("app"));
    assert!(
        s.revoke_account_family(
            "a2".to_owned(),
            "f2".to_owned(),
            1400,
            event("refresh_family_revoke", 1400)
        )
        .await
        .unwrap()
        .is_none(),
        "not bob's"
    );
    assert_eq!(count(s, "refresh_family_revoke").await, 0);

    // Ending a session revokes the grants issued from it, once.
    let revoked = s
        .end_web_session("sid2".to_owned(), 1500, event("logout", 1500))
        .await
        .unwrap();
    assert_eq!(jtis(revoked), ["j2"]);
    assert!(
        s.end_web_session("sid2".to_owned(), 1501, event("logout", 1501))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(s, "logout").await, 1);
    assert_eq!(
        s.web_session("h2".to_owned())
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        Some(1500)
    );
    assert!(
        s.account_families("a1".to_owned(), 1600)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(get(s, "a1").await.username, "alice");

    // Pruning: ended and expired sessions and expired codes go.
    assert!(s.prune_oidc(10_000).await.unwrap() >= 3);
    assert!(s.web_session("h1".to_owned()).await.unwrap().is_none());
    assert!(s.web_session("h2".to_owned()).await.unwrap().is_none());
}
