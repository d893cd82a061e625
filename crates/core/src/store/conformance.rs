//! The store conformance suite: one set of tests, written against
//! [`Backend`] only, that every backend must pass. A backend's test calls
//! [`run_all`] with a factory that makes a fresh, empty, migrated backend:
//!
//! ```ignore
//! #[tokio::test]
//! async fn my_backend_conforms() {
//!     mcias_core::store::conformance::run_all(|| async { fresh_backend().await }).await;
//! }
//! ```
//!
//! (`mcias-core` with the `conformance` feature; see
//! `crates/core/tests/store_conformance.rs` for SQLite.) Each area gets its
//! own fresh backend, so areas do not see each other's rows. A failure panics
//! with the area's name printed first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Backend;
use crate::error::{Error, ErrorKind};
use crate::model::{
    AccountRecord, AccountStatus, AccountType, AuditEntry, AuditFilter, ClientRecord, ClientType,
    GrantType, LoginFailure, LoginSuccess, NewRefresh, NewToken, Outcome, PgCredsRecord, Profile,
    RefreshKeyRecord, RefreshOutcome, SigningAlg, SigningKeyRecord, SourceFailures, TokenKind,
};

mod console;
mod oidc;

/// One area of the suite, run against a fresh backend.
pub type Area = for<'a> fn(&'a dyn Backend) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Every area, by name.
pub fn areas() -> Vec<(&'static str, Area)> {
    vec![
        ("accounts", |s| Box::pin(accounts(s))),
        ("logins", |s| Box::pin(logins(s))),
        ("status", |s| Box::pin(status(s))),
        ("totp", |s| Box::pin(totp(s))),
        ("client_secret_and_sign_out", |s| {
            Box::pin(client_secret_and_sign_out(s))
        }),
        ("profiles", |s| Box::pin(profiles(s))),
        ("roles", |s| Box::pin(roles(s))),
        ("tokens", |s| Box::pin(tokens(s))),
        ("refresh_families", |s| Box::pin(refresh_families(s))),
        ("audit", |s| Box::pin(audit(s))),
        ("signing_keys", |s| Box::pin(signing_keys(s))),
        ("signing_keys_per_alg", |s| {
            Box::pin(signing_keys_per_alg(s))
        }),
        ("refresh_keys", |s| Box::pin(refresh_keys(s))),
        ("pg_creds", |s| Box::pin(pg_creds(s))),
        ("oauth_clients", |s| Box::pin(oauth_clients(s))),
        ("oidc", |s| Box::pin(oidc::oidc(s))),
        ("console", |s| Box::pin(console::console(s))),
        ("config_values", |s| Box::pin(config_values(s))),
        ("lock_and_health", |s| Box::pin(lock_and_health(s))),
    ]
}

/// Runs every area, each against a backend fresh from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Backend>>,
{
    for (name, area) in areas() {
        println!("store conformance: {name}");
        let backend = make().await;
        area(backend.as_ref()).await;
    }
}

// --- helpers ---

fn event(event_type: &'static str, at: i64) -> AuditEntry {
    AuditEntry {
        occurred_at: at,
        event_type,
        actor_id: Some("actor".to_owned()),
        target_id: None,
        peer: Some("127.0.0.1".to_owned()),
        outcome: Outcome::Success,
        details: serde_json::json!({}),
    }
}

fn record(id: &str, username: &str, account_type: AccountType) -> AccountRecord {
    AccountRecord {
        id: id.to_owned(),
        username: username.to_owned(),
        account_type,
        status: AccountStatus::Active,
        password_hash: Some(format!("hash-of-{username}")),
        totp_secret_sealed: None,
        totp_enabled: false,
        totp_last_step: 0,
        failed_logins: 0,
        locked_until: 0,
        created_at: 100,
        updated_at: 100,
        token_version: 1,
        client_secret_hash: None,
        last_login_at: None,
        password_change_required: false,
        profile: Profile::default(),
    }
}

async fn create(s: &dyn Backend, id: &str, username: &str, roles: &[&str]) {
    create_typed(s, id, username, AccountType::Human, roles).await;
}

async fn create_typed(s: &dyn Backend, id: &str, username: &str, ty: AccountType, roles: &[&str]) {
    s.create_account(
        record(id, username, ty),
        roles.iter().map(|r| (*r).to_owned()).collect(),
        event("account_create", 100),
    )
    .await
    .unwrap();
}

async fn get(s: &dyn Backend, id: &str) -> AccountRecord {
    s.account(id.to_owned()).await.unwrap().expect("account")
}

fn token(jti: &str, account: &str, issued: i64, expires: i64, family: Option<&str>) -> NewToken {
    NewToken {
        jti: jti.to_owned(),
        account_id: account.to_owned(),
        kind: TokenKind::Session,
        issued_at: issued,
        expires_at: expires,
        family_id: family.map(str::to_owned),
    }
}

fn refresh(hash: &str, family: &str, account: &str, version: i64, issued: i64) -> NewRefresh {
    NewRefresh {
        hash: hash.to_owned(),
        key_id: "rk1".to_owned(),
        family_id: family.to_owned(),
        account_id: account.to_owned(),
        token_version: version,
        issued_at: issued,
        expires_at: issued + 3600,
        sealed: Some(format!("sealed-{hash}").into_bytes()),
    }
}

/// A login of `a1` at `now` issuing `jti` (valid 900 s) in the family of
/// `refresh`.
fn login(jti: &str, now: i64, refresh: Option<NewRefresh>) -> LoginSuccess {
    let family = refresh.as_ref().map(|r| r.family_id.as_str());
    LoginSuccess {
        account_id: "a1".to_owned(),
        source: "192.0.2.1".to_owned(),
        now,
        new_hash: None,
        totp_step: None,
        token: Some(token(jti, "a1", now, now + 900, family)),
        refresh,
        session: None,
    }
}

async fn add_refresh_key(s: &dyn Backend, id: &str, at: i64) {
    s.insert_refresh_key(
        RefreshKeyRecord {
            id: id.to_owned(),
            secret_sealed: format!("sealed-{id}").into_bytes(),
            created_at: at,
            active: true,
        },
        event("refresh_key_create", at),
    )
    .await
    .unwrap();
}

async fn set_status(
    s: &dyn Backend,
    id: &str,
    status: AccountStatus,
    at: i64,
) -> crate::error::Result<(AccountRecord, Vec<(String, i64)>)> {
    s.set_status(id.to_owned(), status, at, event("status", at))
        .await
}

async fn revoke(s: &dyn Backend, jti: &str, reason: &str, at: i64) -> Option<i64> {
    s.revoke_token(
        jti.to_owned(),
        reason.to_owned(),
        at,
        event("token_revoke", at),
    )
    .await
    .unwrap()
}

/// How many audit events of `event_type` the backend holds.
async fn count(s: &dyn Backend, event_type: &str) -> usize {
    s.list_audit(
        AuditFilter {
            event_type: Some(event_type.to_owned()),
            ..AuditFilter::default()
        },
        1000,
    )
    .await
    .unwrap()
    .len()
}

#[track_caller]
fn assert_err(e: Error, kind: ErrorKind, code: &str) {
    assert_eq!((e.kind, e.code), (kind, code), "{e}");
}

fn jtis(mut v: Vec<(String, i64)>) -> Vec<String> {
    v.sort();
    v.into_iter().map(|(j, _)| j).collect()
}

// --- areas ---

/// create_account, account, account_by_username, list_accounts (paging,
/// deleted excluded), token_versions.
pub async fn accounts(s: &dyn Backend) {
    assert!(s.account("a1".to_owned()).await.unwrap().is_none());
    create(s, "a1", "alice", &["admin", "user"]).await;
    let a = get(s, "a1").await;
    assert_eq!(a.username, "alice");
    assert_eq!(a.account_type, AccountType::Human);
    assert_eq!(a.status, AccountStatus::Active);
    assert_eq!(a.password_hash.as_deref(), Some("hash-of-alice"));
    assert_eq!((a.created_at, a.updated_at), (100, 100));
    assert_eq!((a.failed_logins, a.locked_until), (0, 0));
    assert!(!a.totp_enabled && a.totp_secret_sealed.is_none());
    assert!(a.client_secret_hash.is_none());
    let by_name = s
        .account_by_username("alice".to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.id, "a1");
    assert!(
        s.account_by_username("nobody".to_owned())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.roles("a1".to_owned()).await.unwrap(), ["admin", "user"]);

    // A taken username changes nothing, not even the audit log.
    let dup = s
        .create_account(
            record("a9", "alice", AccountType::System),
            vec![],
            event("account_create", 100),
        )
        .await
        .unwrap_err();
    assert_err(dup, ErrorKind::AlreadyExists, "username_taken");
    assert!(s.account("a9".to_owned()).await.unwrap().is_none());
    assert_eq!(count(s, "account_create").await, 1);

    for (id, name) in [
        ("a2", "bob"),
        ("a3", "carol"),
        ("a4", "dave"),
        ("a5", "erin"),
    ] {
        create(s, id, name, &[]).await;
    }
    create_typed(s, "a6", "svc", AccountType::System, &[]).await;
    assert_eq!(get(s, "a6").await.account_type, AccountType::System);
    assert_eq!(count(s, "account_create").await, 6);

    // Paging in id order.
    let ids = |v: Vec<AccountRecord>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(s.list_accounts(None, 2).await.unwrap()), ["a1", "a2"]);
    assert_eq!(
        ids(s.list_accounts(Some("a2".to_owned()), 3).await.unwrap()),
        ["a3", "a4", "a5"]
    );
    assert_eq!(
        ids(s.list_accounts(Some("a5".to_owned()), 3).await.unwrap()),
        ["a6"]
    );
    assert!(
        s.list_accounts(Some("a6".to_owned()), 3)
            .await
            .unwrap()
            .is_empty()
    );
    // Deleted accounts are not listed but can still be read.
    set_status(s, "a3", AccountStatus::Deleted, 200)
        .await
        .unwrap();
    assert_eq!(
        ids(s.list_accounts(None, 10).await.unwrap()),
        ["a1", "a2", "a4", "a5", "a6"]
    );
    assert_eq!(get(s, "a3").await.status, AccountStatus::Deleted);

    let mut versions = s.token_versions().await.unwrap();
    versions.sort();
    let names: Vec<&str> = versions.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(names, ["a1", "a2", "a3", "a4", "a5", "a6"]);
    let v1 = versions[0].1;
    assert_eq!(v1, get(s, "a1").await.token_version);
    assert!(versions[2].1 > v1, "deleting bumps the token version");
}

fn lock_after_three(failures: i64) -> i64 {
    if failures >= 3 { 60 } else { 0 }
}

fn lock_after_five(failures: i64) -> i64 {
    if failures >= 5 { 600 } else { 0 }
}

/// A failure of `a1` from `source` at `now`: the source locks after three,
/// the account after five.
fn failure(source: &str, now: i64) -> LoginFailure {
    LoginFailure {
        account_id: "a1".to_owned(),
        source: source.to_owned(),
        now,
        source_lock_secs: lock_after_three,
        account_lock_secs: lock_after_five,
    }
}

/// login_failed (count and lock per source and per account, pruning),
/// source_failures, login_succeeded (reset of the account and the source,
/// re-hash, token, refresh token, TOTP step replay refused atomically),
/// set_password.
pub async fn logins(s: &dyn Backend) {
    create(s, "a1", "alice", &[]).await;
    for expected in 1..=3 {
        let n = s
            .login_failed(failure("192.0.2.1", 1000), event("login_failure", 1000))
            .await
            .unwrap();
        assert_eq!(n.failures, expected);
    }
    let a = get(s, "a1").await;
    assert_eq!((a.failed_logins, a.locked_until), (3, 0));
    let a_src = s
        .source_failures("a1".to_owned(), "192.0.2.1".to_owned())
        .await
        .unwrap();
    assert_eq!(
        a_src,
        SourceFailures {
            failures: 3,
            locked_until: 1060
        }
    );
    // Another source is not locked by the first one's failures.
    let b = s
        .source_failures("a1".to_owned(), "198.51.100.2".to_owned())
        .await
        .unwrap();
    assert_eq!(b, SourceFailures::default());
    // The account-wide ceiling counts every source.
    for src in ["198.51.100.2", "198.51.100.3"] {
        let n = s
            .login_failed(failure(src, 1000), event("login_failure", 1000))
            .await
            .unwrap();
        assert_eq!(n.failures, 1);
    }
    let a = get(s, "a1").await;
    assert_eq!((a.failed_logins, a.locked_until), (5, 1600));
    assert_eq!(count(s, "login_failure").await, 5);

    add_refresh_key(s, "rk1", 1).await;
    s.login_succeeded(
        LoginSuccess {
            new_hash: Some("rehashed".to_owned()),
            ..login(
                "j1",
                1100,
                Some(refresh("r1", "f1", "a1", a.token_version, 1100)),
            )
        },
        event("login_success", 1100),
    )
    .await
    .unwrap();
    let a = get(s, "a1").await;
    assert_eq!((a.failed_logins, a.locked_until), (0, 0));
    assert_eq!(a.password_hash.as_deref(), Some("rehashed"));
    // The successful source is forgotten; the others stay as they were.
    let src = |name: &str| s.source_failures("a1".to_owned(), name.to_owned());
    assert_eq!(src("192.0.2.1").await.unwrap(), SourceFailures::default());
    assert_eq!(src("198.51.100.2").await.unwrap().failures, 1);
    let t = s.token("j1".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (
            t.account_id.as_str(),
            t.issued_at,
            t.expires_at,
            t.revoked_at
        ),
        ("a1", 1100, 2000, None)
    );
    let r = s.refresh_token("r1".to_owned()).await.unwrap().unwrap();
    assert_eq!((r.family_id.as_str(), r.used_at), ("f1", None));

    // TOTP steps only move forward; a replayed step records nothing.
    s.set_totp_pending(
        "a1".to_owned(),
        vec![7; 4],
        1100,
        event("totp_enroll", 1100),
    )
    .await
    .unwrap();
    s.confirm_totp("a1".to_owned(), 10, 1100, event("totp_confirm", 1100))
        .await
        .unwrap();
    let with_step = |jti: &str, step| LoginSuccess {
        totp_step: Some(step),
        ..login(jti, 1200, None)
    };
    s.login_succeeded(with_step("j2", 11), event("login_success", 1200))
        .await
        .unwrap();
    assert_eq!(get(s, "a1").await.totp_last_step, 11);
    let replay = s
        .login_succeeded(with_step("j3", 11), event("login_success", 1200))
        .await
        .unwrap_err();
    assert_eq!(replay.kind, ErrorKind::Unauthenticated);
    assert!(s.token("j3".to_owned()).await.unwrap().is_none());
    assert_eq!(count(s, "login_success").await, 2);

    // set_password: new hash, lockout cleared, token version bumped.
    s.login_failed(failure("192.0.2.1", 1300), event("login_failure", 1300))
        .await
        .unwrap();
    let before = get(s, "a1").await.token_version;
    s.set_password(
        "a1".to_owned(),
        "new-hash".to_owned(),
        1400,
        event("password_change", 1400),
    )
    .await
    .unwrap();
    let a = get(s, "a1").await;
    assert_eq!(a.password_hash.as_deref(), Some("new-hash"));
    assert_eq!(
        s.source_failures("a1".to_owned(), "192.0.2.1".to_owned())
            .await
            .unwrap(),
        SourceFailures::default(),
        "a new password forgets every source's failures"
    );
    // Pairs idle for a day and no longer locked are pruned.
    s.login_failed(failure("192.0.2.9", 1500), event("login_failure", 1500))
        .await
        .unwrap();
    s.login_failed(
        failure("192.0.2.10", 1500 + 86_401),
        event("login_failure", 1500 + 86_401),
    )
    .await
    .unwrap();
    assert_eq!(
        s.source_failures("a1".to_owned(), "192.0.2.9".to_owned())
            .await
            .unwrap(),
        SourceFailures::default()
    );
    assert_eq!((a.failed_logins, a.updated_at), (0, 1400));
    assert_eq!(a.token_version, before + 1);
    assert_eq!(count(s, "password_change").await, 1);
    let unknown = s
        .set_password("zz".to_owned(), "h".to_owned(), 1, event("x", 1))
        .await
        .unwrap_err();
    assert_eq!(unknown.kind, ErrorKind::NotFound);
    set_status(s, "a1", AccountStatus::Deleted, 1500)
        .await
        .unwrap();
    let deleted = s
        .set_password("a1".to_owned(), "h".to_owned(), 1600, event("x", 1600))
        .await
        .unwrap_err();
    assert_err(deleted, ErrorKind::FailedPrecondition, "account_deleted");
    assert_eq!(count(s, "x").await, 0);
}

/// set_status: leaving ACTIVE revokes live tokens and bumps the version;
/// coming back does neither; a deleted account cannot change.
pub async fn status(s: &dyn Backend) {
    create(s, "adm", "root", &["admin"]).await;
    create(s, "a1", "alice", &[]).await;
    s.insert_token(token("live", "a1", 100, 5000, None), event("issue", 100))
        .await
        .unwrap();
    s.insert_token(token("old", "a1", 100, 150, None), event("issue", 100))
        .await
        .unwrap();
    let v0 = get(s, "a1").await.token_version;
    let (a, revoked) = set_status(s, "a1", AccountStatus::Suspended, 200)
        .await
        .unwrap();
    assert_eq!((a.status, a.updated_at), (AccountStatus::Suspended, 200));
    assert_eq!(a.token_version, v0 + 1);
    assert_eq!(revoked, [("live".to_owned(), 5000)]);
    assert_eq!(
        s.token("live".to_owned())
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(200)
    );
    assert_eq!(
        s.token("old".to_owned()).await.unwrap().unwrap().revoked_at,
        None
    );
    assert_eq!(
        s.live_revocations(200).await.unwrap(),
        [("live".to_owned(), 5000)]
    );

    let (a, revoked) = set_status(s, "a1", AccountStatus::Active, 300)
        .await
        .unwrap();
    assert_eq!(a.status, AccountStatus::Active);
    assert_eq!(a.token_version, v0 + 1);
    assert!(revoked.is_empty());
    assert_eq!(count(s, "status").await, 2);

    set_status(s, "a1", AccountStatus::Deleted, 400)
        .await
        .unwrap();
    let e = set_status(s, "a1", AccountStatus::Active, 500)
        .await
        .err()
        .expect("refused");
    assert_err(e, ErrorKind::FailedPrecondition, "account_deleted");
    let e = set_status(s, "zz", AccountStatus::Active, 500)
        .await
        .err()
        .expect("refused");
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(count(s, "status").await, 3);
}

/// set_totp_pending, confirm_totp, clear_totp and their refusals.
pub async fn totp(s: &dyn Backend) {
    create(s, "a1", "alice", &[]).await;
    let e = s
        .confirm_totp("a1".to_owned(), 5, 100, event("totp_confirm", 100))
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::FailedPrecondition, "totp_not_pending");
    assert!(
        !s.clear_totp("a1".to_owned(), 100, event("totp_remove", 100))
            .await
            .unwrap()
    );

    s.set_totp_pending(
        "a1".to_owned(),
        vec![1, 2, 3],
        110,
        event("totp_enroll", 110),
    )
    .await
    .unwrap();
    let a = get(s, "a1").await;
    assert_eq!(a.totp_secret_sealed.as_deref(), Some(&[1u8, 2, 3][..]));
    assert!(!a.totp_enabled);
    // A new enrollment replaces a pending one.
    s.set_totp_pending(
        "a1".to_owned(),
        vec![4, 5, 6],
        120,
        event("totp_enroll", 120),
    )
    .await
    .unwrap();
    assert_eq!(
        get(s, "a1").await.totp_secret_sealed.as_deref(),
        Some(&[4u8, 5, 6][..])
    );

    s.confirm_totp("a1".to_owned(), 5, 130, event("totp_confirm", 130))
        .await
        .unwrap();
    let a = get(s, "a1").await;
    assert!(a.totp_enabled);
    assert_eq!((a.totp_last_step, a.updated_at), (5, 130));
    let e = s
        .confirm_totp("a1".to_owned(), 6, 140, event("totp_confirm", 140))
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::FailedPrecondition, "totp_not_pending");
    let e = s
        .set_totp_pending("a1".to_owned(), vec![9], 140, event("totp_enroll", 140))
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::FailedPrecondition, "totp_already_enabled");
    assert_eq!(
        get(s, "a1").await.totp_secret_sealed.as_deref(),
        Some(&[4u8, 5, 6][..])
    );

    let v = get(s, "a1").await.token_version;
    assert!(
        s.clear_totp("a1".to_owned(), 150, event("totp_remove", 150))
            .await
            .unwrap()
    );
    let a = get(s, "a1").await;
    assert!(!a.totp_enabled && a.totp_secret_sealed.is_none());
    assert_eq!(a.token_version, v + 1);
    assert_eq!(count(s, "totp_enroll").await, 2);
    assert_eq!(count(s, "totp_confirm").await, 1);
    assert_eq!(count(s, "totp_remove").await, 1);
}

/// set_client_secret (system accounts only) and sign_out_everywhere.
pub async fn client_secret_and_sign_out(s: &dyn Backend) {
    create(s, "h1", "human", &[]).await;
    create_typed(s, "s1", "service", AccountType::System, &[]).await;
    s.set_client_secret(
        "s1".to_owned(),
        "secret-hash".to_owned(),
        200,
        event("client_secret_rotate", 200),
    )
    .await
    .unwrap();
    let a = get(s, "s1").await;
    assert_eq!(
        (a.client_secret_hash.as_deref(), a.updated_at),
        (Some("secret-hash"), 200)
    );
    let e = s
        .set_client_secret(
            "h1".to_owned(),
            "x".to_owned(),
            200,
            event("client_secret_rotate", 200),
        )
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::FailedPrecondition, "not_system_account");
    assert!(get(s, "h1").await.client_secret_hash.is_none());
    assert_eq!(count(s, "client_secret_rotate").await, 1);

    let v = get(s, "h1").await.token_version;
    s.sign_out_everywhere("h1".to_owned(), 300, event("sign_out", 300))
        .await
        .unwrap();
    s.sign_out_everywhere("h1".to_owned(), 301, event("sign_out", 301))
        .await
        .unwrap();
    let a = get(s, "h1").await;
    assert_eq!((a.token_version, a.updated_at), (v + 2, 301));
    let versions = s.token_versions().await.unwrap();
    assert!(versions.contains(&("h1".to_owned(), v + 2)));
    let e = s
        .sign_out_everywhere("zz".to_owned(), 300, event("sign_out", 300))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(count(s, "sign_out").await, 2);
}

/// set_profile: stored and read back, cleared, refused for unknown and
/// deleted accounts.
pub async fn profiles(s: &dyn Backend) {
    create(s, "h1", "human", &[]).await;
    assert_eq!(get(s, "h1").await.profile, Profile::default());
    let p = Profile {
        email: Some("ann@example.org".to_owned()),
        email_verified: true,
        display_name: Some("Ann Smith".to_owned()),
        given_name: Some("Ann".to_owned()),
        family_name: Some("Smith".to_owned()),
    };
    let a = s
        .set_profile(
            "h1".to_owned(),
            p.clone(),
            200,
            event("profile_update", 200),
        )
        .await
        .unwrap();
    assert_eq!((&a.profile, a.updated_at), (&p, 200));
    assert_eq!(get(s, "h1").await.profile, p);
    let a = s
        .set_profile(
            "h1".to_owned(),
            Profile::default(),
            300,
            event("profile_update", 300),
        )
        .await
        .unwrap();
    assert_eq!(a.profile, Profile::default());
    assert_eq!(get(s, "h1").await.profile, Profile::default());
    let e = s
        .set_profile(
            "zz".to_owned(),
            p.clone(),
            300,
            event("profile_update", 300),
        )
        .await
        .err()
        .expect("unknown account");
    assert_eq!(e.kind, ErrorKind::NotFound);
    set_status(s, "h1", AccountStatus::Deleted, 400)
        .await
        .unwrap();
    let e = s
        .set_profile("h1".to_owned(), p, 500, event("profile_update", 500))
        .await
        .err()
        .expect("deleted account");
    assert_err(e, ErrorKind::FailedPrecondition, "account_deleted");
    assert_eq!(count(s, "profile_update").await, 2);
}

/// roles, set_roles, has_active_admin and the last-admin rule.
pub async fn roles(s: &dyn Backend) {
    assert!(!s.has_active_admin().await.unwrap());
    create(s, "a1", "alice", &["admin"]).await;
    create(s, "a2", "bob", &["user"]).await;
    assert!(s.has_active_admin().await.unwrap());
    let e = s.roles("zz".to_owned()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);

    // Sorted, duplicates collapse, version bumped.
    let v = get(s, "a2").await.token_version;
    let got = s
        .set_roles(
            "a2".to_owned(),
            vec!["writer".into(), "reader".into(), "writer".into()],
            200,
            event("roles_set", 200),
        )
        .await
        .unwrap();
    assert_eq!(got, ["reader", "writer"]);
    assert_eq!(
        s.roles("a2".to_owned()).await.unwrap(),
        ["reader", "writer"]
    );
    assert_eq!(get(s, "a2").await.token_version, v + 1);

    // The last active admin keeps the role and stays active.
    let e = s
        .set_roles("a1".to_owned(), vec![], 300, event("roles_set", 300))
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::FailedPrecondition, "last_admin");
    let e = set_status(s, "a1", AccountStatus::Inactive, 300)
        .await
        .err()
        .expect("refused");
    assert_err(e, ErrorKind::FailedPrecondition, "last_admin");
    assert_eq!(s.roles("a1".to_owned()).await.unwrap(), ["admin"]);
    assert_eq!(get(s, "a1").await.status, AccountStatus::Active);
    assert_eq!(count(s, "roles_set").await, 1);
    assert_eq!(count(s, "status").await, 0);

    // With a second admin the first may go; then the second is the last.
    s.set_roles(
        "a2".to_owned(),
        vec!["admin".into()],
        400,
        event("roles_set", 400),
    )
    .await
    .unwrap();
    s.set_roles("a1".to_owned(), vec![], 400, event("roles_set", 400))
        .await
        .unwrap();
    assert!(s.roles("a1".to_owned()).await.unwrap().is_empty());
    assert!(s.has_active_admin().await.unwrap());
    let e = set_status(s, "a2", AccountStatus::Suspended, 500)
        .await
        .err()
        .expect("refused");
    assert_err(e, ErrorKind::FailedPrecondition, "last_admin");
    // An inactive admin does not count as one.
    s.set_roles(
        "a1".to_owned(),
        vec!["admin".into()],
        600,
        event("roles_set", 600),
    )
    .await
    .unwrap();
    set_status(s, "a1", AccountStatus::Inactive, 600)
        .await
        .unwrap();
    let e = s
        .set_roles("a2".to_owned(), vec![], 700, event("roles_set", 700))
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::FailedPrecondition, "last_admin");
    assert!(s.has_active_admin().await.unwrap());
}

/// insert_token, token, replace_token, revoke_token, revoke_all_tokens,
/// live_revocations, prune_tokens.
pub async fn tokens(s: &dyn Backend) {
    create(s, "a1", "alice", &[]).await;
    create(s, "a2", "bob", &[]).await;
    assert!(s.token("j1".to_owned()).await.unwrap().is_none());
    s.insert_token(
        token("j1", "a1", 100, 1000, None),
        event("token_issue", 100),
    )
    .await
    .unwrap();
    let t = s.token("j1".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (
            t.jti.as_str(),
            t.account_id.as_str(),
            t.issued_at,
            t.expires_at,
            t.revoked_at
        ),
        ("j1", "a1", 100, 1000, None)
    );

    // Renewal: the old one is revoked at the new one's issue time.
    s.replace_token(
        "j1".to_owned(),
        token("j2", "a1", 200, 1100, None),
        event("token_renew", 200),
    )
    .await
    .unwrap();
    assert_eq!(
        s.token("j1".to_owned()).await.unwrap().unwrap().revoked_at,
        Some(200)
    );
    assert!(s.token("j2".to_owned()).await.unwrap().is_some());
    let e = s
        .replace_token(
            "j1".to_owned(),
            token("j3", "a1", 300, 1200, None),
            event("token_renew", 300),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthenticated);
    assert!(s.token("j3".to_owned()).await.unwrap().is_none());
    assert_eq!(count(s, "token_renew").await, 1);

    // Revoking one: idempotent, the first revocation time stays.
    assert_eq!(revoke(s, "j2", "logout", 400).await, Some(1100));
    assert_eq!(revoke(s, "j2", "again", 450).await, Some(1100));
    assert_eq!(
        s.token("j2".to_owned()).await.unwrap().unwrap().revoked_at,
        Some(400)
    );
    assert_eq!(revoke(s, "nope", "x", 400).await, None);

    // Revoking all of an account's live tokens.
    for (jti, exp) in [("k1", 2000), ("k2", 3000), ("k3", 450)] {
        s.insert_token(token(jti, "a2", 400, exp, None), event("token_issue", 400))
            .await
            .unwrap();
    }
    s.insert_token(
        token("m1", "a1", 400, 2500, None),
        event("token_issue", 400),
    )
    .await
    .unwrap();
    let n = s
        .revoke_all_tokens(
            "a2".to_owned(),
            "admin".into(),
            500,
            event("tokens_revoke_all", 500),
        )
        .await
        .unwrap();
    assert_eq!(n, 2, "k1 and k2; k3 has expired");
    assert!(
        s.token("m1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let e = s
        .revoke_all_tokens(
            "zz".to_owned(),
            "x".into(),
            500,
            event("tokens_revoke_all", 500),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(count(s, "tokens_revoke_all").await, 1);

    // Live revocations: revoked and not yet expired at `now`.
    assert_eq!(
        jtis(s.live_revocations(500).await.unwrap()),
        ["j1", "j2", "k1", "k2"]
    );
    assert_eq!(
        jtis(s.live_revocations(1050).await.unwrap()),
        ["j2", "k1", "k2"]
    );

    // Pruning deletes rows that expired before the cutoff.
    assert_eq!(s.prune_tokens(1050).await.unwrap(), 2, "j1 and k3");
    assert!(s.token("j1".to_owned()).await.unwrap().is_none());
    assert!(s.token("k3".to_owned()).await.unwrap().is_none());
    assert!(s.token("j2".to_owned()).await.unwrap().is_some());
    assert_eq!(s.prune_tokens(1050).await.unwrap(), 0);
    assert_eq!(count(s, "token_issue").await, 5);
}

/// refresh_token, rotate_refresh (rotation, grace replay returning the same
/// successor, reuse revoking the family, invalid cases),
/// revoke_refresh_family, prune_refresh_tokens, end_session.
pub async fn refresh_families(s: &dyn Backend) {
    create(s, "a1", "alice", &[]).await;
    add_refresh_key(s, "rk1", 1).await;
    let v = get(s, "a1").await.token_version;
    s.login_succeeded(
        login("t1", 1000, Some(refresh("r1", "f1", "a1", v, 1000))),
        event("login_success", 1000),
    )
    .await
    .unwrap();
    let rec = s.refresh_token("r1".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (
            rec.family_id.as_str(),
            rec.account_id.as_str(),
            rec.token_version,
            rec.issued_at,
            rec.expires_at,
            rec.used_at,
            rec.revoked_at
        ),
        ("f1", "a1", v, 1000, 4600, None, None)
    );
    assert!(s.refresh_token("none".to_owned()).await.unwrap().is_none());

    let rotate = |hash: &str, version: i64, now: i64, next: &str, access: &str| {
        s.rotate_refresh(
            hash.to_owned(),
            version,
            now,
            30,
            refresh(next, "f1", "a1", version, now),
            token(access, "a1", now, now + 900, Some("f1")),
            event("token_refresh", now),
            event("refresh_reuse", now),
        )
    };

    // Rotation: used up, successor and access token recorded.
    assert!(matches!(
        rotate("r1", v, 1100, "r2", "t2").await.unwrap(),
        RefreshOutcome::Rotated
    ));
    assert_eq!(
        s.refresh_token("r1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(1100)
    );
    let r2 = s.refresh_token("r2".to_owned()).await.unwrap().unwrap();
    assert_eq!((r2.family_id.as_str(), r2.used_at), ("f1", None));
    assert!(s.token("t2".to_owned()).await.unwrap().is_some());

    // Within the grace window: the same successor again, no new one.
    match rotate("r1", v, 1120, "r2bis", "t3").await.unwrap() {
        RefreshOutcome::Replayed {
            hash,
            sealed,
            expires_at,
        } => {
            assert_eq!(hash, "r2");
            assert_eq!(sealed, b"sealed-r2");
            assert_eq!(expires_at, r2.expires_at);
        }
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(s.refresh_token("r2bis".to_owned()).await.unwrap().is_none());
    assert!(s.token("t3".to_owned()).await.unwrap().is_some());
    assert_eq!(count(s, "token_refresh").await, 2);
    assert_eq!(count(s, "refresh_reuse").await, 0);

    // Outside it: reuse. The family and its access tokens are revoked.
    match rotate("r1", v, 1200, "r9", "t9").await.unwrap() {
        RefreshOutcome::Reused(revoked) => {
            assert_eq!(jtis(revoked), ["t1", "t2", "t3"]);
        }
        other => panic!("expected reuse, got {other:?}"),
    }
    assert!(s.token("t9".to_owned()).await.unwrap().is_none());
    assert!(s.refresh_token("r9".to_owned()).await.unwrap().is_none());
    for h in ["r1", "r2"] {
        let r = s.refresh_token(h.to_owned()).await.unwrap().unwrap();
        assert_eq!(r.revoked_at, Some(1200), "{h}");
    }
    for j in ["t1", "t2", "t3"] {
        let t = s.token(j.to_owned()).await.unwrap().unwrap();
        assert_eq!(t.revoked_at, Some(1200), "{j}");
    }
    assert_eq!(count(s, "refresh_reuse").await, 1);
    assert_eq!(count(s, "token_refresh").await, 2);
    // The revoked successor is now invalid, and so is the reused one.
    assert!(matches!(
        rotate("r2", v, 1210, "r3", "t4").await.unwrap(),
        RefreshOutcome::Invalid
    ));
    assert!(matches!(
        rotate("r1", v, 1210, "r3", "t4").await.unwrap(),
        RefreshOutcome::Invalid
    ));

    // Invalid: unknown, expired, older token version. Nothing recorded.
    s.login_succeeded(
        login("u1", 2000, Some(refresh("q1", "f2", "a1", v, 2000))),
        event("login_success", 2000),
    )
    .await
    .unwrap();
    assert!(matches!(
        rotate("unknown", v, 2100, "q2", "u2").await.unwrap(),
        RefreshOutcome::Invalid
    ));
    assert!(matches!(
        rotate("q1", v + 1, 2100, "q2", "u2").await.unwrap(),
        RefreshOutcome::Invalid
    ));
    assert!(matches!(
        rotate("q1", v, 2000 + 3601, "q2", "u2").await.unwrap(),
        RefreshOutcome::Invalid
    ));
    assert!(s.refresh_token("q2".to_owned()).await.unwrap().is_none());
    assert!(s.token("u2".to_owned()).await.unwrap().is_none());
    assert_eq!(
        s.refresh_token("q1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );

    // Revoking a family by one of its tokens.
    assert!(
        s.revoke_refresh_family("unknown".to_owned(), 2200, event("refresh_revoke", 2200))
            .await
            .unwrap()
            .is_none()
    );
    let revoked = s
        .revoke_refresh_family("q1".to_owned(), 2200, event("refresh_revoke", 2200))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked, [("u1".to_owned(), 2900)]);
    assert_eq!(
        s.refresh_token("q1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(2200)
    );
    assert_eq!(count(s, "refresh_revoke").await, 1);

    // Pruning: r1 and r2 expire at 4600 and 4700, q1 at 5600.
    assert_eq!(s.prune_refresh_tokens(5000).await.unwrap(), 2);
    assert!(s.refresh_token("r1".to_owned()).await.unwrap().is_none());
    assert!(s.refresh_token("q1".to_owned()).await.unwrap().is_some());

    // Logout ends the session: the token, its family's refresh tokens and
    // the family's other access tokens; other sessions stay.
    s.login_succeeded(
        login("w1", 3000, Some(refresh("p1", "f3", "a1", v, 3000))),
        event("login_success", 3000),
    )
    .await
    .unwrap();
    s.insert_token(token("w2", "a1", 3050, 3950, Some("f3")), event("x", 3050))
        .await
        .unwrap();
    s.login_succeeded(
        login("w3", 3060, Some(refresh("p3", "f4", "a1", v, 3060))),
        event("login_success", 3060),
    )
    .await
    .unwrap();
    assert_eq!(
        s.token("w1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .family_id
            .as_deref(),
        Some("f3")
    );
    let revoked = s
        .end_session(
            "w1".to_owned(),
            Some("f3".to_owned()),
            3100,
            event("logout", 3100),
        )
        .await
        .unwrap();
    assert_eq!(jtis(revoked), ["w1", "w2"]);
    assert_eq!(
        s.refresh_token("p1".to_owned())
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(3100)
    );
    assert_eq!(
        s.refresh_token("p3".to_owned())
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert_eq!(
        s.token("w3".to_owned()).await.unwrap().unwrap().revoked_at,
        None
    );
    assert_eq!(count(s, "logout").await, 1);
    assert!(
        s.end_session("unknown".to_owned(), None, 3100, event("logout", 3100))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        count(s, "logout").await,
        1,
        "nothing recorded for an unknown token"
    );
}

/// append_audit and list_audit: newest first, filters by account (actor or
/// target), type and time, paging by id.
pub async fn audit(s: &dyn Backend) {
    assert!(
        s.list_audit(AuditFilter::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let entries = [
        (10, "login_success", Some("u1"), None, Outcome::Success),
        (20, "login_failure", None, Some("u1"), Outcome::Failure),
        (30, "login_success", Some("u2"), None, Outcome::Success),
        (40, "roles_set", Some("u2"), Some("u1"), Outcome::Success),
        (50, "login_success", Some("u1"), None, Outcome::Success),
    ];
    for (at, ty, actor, target, outcome) in entries {
        s.append_audit(AuditEntry {
            occurred_at: at,
            event_type: ty,
            actor_id: actor.map(str::to_owned),
            target_id: target.map(str::to_owned),
            peer: Some("10.0.0.1".to_owned()),
            outcome,
            details: serde_json::json!({ "at": at }),
        })
        .await
        .unwrap();
    }
    let all = s.list_audit(AuditFilter::default(), 10).await.unwrap();
    let times: Vec<i64> = all.iter().map(|e| e.occurred_at).collect();
    assert_eq!(times, [50, 40, 30, 20, 10]);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let second = &all[3];
    assert_eq!(second.event_type, "login_failure");
    assert_eq!(second.actor_id, None);
    assert_eq!(second.target_id.as_deref(), Some("u1"));
    assert_eq!(second.peer.as_deref(), Some("10.0.0.1"));
    assert_eq!(second.outcome, "failure");
    let details: serde_json::Value = serde_json::from_str(&second.details).unwrap();
    assert_eq!(details, serde_json::json!({ "at": 20 }));

    let list = |f: AuditFilter, limit| async move {
        s.list_audit(f, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.occurred_at)
            .collect::<Vec<_>>()
    };
    let by_account = |a: &str| AuditFilter {
        account_id: Some(a.to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(list(by_account("u1"), 10).await, [50, 40, 20, 10]);
    assert_eq!(list(by_account("u2"), 10).await, [40, 30]);
    assert!(list(by_account("u3"), 10).await.is_empty());
    let by_type = AuditFilter {
        event_type: Some("login_success".to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(list(by_type.clone(), 10).await, [50, 30, 10]);
    let since = AuditFilter {
        since: Some(30),
        ..AuditFilter::default()
    };
    assert_eq!(list(since, 10).await, [50, 40, 30]);
    let combined = AuditFilter {
        account_id: Some("u1".to_owned()),
        event_type: Some("login_success".to_owned()),
        since: Some(20),
        until: None,
        before_id: None,
    };
    assert_eq!(list(combined, 10).await, [50]);
    let window = AuditFilter {
        since: Some(20),
        until: Some(40),
        ..AuditFilter::default()
    };
    assert_eq!(
        list(window, 10).await,
        [30, 20],
        "since is inclusive, until is not"
    );

    // Paging: limit, then before the last id seen.
    let page1 = s.list_audit(AuditFilter::default(), 2).await.unwrap();
    assert_eq!(page1.len(), 2);
    let page2 = s
        .list_audit(
            AuditFilter {
                before_id: Some(page1[1].id),
                ..AuditFilter::default()
            },
            2,
        )
        .await
        .unwrap();
    let page3 = s
        .list_audit(
            AuditFilter {
                before_id: Some(page2[1].id),
                ..AuditFilter::default()
            },
            2,
        )
        .await
        .unwrap();
    let paged: Vec<i64> = [page1, page2, page3]
        .concat()
        .iter()
        .map(|e| e.occurred_at)
        .collect();
    assert_eq!(paged, [50, 40, 30, 20, 10]);
    let typed_page = AuditFilter {
        before_id: Some(all[0].id),
        ..by_type
    };
    assert_eq!(list(typed_page, 1).await, [30]);
}

/// signing_keys, insert_signing_key (the previous active key stops signing
/// and verifies until a time), retire_signing_keys, revoke_signing_key.
pub async fn signing_keys(s: &dyn Backend) {
    assert!(s.signing_keys().await.unwrap().is_empty());
    let key = |kid: &str, at: i64| SigningKeyRecord {
        kid: kid.to_owned(),
        alg: SigningAlg::EdDsa,
        public_key: vec![at as u8; 32],
        private_key_sealed: format!("sealed-{kid}").into_bytes(),
        created_at: at,
        active: true,
        active_from: at,
        retire_after: None,
    };
    s.insert_signing_key(key("k1", 100), 100, event("signing_key_create", 100))
        .await
        .unwrap();
    let keys = s.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (
            keys[0].kid.as_str(),
            keys[0].active,
            keys[0].retire_after,
            keys[0].created_at
        ),
        ("k1", true, None, 100)
    );
    assert_eq!(keys[0].public_key, vec![100u8; 32]);
    assert_eq!(keys[0].private_key_sealed, b"sealed-k1");

    s.insert_signing_key(key("k2", 200), 500, event("signing_key_create", 200))
        .await
        .unwrap();
    let keys = s.signing_keys().await.unwrap();
    let view: Vec<(&str, bool, Option<i64>)> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.active, k.retire_after))
        .collect();
    assert_eq!(view, [("k2", true, None), ("k1", false, Some(500))]);
    assert_eq!(count(s, "signing_key_create").await, 2);

    assert!(s.retire_signing_keys(500).await.unwrap().is_empty());
    assert_eq!(s.retire_signing_keys(501).await.unwrap(), ["k1"]);
    let keys = s.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, "k2");
    assert!(s.retire_signing_keys(10_000).await.unwrap().is_empty());

    // Revocation: an inactive key is retired at once, whatever its period;
    // the active, an unknown or a retired key is refused, nothing recorded.
    s.insert_signing_key(key("k3", 600), 99_999, event("signing_key_create", 600))
        .await
        .unwrap();
    for kid in ["k3", "nope", "k1"] {
        assert!(
            !s.revoke_signing_key(kid.to_owned(), 700, event("signing_key_revoke", 700))
                .await
                .unwrap(),
            "{kid}"
        );
    }
    assert_eq!(count(s, "signing_key_revoke").await, 0);
    assert!(
        s.revoke_signing_key("k2".to_owned(), 700, event("signing_key_revoke", 700))
            .await
            .unwrap()
    );
    assert_eq!(count(s, "signing_key_revoke").await, 1);
    let keys = s.signing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k3"]
    );
}

/// Signing keys per algorithm: one active key of each (a new key
/// supersedes only the active key of its own algorithm), `alg` and
/// `active_from` (a time ahead of the creation, for a key published before
/// it signs) kept as stored, the newest first in the order stored even
/// within one second, revocation and retirement of either algorithm.
pub async fn signing_keys_per_alg(s: &dyn Backend) {
    let key = |kid: &str, alg: SigningAlg, at: i64, from: i64| SigningKeyRecord {
        kid: kid.to_owned(),
        alg,
        public_key: format!("public-{kid}").into_bytes(),
        private_key_sealed: format!("sealed-{kid}").into_bytes(),
        created_at: at,
        active: true,
        active_from: from,
        retire_after: None,
    };
    type View = (String, SigningAlg, bool, i64, Option<i64>);
    let view = |keys: Vec<SigningKeyRecord>| -> Vec<View> {
        keys.into_iter()
            .map(|k| (k.kid, k.alg, k.active, k.active_from, k.retire_after))
            .collect()
    };
    let ed = SigningAlg::EdDsa;
    let rs = SigningAlg::Rs256;
    s.insert_signing_key(
        key("e1", ed, 100, 100),
        100,
        event("signing_key_create", 100),
    )
    .await
    .unwrap();
    s.insert_signing_key(
        key("r1", rs, 100, 100),
        100,
        event("signing_key_create", 100),
    )
    .await
    .unwrap();
    let keys = s.signing_keys().await.unwrap();
    assert_eq!(keys[0].public_key, b"public-r1");
    assert_eq!(keys[0].private_key_sealed, b"sealed-r1");
    assert_eq!(
        view(keys),
        [
            ("r1".into(), rs, true, 100, None),
            ("e1".into(), ed, true, 100, None),
        ],
        "both active: the RSA key did not supersede the Ed25519 one"
    );

    // A rotation of both at 200, each new key signing from 500 (a lead
    // time): each supersedes its own algorithm's key only, in the same
    // second as the other and in the order stored.
    s.insert_signing_key(
        key("e2", ed, 200, 500),
        900,
        event("signing_key_create", 200),
    )
    .await
    .unwrap();
    assert_eq!(
        view(s.signing_keys().await.unwrap()),
        [
            ("e2".into(), ed, true, 500, None),
            ("r1".into(), rs, true, 100, None),
            ("e1".into(), ed, false, 100, Some(900)),
        ]
    );
    s.insert_signing_key(
        key("r2", rs, 200, 500),
        900,
        event("signing_key_create", 200),
    )
    .await
    .unwrap();
    // Two more in the same second: the order stored holds, not the kid's.
    s.insert_signing_key(
        key("a3", rs, 200, 500),
        950,
        event("signing_key_create", 200),
    )
    .await
    .unwrap();
    assert_eq!(
        view(s.signing_keys().await.unwrap()),
        [
            ("a3".into(), rs, true, 500, None),
            ("r2".into(), rs, false, 500, Some(950)),
            ("e2".into(), ed, true, 500, None),
            ("r1".into(), rs, false, 100, Some(900)),
            ("e1".into(), ed, false, 100, Some(900)),
        ]
    );
    assert_eq!(count(s, "signing_key_create").await, 5);

    // Retirement is per key, whatever the algorithm.
    assert_eq!(
        {
            let mut r = s.retire_signing_keys(901).await.unwrap();
            r.sort();
            r
        },
        ["e1", "r1"]
    );
    // The active key of either algorithm cannot be revoked; a superseded
    // RSA key can.
    for kid in ["a3", "e2"] {
        assert!(
            !s.revoke_signing_key(kid.to_owned(), 300, event("signing_key_revoke", 300))
                .await
                .unwrap(),
            "{kid}"
        );
    }
    assert!(
        s.revoke_signing_key("r2".to_owned(), 300, event("signing_key_revoke", 300))
            .await
            .unwrap()
    );
    assert_eq!(count(s, "signing_key_revoke").await, 1);
    assert_eq!(
        view(s.signing_keys().await.unwrap()),
        [
            ("a3".into(), rs, true, 500, None),
            ("e2".into(), ed, true, 500, None),
        ]
    );
}

/// refresh_keys and insert_refresh_key: one active, the others kept.
pub async fn refresh_keys(s: &dyn Backend) {
    assert!(s.refresh_keys().await.unwrap().is_empty());
    for (id, at) in [("rk1", 10), ("rk2", 20), ("rk3", 30)] {
        add_refresh_key(s, id, at).await;
    }
    let keys = s.refresh_keys().await.unwrap();
    let view: Vec<(&str, bool, i64)> = keys
        .iter()
        .map(|k| (k.id.as_str(), k.active, k.created_at))
        .collect();
    assert_eq!(
        view,
        [("rk1", false, 10), ("rk2", false, 20), ("rk3", true, 30)]
    );
    assert_eq!(keys[1].secret_sealed, b"sealed-rk2");
    assert_eq!(count(s, "refresh_key_create").await, 3);
}

/// pg_creds and set_pg_creds (insert, then replace).
pub async fn pg_creds(s: &dyn Backend) {
    create(s, "a1", "alice", &[]).await;
    assert!(s.pg_creds("a1".to_owned()).await.unwrap().is_none());
    let creds = |host: &str, port| PgCredsRecord {
        host: host.to_owned(),
        port,
        database: "app".to_owned(),
        username: "app_user".to_owned(),
        password_sealed: format!("sealed-{host}").into_bytes(),
    };
    s.set_pg_creds(
        "a1".to_owned(),
        creds("db1", 5432),
        100,
        event("pgcreds_set", 100),
    )
    .await
    .unwrap();
    let got = s.pg_creds("a1".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (
            got.host.as_str(),
            got.port,
            got.database.as_str(),
            got.username.as_str()
        ),
        ("db1", 5432, "app", "app_user")
    );
    assert_eq!(got.password_sealed, b"sealed-db1");
    s.set_pg_creds(
        "a1".to_owned(),
        creds("db2", 6543),
        200,
        event("pgcreds_set", 200),
    )
    .await
    .unwrap();
    let got = s.pg_creds("a1".to_owned()).await.unwrap().unwrap();
    assert_eq!((got.host.as_str(), got.port), ("db2", 6543));
    assert_eq!(got.password_sealed, b"sealed-db2");
    assert_eq!(count(s, "pgcreds_set").await, 2);
}

/// config_value and init_config_value: the first value stays.
pub async fn config_values(s: &dyn Backend) {
    assert!(s.config_value("check".to_owned()).await.unwrap().is_none());
    let v = s
        .init_config_value("check".to_owned(), b"sealed-1".to_vec())
        .await
        .unwrap();
    assert_eq!(v, b"sealed-1");
    let v = s
        .init_config_value("check".to_owned(), b"sealed-2".to_vec())
        .await
        .unwrap();
    assert_eq!(v, b"sealed-1");
    assert_eq!(
        s.config_value("check".to_owned()).await.unwrap().as_deref(),
        Some(&b"sealed-1"[..])
    );
    s.init_config_value("kdf".to_owned(), vec![0, 255])
        .await
        .unwrap();
    assert_eq!(
        s.config_value("kdf".to_owned()).await.unwrap(),
        Some(vec![0, 255])
    );
}

/// ping, checkpoint, and the database lock: refused while held, free again
/// once dropped.
pub async fn lock_and_health(s: &dyn Backend) {
    s.ping().await.unwrap();
    create(s, "a1", "alice", &[]).await;
    s.checkpoint().await.unwrap();
    assert_eq!(get(s, "a1").await.username, "alice");

    let held = s.lock().unwrap();
    let e = s.lock().unwrap_err();
    assert_err(e, ErrorKind::FailedPrecondition, "database_busy");
    // Holding the lock does not stop the holder's own calls.
    s.ping().await.unwrap();
    drop(held);
    let again = s.lock().unwrap();
    assert_err(
        s.lock().unwrap_err(),
        ErrorKind::FailedPrecondition,
        "database_busy",
    );
    drop(again);
    drop(s.lock().unwrap());
}

fn oauth_client(id: &str, ty: ClientType) -> ClientRecord {
    ClientRecord {
        client_id: id.to_owned(),
        name: format!("App {id}"),
        client_type: ty,
        redirect_uris: vec!["https://app.example/cb".to_owned()],
        post_logout_redirect_uris: vec!["http://127.0.0.1/bye".to_owned()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["email".to_owned(), "openid".to_owned()],
        audience: "api".to_owned(),
        access_token_ttl: 600,
        refresh_token_ttl: 0,
        first_party: true,
        id_token_alg: SigningAlg::EdDsa,
        secret_hash: (ty == ClientType::Confidential).then(|| "h1".to_owned()),
        created_at: 100,
        updated_at: 100,
    }
}

/// Clients: create (ids unique, deleted ones included), read back every
/// field, page by id, update, secret hash, soft delete; each write audited.
pub async fn oauth_clients(s: &dyn Backend) {
    let web = oauth_client("web", ClientType::Confidential);
    s.create_client(web.clone(), event("client_create", 100))
        .await
        .unwrap();
    assert_eq!(s.client("web".to_owned()).await.unwrap(), Some(web.clone()));
    assert_eq!(s.client("nope".to_owned()).await.unwrap(), None);
    let e = s
        .create_client(web.clone(), event("client_create", 100))
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::AlreadyExists, "client_id_taken");
    for id in ["cli", "app", "zed"] {
        s.create_client(
            oauth_client(id, ClientType::Public),
            event("client_create", 100),
        )
        .await
        .unwrap();
    }
    let ids = |v: Vec<ClientRecord>| v.into_iter().map(|c| c.client_id).collect::<Vec<_>>();
    assert_eq!(ids(s.list_clients(None, 2).await.unwrap()), ["app", "cli"]);
    assert_eq!(
        ids(s.list_clients(Some("cli".to_owned()), 10).await.unwrap()),
        ["web", "zed"]
    );

    let mut changed = web.clone();
    changed.name = "Renamed".to_owned();
    changed.redirect_uris = vec![];
    changed.grant_types = vec![GrantType::ClientCredentials];
    changed.id_token_alg = SigningAlg::Rs256;
    changed.first_party = false;
    changed.updated_at = 200;
    s.update_client(changed.clone(), event("client_update", 200))
        .await
        .unwrap();
    assert_eq!(s.client("web".to_owned()).await.unwrap(), Some(changed));
    let mut ghost = oauth_client("ghost", ClientType::Public);
    ghost.updated_at = 200;
    let e = s
        .update_client(ghost, event("client_update", 200))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);

    s.set_client_secret_hash(
        "web".to_owned(),
        "h2".to_owned(),
        300,
        event("client_secret_rotate", 300),
    )
    .await
    .unwrap();
    let got = s.client("web".to_owned()).await.unwrap().unwrap();
    assert_eq!(got.secret_hash.as_deref(), Some("h2"));
    assert_eq!(got.updated_at, 300);

    s.delete_client("web".to_owned(), 400, event("client_delete", 400))
        .await
        .unwrap();
    assert_eq!(s.client("web".to_owned()).await.unwrap(), None);
    assert_eq!(
        ids(s.list_clients(None, 10).await.unwrap()),
        ["app", "cli", "zed"]
    );
    let e = s
        .delete_client("web".to_owned(), 400, event("client_delete", 400))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = s
        .set_client_secret_hash(
            "web".to_owned(),
            "h3".to_owned(),
            500,
            event("client_secret_rotate", 500),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    // A deleted client's id is never handed out again.
    let e = s
        .create_client(web, event("client_create", 500))
        .await
        .unwrap_err();
    assert_err(e, ErrorKind::AlreadyExists, "client_id_taken");

    assert_eq!(count(s, "client_create").await, 4);
    assert_eq!(count(s, "client_update").await, 1);
    assert_eq!(count(s, "client_secret_rotate").await, 1);
    assert_eq!(count(s, "client_delete").await, 1);
}
