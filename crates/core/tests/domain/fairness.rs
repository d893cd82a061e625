//! Login under load: one source cannot take every password-check slot, and
//! failures from one source do not lock the account for the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::kit::{Kit, Options};
use mcias_core::crypto::password::PoolSize;
use mcias_core::error::ErrorKind;
use mcias_core::model::AccountType;

const ALICE_PW: &str = "alice's long password";

/// One address floods the login with unknown usernames (each still costs a
/// hash) on a pool of two places; a user at another address still logs in.
/// Before the per-source admission the flood held both places and the user
/// got RESOURCE_EXHAUSTED "too many password checks in progress".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_from_one_source_leaves_room_for_others() {
    let k = Arc::new(
        Kit::with(Options {
            pool: PoolSize {
                workers: 1,
                queue: 1,
            },
            ..Options::default()
        })
        .await,
    );
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for i in 0..8 {
        let (k, stop, refused) = (k.clone(), stop.clone(), refused.clone());
        flood.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let name = format!("nobody{i}");
                if let Err(e) = k.login_from("198.51.100.7:4000", &name, "guess").await
                    && e.kind == ErrorKind::ResourceExhausted
                {
                    refused.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    // Let the flood saturate its share of the pool.
    let mut waited = 0;
    while refused.load(Ordering::SeqCst) < 8 && waited < 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert!(
        refused.load(Ordering::SeqCst) > 0,
        "the flood is refused beyond its share"
    );
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(k.login_from("203.0.113.9:5000", "alice", ALICE_PW).await);
    }
    stop.store(true, Ordering::SeqCst);
    for t in flood {
        t.await.unwrap();
    }
    for r in outcomes {
        if let Err(e) = r {
            panic!("the other source was refused during the flood: {e:?}");
        }
    }
    assert_eq!(k.idm.hash_queue_depth(), 0);
}

/// Wrong passwords from one address back off that address only: the owner
/// at another address logs in at once, and the guessing address stays
/// backed off (even with the right password). Before the backoff was keyed
/// on the source, ten failures from anywhere refused the owner everywhere.
#[tokio::test]
async fn failures_from_one_source_do_not_lock_out_another() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let attacker = "198.51.100.7:4000";
    let owner = "203.0.113.9:5000";
    for _ in 0..10 {
        let e = k
            .login_from(attacker, "alice", "wrong password!")
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthenticated);
    }
    let ok = k.login_from(owner, "alice", ALICE_PW).await;
    assert!(ok.is_ok(), "the owner is not locked out: {:?}", ok.err());
    let e = k
        .login_from("198.51.100.7:4001", "alice", ALICE_PW)
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Unauthenticated,
        "the guessing address (any port) stays backed off, with the generic answer"
    );
    k.clock.advance(mcias_core::idm::backoff_secs(10) + 1);
    assert!(k.login_from(attacker, "alice", ALICE_PW).await.is_ok());
}

/// Many sources, each below its own threshold, still reach the account-wide
/// ceiling: then only the right password from a clean source learns that the
/// account is locked; wrong passwords and guessing sources get the generic
/// answer.
#[tokio::test]
async fn the_account_ceiling_holds_when_many_sources_fail() {
    use mcias_core::idm::{ACCOUNT_BACKOFF_AFTER, BACKOFF_AFTER, account_backoff_secs};
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, ALICE_PW).await;
    let per_source = BACKOFF_AFTER - 1;
    let sources = ACCOUNT_BACKOFF_AFTER / per_source;
    for s in 0..sources {
        for _ in 0..per_source {
            let e = k
                .login_from(&format!("10.0.{}.{}:1", s / 250, s % 250), "alice", "guess")
                .await
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Unauthenticated);
        }
    }
    let generic = k
        .login_from("203.0.113.50:1", "alice", "another guess")
        .await
        .unwrap_err();
    assert_eq!(generic.kind, ErrorKind::Unauthenticated);
    let guesser = k
        .login_from("10.0.0.1:1", "alice", ALICE_PW)
        .await
        .unwrap_err();
    assert_eq!(
        guesser.kind,
        ErrorKind::Unauthenticated,
        "a source with failures learns nothing"
    );
    let locked = k
        .login_from("203.0.113.9:5000", "alice", ALICE_PW)
        .await
        .unwrap_err();
    assert_eq!(locked.kind, ErrorKind::FailedPrecondition, "{locked:?}");
    assert!(locked.message.contains("temporarily locked"));
    k.clock
        .advance(account_backoff_secs(ACCOUNT_BACKOFF_AFTER + 1) + 1);
    assert!(
        k.login_from("203.0.113.9:5000", "alice", ALICE_PW)
            .await
            .is_ok()
    );
}
