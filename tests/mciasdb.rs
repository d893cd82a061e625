//! The `mciasdb` binary against a real database.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Options, TestServer};

fn mciasdb(s: &TestServer, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mciasdb"))
        .arg("--config")
        .arg(s.config_path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn bootstrap_admin_creates_the_first_admin_once() {
    let mut s = TestServer::prepare(Options {
        ensure_admin: false,
        ..Options::default()
    });
    let out = mciasdb(
        &s,
        &["bootstrap-admin", "--username", "root", "--password-stdin"],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));

    let out = mciasdb(
        &s,
        &["bootstrap-admin", "--username", "root", "--password-stdin"],
        "root password 123\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin account root"));

    let out = mciasdb(
        &s,
        &["bootstrap-admin", "--username", "root2", "--password-stdin"],
        "root password 123\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    // Without --password-stdin it is a usage error naming the flag.
    let out = mciasdb(&s, &["bootstrap-admin", "--username", "x"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));

    s.boot().await;
    let token = s.login("root", "root password 123").await;
    assert!(s.valid(&token).await);
    let ev = s
        .admin()
        .await
        .list_audit_events(common::authed(
            mcias::api::pb::ListAuditEventsRequest {
                event_type: "account_create".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].actor_id, "mciasdb");
}
