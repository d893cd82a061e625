//! Domain rules checked in-process through `Idm` (see `kit.rs`): login and
//! its failures, TOTP, tokens and revocation, refresh families, token
//! versions, the last admin, keys and client credentials. The end-to-end
//! suites of the server crate check the same rules over the wire.

mod clients;
mod fairness;
mod keys;
mod kit;
mod oidc;
mod profiles;

use kit::{ADMIN_PASSWORD, Kit, Options, anonymous, assert_kind, pw};
use mcias_core::error::ErrorKind;
use mcias_core::idm::ADMIN_ROLE;
use mcias_core::model::{AccountStatus, AccountType};

const ALICE_PW: &str = "alice's long password";

#[tokio::test]
async fn login_failures_look_alike_and_are_audited() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let wrong = assert_kind(
        k.login("alice", "not her password").await,
        ErrorKind::Unauthenticated,
    );
    let unknown = assert_kind(
        k.login("nobody", "whatever it is").await,
        ErrorKind::Unauthenticated,
    );
    assert_eq!(wrong.message, unknown.message, "no account enumeration");
    let ok = k.login("alice", ALICE_PW).await.unwrap();
    assert!(k.valid(&ok.token));
    let failures = k.audit("login_failure").await;
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures.iter().all(|e| e.outcome == "failure"));
    // The admin's login in the kit, and alice's.
    assert_eq!(k.audit("login_success").await.len(), 2);
}

#[tokio::test]
async fn repeated_failures_back_off_until_the_clock_passes() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    for _ in 0..10 {
        let _ = k.login("alice", "wrong password!").await;
    }
    // Even the right password is refused while the backoff lasts.
    assert_kind(k.login("alice", ALICE_PW).await, ErrorKind::Unauthenticated);
    k.clock.advance(mcias_core::idm::backoff_secs(10) + 1);
    assert!(k.login("alice", ALICE_PW).await.is_ok());
}

#[tokio::test]
async fn totp_is_required_once_confirmed_and_a_code_works_once() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let token = k.login("alice", ALICE_PW).await.unwrap().token.to_string();
    let alice = k.caller(&token);
    let (secret, uri) = k.idm.enroll_totp(&alice).await.unwrap();
    assert!(uri.starts_with("otpauth://totp/"));
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.trim_end_matches('=').as_bytes())
        .unwrap();
    let code = |t: i64| mcias_core::crypto::totp::code_at(&secret, t);
    // Not required until confirmed.
    assert!(k.login("alice", ALICE_PW).await.is_ok());
    k.idm
        .confirm_totp(&alice, &code(k.idm.now()))
        .await
        .unwrap();
    k.clock.advance(30);
    assert_kind(k.login("alice", ALICE_PW).await, ErrorKind::Unauthenticated);
    let now_code = code(k.idm.now());
    k.idm
        .login(&anonymous(), "alice", pw(ALICE_PW), &now_code)
        .await
        .unwrap();
    // The same code again is a replay.
    assert_kind(
        k.idm
            .login(&anonymous(), "alice", pw(ALICE_PW), &now_code)
            .await,
        ErrorKind::Unauthenticated,
    );
    k.clock.advance(30);
    let next = code(k.idm.now());
    assert!(
        k.idm
            .login(&anonymous(), "alice", pw(ALICE_PW), &next)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn logout_renew_and_expiry_end_tokens() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let first = k.login("alice", ALICE_PW).await.unwrap().token.to_string();
    let renewed = k
        .idm
        .renew(&k.caller(&first))
        .await
        .unwrap()
        .token
        .to_string();
    assert!(!k.valid(&first), "renew revokes the old token");
    assert!(k.valid(&renewed));
    k.idm.logout(&k.caller(&renewed)).await.unwrap();
    assert!(!k.valid(&renewed), "logout revokes the token");
    let last = k.login("alice", ALICE_PW).await.unwrap().token.to_string();
    k.clock.advance(3600 + 120);
    assert!(
        !k.valid(&last),
        "an access token ends at its expiry (plus leeway)"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let issued = k.login("alice", ALICE_PW).await.unwrap();
    let r1 = issued.refresh.unwrap().0.to_string();
    let second = k.idm.refresh(&anonymous(), &r1).await.unwrap();
    let r2 = second.refresh.clone().unwrap().0.to_string();
    assert_ne!(r1, r2);
    assert!(k.valid(&second.token));
    // r1 again: reuse. The family dies, with the access tokens it issued.
    assert_kind(
        k.idm.refresh(&anonymous(), &r1).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        k.idm.refresh(&anonymous(), &r2).await,
        ErrorKind::Unauthenticated,
    );
    assert!(!k.valid(&second.token));
    assert_eq!(k.audit("refresh_token_reuse").await.len(), 1);
}

#[tokio::test]
async fn within_the_grace_window_the_previous_token_gets_the_same_successor() {
    let k = Kit::with(Options {
        refresh_grace: "2s",
        ..Options::default()
    })
    .await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let r1 = k
        .login("alice", ALICE_PW)
        .await
        .unwrap()
        .refresh
        .unwrap()
        .0
        .to_string();
    let a = k.idm.refresh(&anonymous(), &r1).await.unwrap();
    let b = k.idm.refresh(&anonymous(), &r1).await.unwrap();
    assert_eq!(
        a.refresh.as_ref().unwrap().0.as_str(),
        b.refresh.as_ref().unwrap().0.as_str()
    );
    k.clock.advance(3);
    assert_kind(
        k.idm.refresh(&anonymous(), &r1).await,
        ErrorKind::Unauthenticated,
    );
}

#[tokio::test]
async fn password_change_and_suspension_sign_the_account_out() {
    let k = Kit::new().await;
    let alice_account = k.account("alice", AccountType::Human, ALICE_PW).await;
    let issued = k.login("alice", ALICE_PW).await.unwrap();
    let (access, refresh) = (
        issued.token.to_string(),
        issued.refresh.unwrap().0.to_string(),
    );
    k.idm
        .change_password(&k.caller(&access), pw(ALICE_PW), pw("a brand new password"))
        .await
        .unwrap();
    assert!(!k.valid(&access), "the token version moved on");
    assert_kind(
        k.idm.refresh(&anonymous(), &refresh).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(k.login("alice", ALICE_PW).await, ErrorKind::Unauthenticated);
    let again = k
        .login("alice", "a brand new password")
        .await
        .unwrap()
        .token
        .to_string();
    k.idm
        .update_status(&k.admin(), &alice_account.id, AccountStatus::Suspended)
        .await
        .unwrap();
    assert!(!k.valid(&again));
    assert_kind(
        k.login("alice", "a brand new password").await,
        ErrorKind::Unauthenticated,
    );
}

#[tokio::test]
async fn the_last_active_admin_stays() {
    let k = Kit::new().await;
    let id = k.admin.id.clone();
    assert_kind(
        k.idm.set_roles(&k.admin(), &id, &[]).await,
        ErrorKind::FailedPrecondition,
    );
    assert_kind(
        k.idm
            .update_status(&k.admin(), &id, AccountStatus::Suspended)
            .await,
        ErrorKind::FailedPrecondition,
    );
    assert_kind(
        k.idm.delete_account(&k.admin(), &id).await,
        ErrorKind::FailedPrecondition,
    );
    // With a second admin, the first may go.
    let bob = k
        .account("bob", AccountType::Human, "bob's long password")
        .await;
    k.idm
        .set_roles(&k.admin(), &bob.id, &[ADMIN_ROLE.to_owned()])
        .await
        .unwrap();
    let bob_token = k
        .login("bob", "bob's long password")
        .await
        .unwrap()
        .token
        .to_string();
    k.idm
        .delete_account(&k.caller(&bob_token), &id)
        .await
        .unwrap();
    assert_kind(
        k.login("admin", ADMIN_PASSWORD).await,
        ErrorKind::Unauthenticated,
    );
}

#[tokio::test]
async fn self_or_admin_operations_refuse_other_accounts() {
    let k = Kit::new().await;
    let alice = k.account("alice", AccountType::Human, ALICE_PW).await;
    let bob = k
        .account("bob", AccountType::Human, "bob's long password")
        .await;
    let alice_token = k.login("alice", ALICE_PW).await.unwrap().token.to_string();
    let as_alice = k.caller(&alice_token);
    assert_kind(
        k.idm.sign_out_everywhere(&as_alice, &bob.id).await,
        ErrorKind::PermissionDenied,
    );
    k.idm
        .sign_out_everywhere(&as_alice, &alice.id)
        .await
        .unwrap();
    assert!(!k.valid(&alice_token));
    let bob_token = k
        .login("bob", "bob's long password")
        .await
        .unwrap()
        .token
        .to_string();
    assert_kind(
        k.idm.get_pg_creds(&k.caller(&bob_token), &alice.id).await,
        ErrorKind::PermissionDenied,
    );
}

/// A kit whose rotated keys sign at once (`tokens.signing_key_lead = "0s"`);
/// `keys.rs` checks the lead time itself.
async fn kit_without_lead() -> Kit {
    Kit::with(Options {
        tokens_extra: "signing_key_lead = \"0s\"",
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn signing_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let k = kit_without_lead().await;
    let before = k.idm.public_keys();
    let kid = k.idm.rotate_signing_key(&k.admin()).await.unwrap();
    assert!(
        k.valid(&k.admin_token),
        "tokens of the previous key still verify"
    );
    let keys = k.idm.public_keys();
    assert_eq!(keys.len(), before.len() + 2, "a new key of each algorithm");
    let fresh = k
        .login("admin", ADMIN_PASSWORD)
        .await
        .unwrap()
        .token
        .to_string();
    let header = fresh.split('.').next().unwrap();
    let header = data_encoding::BASE64URL_NOPAD
        .decode(header.as_bytes())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(header["alg"], "EdDSA");
}

#[tokio::test]
async fn client_credentials_need_the_current_secret() {
    let k = Kit::new().await;
    let svc = k.account("billing", AccountType::System, "").await;
    let secret = k
        .idm
        .rotate_client_secret(&k.admin(), &svc.id)
        .await
        .unwrap();
    let issued = k
        .idm
        .client_credentials(&anonymous(), "billing", secret.clone())
        .await
        .unwrap();
    let claims = k.idm.validate(&issued.token).unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.typ.as_str()),
        (svc.id.as_str(), "system")
    );
    assert!(issued.refresh.is_none());
    assert_kind(
        k.idm
            .client_credentials(&anonymous(), "billing", pw("not the secret"))
            .await,
        ErrorKind::Unauthenticated,
    );
    // A new secret retires the old one.
    k.idm
        .rotate_client_secret(&k.admin(), &svc.id)
        .await
        .unwrap();
    assert_kind(
        k.idm
            .client_credentials(&anonymous(), "billing", secret)
            .await,
        ErrorKind::Unauthenticated,
    );
}

#[tokio::test]
async fn introspection_and_revocation_by_value() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let issued = k.login("alice", ALICE_PW).await.unwrap();
    let refresh = issued.refresh.unwrap().0.to_string();
    let i = k.idm.introspect(&k.admin(), &issued.token).await.unwrap();
    assert!(i.active);
    assert_eq!(i.token_type, "access_token");
    let r = k.idm.introspect(&k.admin(), &refresh).await.unwrap();
    assert!(r.active);
    assert_eq!(r.token_type, "refresh_token");
    k.idm.revoke_value(&anonymous(), &refresh).await.unwrap();
    assert!(!k.idm.introspect(&k.admin(), &refresh).await.unwrap().active);
    assert!(
        !k.valid(&issued.token),
        "a refresh token takes its family's access tokens along"
    );
    assert!(
        !k.idm
            .introspect(&k.admin(), "not a token at all")
            .await
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn logout_ends_the_refresh_family_of_the_session() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let issued = k.login("alice", ALICE_PW).await.unwrap();
    let r1 = issued.refresh.clone().unwrap().0.to_string();
    let second = k.idm.refresh(&anonymous(), &r1).await.unwrap();
    let r2 = second.refresh.clone().unwrap().0.to_string();
    // Another session of the same account stays.
    let other = k.login("alice", ALICE_PW).await.unwrap();
    let other_refresh = other.refresh.clone().unwrap().0.to_string();
    k.idm.logout(&k.caller(&second.token)).await.unwrap();
    assert!(!k.valid(&second.token), "logout revokes the token");
    assert_kind(
        k.idm.refresh(&anonymous(), &r2).await,
        ErrorKind::Unauthenticated,
    );
    assert!(
        !k.valid(&issued.token),
        "the session's other access tokens end with it"
    );
    assert!(k.valid(&other.token), "other sessions stay");
    assert!(k.idm.refresh(&anonymous(), &other_refresh).await.is_ok());
    let logout = k.audit("logout").await;
    assert_eq!(logout.len(), 1, "{logout:?}");
    assert!(
        logout[0].details.contains("refresh_family"),
        "the audit names the family: {}",
        logout[0].details
    );
}

#[tokio::test]
async fn introspection_answers_others_tokens_only_to_an_admin() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    k.account("bob", AccountType::Human, "bob's long password")
        .await;
    let alice = k.login("alice", ALICE_PW).await.unwrap();
    let alice_refresh = alice.refresh.clone().unwrap().0.to_string();
    let bob = k.login("bob", "bob's long password").await.unwrap();
    let bob_refresh = bob.refresh.clone().unwrap().0.to_string();
    let as_alice = k.caller(&alice.token);
    // Her own tokens: described.
    assert!(
        k.idm
            .introspect(&as_alice, &alice.token)
            .await
            .unwrap()
            .active
    );
    assert!(
        k.idm
            .introspect(&as_alice, &alice_refresh)
            .await
            .unwrap()
            .active
    );
    // Bob's and the admin's: inactive, and nothing about them.
    for other in [bob.token.as_str(), &bob_refresh, &k.admin_token] {
        let i = k.idm.introspect(&as_alice, other).await.unwrap();
        assert_eq!(i, mcias_core::idm::Introspection::default());
    }
    // An admin sees all.
    let i = k.idm.introspect(&k.admin(), &bob_refresh).await.unwrap();
    assert!(i.active);
    assert!(
        k.idm
            .introspect(&k.admin(), &alice.token)
            .await
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn a_failed_login_never_records_an_unknown_username_in_clear() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    // A password typed into the username field.
    let _ = k.login("Hunter2-my-password", "whatever it is").await;
    let _ = k.login("Hunter2-my-password", "whatever it is").await;
    let _ = k.login("alice", "not her password").await;
    let failures = k.audit("login_failure").await;
    assert_eq!(failures.len(), 3);
    let all: String = failures.iter().map(|e| e.details.clone()).collect();
    assert!(
        !all.to_lowercase().contains("hunter2"),
        "the submitted username is in the audit log: {all}"
    );
    let unknown: Vec<serde_json::Value> = failures[1..]
        .iter()
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect();
    assert_eq!(
        unknown[0]["username_hmac"], unknown[1]["username_hmac"],
        "the same mistake is recognisable"
    );
    assert_eq!(unknown[0]["username_length"], 19);
    let known: serde_json::Value = serde_json::from_str(&failures[0].details).unwrap();
    assert_eq!(known["username"], "alice", "known accounts keep the name");
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    mcias_core::crypto::jwt::peek_kid(token).unwrap()
}

#[tokio::test]
async fn a_revoked_signing_key_stops_verifying_at_once() {
    let k = kit_without_lead().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let old_token = k.login("alice", ALICE_PW).await.unwrap().token.to_string();
    let old_kid = kid_of(&old_token);
    let new_kid = k.idm.rotate_signing_key(&k.admin()).await.unwrap();
    assert!(k.valid(&old_token), "a rotated-out key still verifies");
    let admin = k
        .login("admin", ADMIN_PASSWORD)
        .await
        .unwrap()
        .token
        .to_string();
    let admin = k.caller(&admin);
    // Only an admin may, and an unknown key is named as such.
    let alice = k.login("alice", ALICE_PW).await.unwrap().token.to_string();
    assert_kind(
        k.idm.revoke_signing_key(&k.caller(&alice), &old_kid).await,
        ErrorKind::PermissionDenied,
    );
    assert_kind(
        k.idm.revoke_signing_key(&admin, "no-such-key").await,
        ErrorKind::NotFound,
    );
    let revoked = k.idm.revoke_signing_key(&admin, &old_kid).await.unwrap();
    assert_eq!(
        (revoked.kid.as_str(), revoked.rotated_to),
        (old_kid.as_str(), None)
    );
    assert!(!k.valid(&old_token), "tokens of a revoked key stop at once");
    assert!(k.idm.validate(&old_token).is_none());
    assert!(k.valid(&alice), "tokens of other keys stay");
    assert!(
        k.idm.public_keys().iter().all(|j| j.kid != old_kid),
        "it leaves the JWKS"
    );
    let events = k.audit("signing_key_revoke").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target_id.as_deref(), Some(old_kid.as_str()));
    // Revoking it again: it is gone.
    assert_kind(
        k.idm.revoke_signing_key(&admin, &old_kid).await,
        ErrorKind::NotFound,
    );

    // The active key: a new one is rotated in first, and the answer says so.
    let revoked = k.idm.revoke_signing_key(&admin, &new_kid).await.unwrap();
    let next = revoked.rotated_to.clone().unwrap();
    assert_ne!(next, new_kid);
    assert!(
        !k.valid(&alice),
        "every token of the revoked active key stops"
    );
    let fresh = k.login("alice", ALICE_PW).await.unwrap().token.to_string();
    assert_eq!(kid_of(&fresh), next);
    assert!(k.valid(&fresh));
    let kids: Vec<String> = k
        .idm
        .public_keys()
        .into_iter()
        .filter(|j| j.kty == "OKP")
        .map(|j| j.kid)
        .collect();
    assert_eq!(kids, [next], "the Ed25519 keys published");
}

#[tokio::test]
async fn client_secrets_set_before_keyed_hashes_still_work() {
    use mcias_core::model::{AuditEntry, Outcome};
    let k = Kit::new().await;
    let svc = k.account("legacy", AccountType::System, "").await;
    // An Argon2id PHC string, as RotateClientSecret stored before.
    let params =
        mcias_core::crypto::password::params(&mcias_core::crypto::password::Argon2Params {
            memory_kib: 19_456,
            time: 2,
            parallelism: 1,
        })
        .unwrap();
    let rng = mcias_core::clock::SeededRandom::new(3);
    let phc = mcias_core::crypto::password::hash_blocking(&params, rng.as_ref(), b"an old secret")
        .unwrap();
    let audit = AuditEntry {
        occurred_at: k.idm.now(),
        event_type: "client_secret_rotate",
        actor_id: None,
        target_id: Some(svc.id.clone()),
        peer: None,
        outcome: Outcome::Success,
        details: serde_json::json!({}),
    };
    k.idm
        .store()
        .set_client_secret(svc.id.clone(), phc, k.idm.now(), audit)
        .await
        .unwrap();
    assert!(
        k.idm
            .client_credentials(&anonymous(), "legacy", pw("an old secret"))
            .await
            .is_ok()
    );
    assert_kind(
        k.idm
            .client_credentials(&anonymous(), "legacy", pw("another secret"))
            .await,
        ErrorKind::Unauthenticated,
    );
}
