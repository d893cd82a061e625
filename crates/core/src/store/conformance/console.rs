//! What the admin console reads and writes: account search by username or
//! email prefix and status with paging, temporary passwords, the last
//! sign-in, and the overview's counts.

use super::{create, event, get, login};
use crate::model::{AccountStatus, LoginSuccess, Profile};
use crate::store::Backend;

pub(super) async fn console(s: &dyn Backend) {
    create(s, "a1", "alice", &[]).await;
    create(s, "a2", "albert", &[]).await;
    create(s, "a3", "bob", &[]).await;
    let profile = Profile {
        email: Some("Bob.Builder@Example.org".to_owned()),
        ..Profile::default()
    };
    s.set_profile("a3".to_owned(), profile, 110, event("profile_update", 110))
        .await
        .unwrap();
    let names =
        |v: Vec<crate::model::AccountRecord>| v.into_iter().map(|a| a.username).collect::<Vec<_>>();
    let search = |q: Option<&str>, st: Option<AccountStatus>, after: Option<&str>| {
        s.search_accounts(q.map(str::to_owned), st, after.map(str::to_owned), 10)
    };
    assert_eq!(
        names(search(Some("al"), None, None).await.unwrap()),
        ["alice", "albert"]
    );
    assert_eq!(
        names(search(Some("bob.b"), None, None).await.unwrap()),
        ["bob"],
        "the email, lowercased"
    );
    assert!(search(Some("zz"), None, None).await.unwrap().is_empty());
    assert_eq!(
        names(search(Some("al"), None, Some("a1")).await.unwrap()),
        ["albert"]
    );
    s.set_status(
        "a2".to_owned(),
        AccountStatus::Suspended,
        120,
        event("account_update", 120),
    )
    .await
    .unwrap();
    assert_eq!(
        names(
            search(None, Some(AccountStatus::Suspended), None)
                .await
                .unwrap()
        ),
        ["albert"]
    );
    assert_eq!(names(search(None, None, None).await.unwrap()).len(), 3);

    // A temporary password: flag set, version bumped; a password set clears it.
    let before = get(s, "a1").await;
    assert!(!before.password_change_required && before.last_login_at.is_none());
    s.reset_password(
        "a1".to_owned(),
        "temporary-hash".to_owned(),
        130,
        event("password_reset", 130),
    )
    .await
    .unwrap();
    let after = get(s, "a1").await;
    assert!(after.password_change_required);
    assert_eq!(after.password_hash.as_deref(), Some("temporary-hash"));
    assert_eq!(after.token_version, before.token_version + 1);
    s.set_password(
        "a1".to_owned(),
        "new-hash".to_owned(),
        140,
        event("password_change", 140),
    )
    .await
    .unwrap();
    assert!(!get(s, "a1").await.password_change_required);

    // The last sign-in.
    s.login_succeeded(
        LoginSuccess {
            token: None,
            ..login("j1", 150, None)
        },
        event("login_success", 150),
    )
    .await
    .unwrap();
    assert_eq!(get(s, "a1").await.last_login_at, Some(150));

    let counts = s.counts(200).await.unwrap();
    assert_eq!(
        counts.accounts,
        [(AccountStatus::Active, 2), (AccountStatus::Suspended, 1)]
    );
    assert_eq!((counts.clients, counts.sessions), (0, 0));
}
