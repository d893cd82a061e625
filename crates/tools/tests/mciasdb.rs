//! The `mciasdb` binary against a real database.

use mcias_testkit as common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Options, TestServer};
use mcias_proto as pb;

fn mciasdb(s: &TestServer, args: &[&str], stdin: &str) -> std::process::Output {
    mciasdb_at(&s.config_path(), args, stdin)
}

fn mciasdb_at(config: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mciasdb"))
        .arg("--config")
        .arg(config)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
            mcias_proto::ListAuditEventsRequest {
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

/// Successful output, parsed as JSON lines.
fn ok_json(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn one(out: &std::process::Output) -> serde_json::Value {
    let mut v = ok_json(out);
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_role_token_pgcreds_and_audit_commands() {
    let mut s = TestServer::start().await;
    let admin = s.admin_token().await;
    // A pending TOTP enrollment for the admin, to reset offline.
    s.auth()
        .await
        .enroll_totp(common::authed(pb::EnrollTotpRequest {}, &admin))
        .await
        .unwrap();
    s.stop().await;

    // Create, with the password confirmed on stdin.
    let carol = one(&mciasdb(
        &s,
        &[
            "--json",
            "account",
            "create",
            "carol",
            "--role",
            "ops",
            "--password-stdin",
        ],
        "carol password 1\ncarol password 1\n",
    ));
    assert_eq!(carol["username"], "carol");
    let carol_id = carol["id"].as_str().unwrap().to_owned();
    // A mismatched confirmation fails and creates nothing.
    let out = mciasdb(
        &s,
        &["account", "create", "dave", "--password-stdin"],
        "dave password 1\ndave password 2\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("do not match"), "{}", stderr(&out));
    let out = mciasdb(&s, &["account", "get", "dave"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"));
    // System accounts take no password.
    let out = mciasdb(
        &s,
        &[
            "account",
            "create",
            "svc",
            "--type",
            "system",
            "--password-stdin",
        ],
        "x\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let svc = one(&mciasdb(
        &s,
        &["--json", "account", "create", "svc", "--type", "system"],
        "",
    ));
    assert_eq!(svc["type"], "system");

    let list = ok_json(&mciasdb(&s, &["--json", "account", "list"], ""));
    let names: Vec<&str> = list
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "carol", "svc"]);
    let got = one(&mciasdb(&s, &["--json", "account", "get", "carol"], ""));
    assert_eq!(got["roles"], serde_json::json!(["ops"]));
    assert_eq!(got["id"], carol_id.as_str());

    // Passwords and status.
    one(&mciasdb(
        &s,
        &[
            "--json",
            "account",
            "set-password",
            "carol",
            "--password-stdin",
        ],
        "carol password 2\n",
    ));
    let out = mciasdb(
        &s,
        &["account", "set-password", "carol", "--password-stdin"],
        "short\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("at least 12"));
    let a = one(&mciasdb(
        &s,
        &[
            "--json",
            "account",
            "set-status",
            "carol",
            "--status",
            "suspended",
        ],
        "",
    ));
    assert_eq!(a["status"], "suspended");
    let a = one(&mciasdb(
        &s,
        &[
            "--json",
            "account",
            "set-status",
            &carol_id,
            "--status",
            "active",
        ],
        "",
    ));
    assert_eq!(a["status"], "active");
    let out = mciasdb(
        &s,
        &["account", "set-status", "admin", "--status", "suspended"],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "the last admin stays active");

    // TOTP reset.
    let r = one(&mciasdb(
        &s,
        &["--json", "account", "reset-totp", "admin"],
        "",
    ));
    assert_eq!(r["totp_enabled"], false);
    let out = mciasdb(&s, &["account", "reset-totp", "admin"], "");
    assert_eq!(out.status.code(), Some(1));

    // Roles.
    let r = one(&mciasdb(
        &s,
        &["--json", "role", "grant", "carol", "db"],
        "",
    ));
    assert_eq!(r["roles"], serde_json::json!(["db", "ops"]));
    let r = one(&mciasdb(
        &s,
        &["--json", "role", "revoke", "carol", "ops"],
        "",
    ));
    assert_eq!(r["roles"], serde_json::json!(["db"]));
    let r = one(&mciasdb(&s, &["--json", "role", "list", "carol"], ""));
    assert_eq!(r["roles"], serde_json::json!(["db"]));
    let out = mciasdb(&s, &["role", "grant", "carol", "Not Valid"], "");
    assert_eq!(out.status.code(), Some(1));

    // Stored credentials: the read warns and is audited.
    one(&mciasdb(
        &s,
        &[
            "--json",
            "pgcreds",
            "set",
            "carol",
            "--host",
            "db1",
            "--database",
            "app",
            "--username",
            "carol_app",
            "--password-stdin",
        ],
        "pg secret 1\n",
    ));
    let out = mciasdb(&s, &["--json", "pgcreds", "get", "carol"], "");
    let creds = one(&out);
    assert_eq!(creds["password"], "pg secret 1");
    assert_eq!(creds["port"], 5432);
    assert!(stderr(&out).contains("WARNING: sensitive output"));
    let out = mciasdb(&s, &["pgcreds", "get", "svc"], "");
    assert_eq!(out.status.code(), Some(1));

    // Tokens: the admin's login token is recorded.
    let tokens = ok_json(&mciasdb(
        &s,
        &["--json", "token", "list", "--account", "admin"],
        "",
    ));
    assert_eq!(tokens.len(), 1);
    let jti = tokens[0]["jti"].as_str().unwrap().to_owned();
    let r = one(&mciasdb(&s, &["--json", "token", "revoke", &jti], ""));
    assert_eq!(r["revoked"], true);
    let live = ok_json(&mciasdb(&s, &["--json", "token", "list"], ""));
    assert!(live.is_empty());
    let all = ok_json(&mciasdb(&s, &["--json", "token", "list", "--all"], ""));
    assert_eq!(all.len(), 1);
    assert!(all[0]["revoked_at"].is_string());
    let out = mciasdb(&s, &["token", "revoke", "no-such-jti"], "");
    assert_eq!(out.status.code(), Some(1));
    let r = one(&mciasdb(
        &s,
        &["--json", "token", "revoke-all", "carol"],
        "",
    ));
    assert_eq!(r["revoked"], 0);
    let r = one(&mciasdb(&s, &["--json", "prune", "tokens"], ""));
    assert_eq!(r["deleted"], 0, "nothing has expired yet");

    // The audit trail names mciasdb for every change.
    let tail = ok_json(&mciasdb(&s, &["--json", "audit", "tail", "-n", "3"], ""));
    assert_eq!(tail.len(), 3);
    assert!(
        tail[0]["id"].as_i64() < tail[2]["id"].as_i64(),
        "oldest first"
    );
    assert_eq!(tail[2]["event_type"], "tokens_prune");
    assert!(tail.iter().all(|e| e["actor_id"] == "mciasdb"));
    let created = ok_json(&mciasdb(
        &s,
        &[
            "--json",
            "audit",
            "query",
            "--account",
            "mciasdb",
            "--type",
            "account_create",
            "--since",
            "1h",
        ],
        "",
    ));
    let names: Vec<&str> = created
        .iter()
        .map(|e| e["details"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["svc", "carol"], "newest first");
    assert!(created.iter().all(|e| e["details"]["via"] == "mciasdb"));
    for event in [
        "password_set",
        "account_update",
        "totp_remove",
        "roles_set",
        "pgcreds_write",
        "pgcreds_read",
        "token_revoke",
        "tokens_revoke_all",
    ] {
        let found = ok_json(&mciasdb(
            &s,
            &["--json", "audit", "query", "--type", event],
            "",
        ));
        assert!(!found.is_empty(), "{event}");
        assert!(found.iter().all(|e| e["actor_id"] == "mciasdb"), "{event}");
    }
    let table = mciasdb(&s, &["audit", "tail"], "");
    assert!(String::from_utf8_lossy(&table.stdout).starts_with("ID"));

    // Schema and verification on a sound database.
    let v = one(&mciasdb(&s, &["--json", "schema", "verify"], ""));
    assert_eq!(v["pending"], serde_json::json!([]));
    let v = one(&mciasdb(&s, &["--json", "schema", "migrate"], ""));
    assert_eq!(v["applied"], serde_json::json!([]));
    // A migration not recorded as applied is reported, with exit status 1.
    let c = rusqlite::Connection::open(s.db_path()).unwrap();
    let applied_at: i64 = c
        .query_row(
            "SELECT applied_at FROM schema_migrations WHERE version = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute("DELETE FROM schema_migrations WHERE version = 1", [])
        .unwrap();
    let out = mciasdb(&s, &["--json", "schema", "verify"], "");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(v["pending"], serde_json::json!(["0001_init"]));
    assert!(stderr(&out).contains("pending"));
    c.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '0001_init', ?1)",
        [applied_at],
    )
    .unwrap();
    drop(c);
    let v = one(&mciasdb(&s, &["--json", "verify"], ""));
    assert_eq!(v["ok"], true);
    assert!(
        v["sealed_ok"].as_u64().unwrap() >= 2,
        "signing key and pgcreds"
    );

    // The server sees every offline change.
    s.boot().await;
    assert!(s.try_login("carol", "carol password 1", "").await.is_err());
    let token = s.login("carol", "carol password 2").await;
    assert!(s.valid(&token).await);
    assert!(!s.valid(&admin).await, "revoked offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_while_the_server_runs() {
    let mut s = TestServer::start().await;
    let out = mciasdb(&s, &["account", "create", "x1", "--type", "system"], "");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("in use by a running server"), "{err}");
    assert!(err.contains("stop the server first"), "{err}");
    for args in [
        &["account", "set-status", "admin", "--status", "inactive"][..],
        &["prune", "tokens"][..],
        &["schema", "migrate"][..],
        &["rekey", "--new-keyfile", "k"][..],
    ] {
        let out = mciasdb(&s, args, "");
        assert!(stderr(&out).contains("running server"), "{args:?}");
    }
    // Read-only commands work beside the server.
    for args in [
        &["--json", "account", "list"][..],
        &["--json", "schema", "verify"][..],
        &["--json", "verify"][..],
        &["--json", "audit", "tail"][..],
        &["--json", "token", "list"][..],
    ] {
        let out = mciasdb(&s, args, "");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    s.stop().await;
    one(&mciasdb(
        &s,
        &["--json", "account", "create", "x1", "--type", "system"],
        "",
    ));
    // And the server refuses to start while mciasdb holds the lock.
    let lock = mcias_core::store::DbLock::acquire(&s.db_path()).unwrap();
    let idm = std::sync::Arc::new(
        mcias_core::idm::Idm::open(
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
        .unwrap(),
    );
    let err = mcias_server::api::server::start(&s.config, idm)
        .await
        .unwrap_err();
    assert_eq!(err.code, "database_busy");
    drop(lock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_write_load_then_restore_into_a_fresh_directory() {
    let mut s = TestServer::start().await;
    let admin = s.admin_token().await;
    let keep_id = s
        .create(&admin, "before-backup", pb::AccountType::System, "")
        .await;

    // Write load: role changes as fast as the server takes them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let load = {
        let (stop, writes) = (stop.clone(), writes.clone());
        let mut client = s.accounts().await;
        let (admin, id) = (admin.clone(), keep_id.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                client
                    .set_roles(common::authed(
                        pb::SetRolesRequest {
                            account_id: id.clone(),
                            roles: vec![format!("r{i}")],
                        },
                        &admin,
                    ))
                    .await
                    .unwrap();
                writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    while writes.load(std::sync::atomic::Ordering::Relaxed) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = writes.load(std::sync::atomic::Ordering::Relaxed);
    let backup = s.dir.path().join("backup.db");
    let out = mciasdb(
        &s,
        &["--json", "backup", "--to", backup.to_str().unwrap()],
        "",
    );
    let during = writes.load(std::sync::atomic::Ordering::Relaxed) - before;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    let b = one(&out);
    assert!(b["bytes"].as_u64().unwrap() > 0);
    assert!(during > 0, "the server kept writing during the backup");
    // A second backup to the same file is refused.
    let out = mciasdb(&s, &["backup", "--to", backup.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"));
    let admin_password = s.admin_password.clone();
    s.stop().await;

    // A fresh directory with a different key refuses the backup and changes nothing.
    let mut t = TestServer::prepare(Options {
        ensure_admin: false,
        ..Options::default()
    });
    let out = mciasdb(&t, &["restore", "--from", backup.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("master key does not open"),
        "{}",
        stderr(&out)
    );
    assert!(!t.db_path().exists());
    // Garbage is refused too.
    let junk = t.dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).unwrap();
    let out = mciasdb(&t, &["restore", "--from", junk.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(!t.db_path().exists());

    // With the same key it restores, and a server starts on it and sees the data.
    std::fs::copy(
        common::keyfile_path(s.dir.path()),
        common::keyfile_path(t.dir.path()),
    )
    .unwrap();
    let r = one(&mciasdb(
        &t,
        &["--json", "restore", "--from", backup.to_str().unwrap()],
        "",
    ));
    assert_eq!(r["ok"], true);
    let v = one(&mciasdb(&t, &["--json", "verify"], ""));
    assert_eq!(v["ok"], true);
    t.boot().await;
    let token = t.login("admin", &admin_password).await;
    let acct = t
        .accounts()
        .await
        .get_account(common::authed(
            pb::GetAccountRequest {
                id: keep_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(acct.username, "before-backup");
    let events = t
        .admin()
        .await
        .list_audit_events(common::authed(
            pb::ListAuditEventsRequest {
                event_type: "database_restore".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_id, "mciasdb");
    // Restoring over an existing database keeps the old one beside it.
    t.stop().await;
    let r = one(&mciasdb(
        &t,
        &["--json", "restore", "--from", backup.to_str().unwrap()],
        "",
    ));
    let kept = r["kept_previous"].as_str().unwrap();
    assert!(std::path::Path::new(kept).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_a_corrupted_sealed_value() {
    let mut s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "app", pb::AccountType::System, "").await;
    s.accounts()
        .await
        .set_pg_creds(common::authed(
            pb::SetPgCredsRequest {
                account_id: id.clone(),
                host: "h".into(),
                port: 5432,
                database: "d".into(),
                username: "u".into(),
                password: "pg password".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    s.stop().await;
    let v = one(&mciasdb(&s, &["--json", "verify"], ""));
    assert_eq!(v["ok"], true);

    {
        let c = rusqlite::Connection::open(s.db_path()).unwrap();
        let mut sealed: Vec<u8> = c
            .query_row(
                "SELECT password_sealed FROM pg_credentials WHERE account_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        c.execute(
            "UPDATE pg_credentials SET password_sealed = ?2 WHERE account_id = ?1",
            rusqlite::params![id, sealed],
        )
        .unwrap();
    }
    let out = mciasdb(&s, &["--json", "verify"], "");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["sealed_bad"],
        serde_json::json!([format!("pg_credentials.password_sealed[{id}]")])
    );
    let table = mciasdb(&s, &["verify"], "");
    assert_eq!(table.status.code(), Some(1));
    assert!(stderr(&table).contains("problems"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_then_the_new_key_works_and_the_old_one_is_refused() {
    let mut s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = s.create(&admin, "app", pb::AccountType::System, "").await;
    s.accounts()
        .await
        .set_pg_creds(common::authed(
            pb::SetPgCredsRequest {
                account_id: id.clone(),
                host: "h".into(),
                port: 5432,
                database: "d".into(),
                username: "u".into(),
                password: "pg password".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    s.auth()
        .await
        .enroll_totp(common::authed(pb::EnrollTotpRequest {}, &admin))
        .await
        .unwrap();
    let keys_before: Vec<String> = s
        .running
        .as_ref()
        .unwrap()
        .idm()
        .public_keys()
        .iter()
        .map(|j| j.kid.clone())
        .collect();
    assert_eq!(keys_before.len(), 2, "an Ed25519 and an RSA key");
    s.stop().await;

    // The same key is refused.
    let old_key = common::keyfile_path(s.dir.path());
    let out = mciasdb(
        &s,
        &["rekey", "--new-keyfile", old_key.to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("same as the current"),
        "{}",
        stderr(&out)
    );

    let new_key = s.dir.path().join("new.key");
    mcias_core::crypto::master::create_keyfile(&new_key, &mcias_core::clock::OsRandom).unwrap();
    let r = one(&mciasdb(
        &s,
        &[
            "--json",
            "rekey",
            "--new-keyfile",
            new_key.to_str().unwrap(),
        ],
        "",
    ));
    assert_eq!(
        r["resealed"], 5,
        "TOTP secret, Ed25519 and RSA signing keys, pgcreds, refresh-token secret"
    );

    // The old key no longer opens the database.
    let out = mciasdb(&s, &["verify"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("master key does not open"));
    // Nor does the server's start-up (the same `Idm::open` mciassrv runs).
    let opened = mcias_core::idm::Idm::open(
        &s.config,
        mcias_core::idm::KeySource::from_config(&s.config).unwrap(),
        std::sync::Arc::new(mcias_core::clock::SystemClock),
        std::sync::Arc::new(mcias_core::clock::OsRandom),
        mcias_core::crypto::password::PoolSize {
            workers: 1,
            queue: 1,
        },
    )
    .await;
    let Err(err) = opened else {
        panic!("the old key must not open the database");
    };
    assert!(err.message.contains("master key does not open"), "{err:?}");

    // The new one does, and every secret survived.
    let text = std::fs::read_to_string(s.config_path())
        .unwrap()
        .replace("keyfile = \"master.key\"", "keyfile = \"new.key\"");
    std::fs::write(s.config_path(), text).unwrap();
    s.config = mcias_core::config::Config::load(&s.config_path()).unwrap();
    let v = one(&mciasdb(&s, &["--json", "verify"], ""));
    assert_eq!(v["ok"], true);
    assert_eq!(v["sealed_ok"], 5);
    s.boot().await;
    assert!(
        s.valid(&admin).await,
        "the signing key was re-sealed, not replaced"
    );
    assert_eq!(
        s.running
            .as_ref()
            .unwrap()
            .idm()
            .public_keys()
            .iter()
            .map(|j| j.kid.clone())
            .collect::<Vec<_>>(),
        keys_before,
        "both signing keys were re-sealed, not replaced"
    );
    let creds = s
        .accounts()
        .await
        .get_pg_creds(common::authed(
            pb::GetPgCredsRequest { account_id: id },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .creds
        .unwrap();
    assert_eq!(creds.password, "pg password");
}

/// Runs `mciasdb` on a pseudo-terminal (util-linux `script`), typing `input`.
fn mciasdb_on_tty(config: &std::path::Path, args: &str, input: &str) -> std::process::Output {
    let cmd = format!(
        "{} --config {} {args}",
        env!("CARGO_BIN_EXE_mciasdb"),
        config.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` provides the terminal for this test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_prompted_twice_on_a_terminal() {
    let mut s = TestServer::start().await;
    s.stop().await;
    let out = mciasdb_on_tty(
        &s.config_path(),
        "account create erin",
        "erin password 1\nerin password 2\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Password (again)"), "{text}");
    assert!(text.contains("do not match"), "{text}");
    let out = mciasdb(&s, &["account", "get", "erin"], "");
    assert_eq!(out.status.code(), Some(1), "nothing was created");

    let out = mciasdb_on_tty(
        &s.config_path(),
        "account create erin",
        "erin password 1\nerin password 1\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    s.boot().await;
    let token = s.login("erin", "erin password 1").await;
    assert!(s.valid(&token).await);
}
