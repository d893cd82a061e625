//! The account profile: who may change what, validation naming the field,
//! email_verified cleared by a new email, and the audit event.

use super::kit::{Kit, assert_kind};
use mcias_core::error::ErrorKind;
use mcias_core::idm::ProfileUpdate;
use mcias_core::model::AccountType;

const PW: &str = "a long enough password";

#[tokio::test]
async fn self_and_admin_edit_profiles_within_their_rights() {
    let k = Kit::new().await;
    let alice = k.account("alice", AccountType::Human, PW).await;
    let bob = k.account("bob", AccountType::Human, PW).await;
    let alice_c = k.caller(k.login("alice", PW).await.unwrap().token.as_ref());
    let bob_c = k.caller(k.login("bob", PW).await.unwrap().token.as_ref());

    let a = k
        .idm
        .update_profile(
            &alice_c,
            &alice.id,
            ProfileUpdate {
                email: Some("Alice@Example.ORG".into()),
                display_name: Some("Alice A.".into()),
                given_name: Some("Alice".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(a.profile.email.as_deref(), Some("Alice@example.org"));
    assert_eq!(a.profile.display_name.as_deref(), Some("Alice A."));
    assert_eq!(a.profile.given_name.as_deref(), Some("Alice"));
    assert!(!a.profile.email_verified);

    // Not another's profile, and not email_verified on one's own.
    assert_kind(
        k.idm
            .update_profile(
                &bob_c,
                &alice.id,
                ProfileUpdate {
                    display_name: Some("x".into()),
                    ..Default::default()
                },
            )
            .await,
        ErrorKind::PermissionDenied,
    );
    assert_kind(
        k.idm
            .update_profile(
                &alice_c,
                &alice.id,
                ProfileUpdate {
                    email_verified: Some(true),
                    ..Default::default()
                },
            )
            .await,
        ErrorKind::PermissionDenied,
    );

    // An admin may verify; a new email from the account clears it.
    let a = k
        .idm
        .update_profile(
            &k.admin(),
            &alice.id,
            ProfileUpdate {
                email_verified: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(a.profile.email_verified);
    let a = k
        .idm
        .update_profile(
            &alice_c,
            &alice.id,
            ProfileUpdate {
                email: Some("Alice@EXAMPLE.org".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        a.profile.email_verified,
        "the same email (domain case aside) keeps it"
    );
    let a = k
        .idm
        .update_profile(
            &alice_c,
            &alice.id,
            ProfileUpdate {
                email: Some("alice@other.example".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!a.profile.email_verified, "a new email clears it");
    assert_eq!(a.profile.display_name.as_deref(), Some("Alice A."));
    // An admin may set a new email already verified.
    let a = k
        .idm
        .update_profile(
            &k.admin(),
            &bob.id,
            ProfileUpdate {
                email: Some("bob@example.org".into()),
                email_verified: Some(true),
                family_name: Some("Builder".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(a.profile.email_verified);
    assert_eq!(a.profile.family_name.as_deref(), Some("Builder"));
    // Empty clears.
    let a = k
        .idm
        .update_profile(
            &bob_c,
            &bob.id,
            ProfileUpdate {
                email: Some(String::new()),
                family_name: Some(String::new()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(a.profile.email, None);
    assert_eq!(a.profile.family_name, None);
    assert!(!a.profile.email_verified);

    let events = k.audit("profile_update").await;
    assert_eq!(events.len(), 6, "{events:?}");
    let text = format!("{events:?}");
    assert!(!text.contains("example.org"), "no values in the audit log");
    assert!(!text.contains("Builder"), "no values in the audit log");
}

#[tokio::test]
async fn invalid_profile_values_name_the_field() {
    let k = Kit::new().await;
    let alice = k.account("alice", AccountType::Human, PW).await;
    let try_update = |u: ProfileUpdate| {
        let k = &k;
        let id = alice.id.clone();
        async move { k.idm.update_profile(&k.admin(), &id, u).await }
    };
    for bad in [
        "no-at.example",
        "two@@example.org",
        "a@b@c",
        "has space@example.org",
        "@example.org",
        "alice@",
        "tab\t@example.org",
    ] {
        let e = assert_kind(
            try_update(ProfileUpdate {
                email: Some(bad.into()),
                ..Default::default()
            })
            .await,
            ErrorKind::InvalidArgument,
        );
        assert!(e.message.contains("email"), "{bad:?}: {}", e.message);
    }
    let long = format!("{}@example.org", "a".repeat(250));
    assert_kind(
        try_update(ProfileUpdate {
            email: Some(long),
            ..Default::default()
        })
        .await,
        ErrorKind::InvalidArgument,
    );
    let e = assert_kind(
        try_update(ProfileUpdate {
            given_name: Some("x".repeat(101)),
            ..Default::default()
        })
        .await,
        ErrorKind::InvalidArgument,
    );
    assert!(e.message.contains("given_name"), "{}", e.message);
    let e = assert_kind(
        try_update(ProfileUpdate {
            display_name: Some("bell\u{7}".into()),
            ..Default::default()
        })
        .await,
        ErrorKind::InvalidArgument,
    );
    assert!(e.message.contains("display_name"), "{}", e.message);
    let e = assert_kind(
        try_update(ProfileUpdate {
            email_verified: Some(true),
            ..Default::default()
        })
        .await,
        ErrorKind::InvalidArgument,
    );
    assert!(e.message.contains("email_verified"), "{}", e.message);
    // 100 characters (not bytes) is fine.
    try_update(ProfileUpdate {
        family_name: Some("é".repeat(100)),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(k.audit("profile_update").await.len() == 1);
}
