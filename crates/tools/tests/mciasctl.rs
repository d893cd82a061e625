//! The `mciasctl` binary end to end against the real server over TLS: every
//! subcommand's happy path and its main error, JSON output, exit codes,
//! `--password-stdin`.

use mcias_testkit as common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestServer;
use mcias_core::clock::Clock;
use mcias_proto as pb;
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Vec<Value> {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }

    fn one(&self) -> Value {
        let mut v = self.json();
        assert_eq!(v.len(), 1, "{}", self.stdout);
        v.remove(0)
    }

    /// The JSON error on stderr, with its gRPC code.
    fn error_code(&self) -> String {
        let line = self.stderr.lines().last().unwrap_or_default();
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(v["exit"], self.code);
        v["error"]["code"].as_str().unwrap().to_owned()
    }
}

struct Ctl {
    server: String,
    ca: PathBuf,
    token_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Ctl {
    fn new(s: &TestServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            server: format!("https://localhost:{}", s.addr().port()),
            ca: s.dir.path().join("ca.pem"),
            token_file: dir.path().join("cfg").join("token"),
            _dir: dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mciasctl"));
        c.env_remove("MCIAS_TOKEN")
            .env_remove("MCIAS_SERVER")
            .env_remove("MCIAS_CA_CERT")
            .env("MCIAS_TOKEN_FILE", &self.token_file)
            .arg("--server")
            .arg(&self.server)
            .arg("--ca-cert")
            .arg(&self.ca)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, args: &[&str], stdin: &str) -> Out {
        let mut child = self.command(args).spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs with `--output json`.
    fn j(&self, args: &[&str], stdin: &str) -> Out {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        self.run(&all, stdin)
    }

    /// The token file's lines: the access token, then the refresh token.
    fn stored(&self) -> Vec<String> {
        std::fs::read_to_string(&self.token_file)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The access token in the token file.
    fn access(&self) -> String {
        self.stored()[0].clone()
    }

    fn login(&self, user: &str, pw: &str) -> Value {
        self.j(&["login", user, "--password-stdin"], &format!("{pw}\n"))
            .one()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_whoami_logout_and_exit_codes() {
    let s = TestServer::start().await;
    let ctl = Ctl::new(&s);

    // Not logged in: a usage error.
    let out = ctl.j(&["whoami"], "");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.error_code(), "USAGE");
    assert!(out.stderr.contains("mciasctl login"));

    // A wrong password: the server says no.
    let out = ctl.j(
        &["login", "admin", "--password-stdin"],
        "wrong password!!\n",
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    assert!(!ctl.token_file.exists());

    let v = ctl.login("admin", &s.admin_password);
    assert_eq!(v["ok"], true);
    assert_eq!(v["username"], "admin");
    assert!(ctl.token_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ctl.token_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let token = ctl.access();
    assert!(s.valid(token.trim()).await);

    let who = ctl.j(&["whoami"], "").one();
    assert_eq!(who["valid"], true);
    assert_eq!(who["roles"], serde_json::json!(["admin"]));
    assert_eq!(who["token_type"], "human");
    // The table form is for people but names the same things.
    let table = ctl.run(&["whoami"], "");
    assert_eq!(table.code, 0);
    assert!(table.stdout.contains("subject") && table.stdout.contains("admin"));

    // The token from MCIAS_TOKEN / --token wins over the file.
    let out = ctl.j(&["--token", "not-a-token", "whoami"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.one_err_valid(), Some(false));

    assert_eq!(ctl.j(&["health"], "").one()["status"], "SERVING");

    let out = ctl.j(&["logout"], "").one();
    assert_eq!(out["revoked"], true);
    assert!(!ctl.token_file.exists());
    assert!(!s.valid(token.trim()).await, "logout revokes the token");
    let out = ctl.j(&["--token", token.trim(), "whoami"], "");
    assert_eq!(out.code, 1, "a revoked token is not valid");

    // Usage errors exit 2.
    let out = ctl.run(&["account", "update", "x", "--status", "sleepy"], "");
    assert_eq!(out.code, 2);
    let out = ctl.run(&["frobnicate"], "");
    assert_eq!(out.code, 2);

    // Connection problems exit 3: nothing listening, or an untrusted CA.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_mciasctl"))
        .args(["--output", "json", "--server"])
        .arg(format!("https://localhost:{closed}"))
        .arg("--ca-cert")
        .arg(&ctl.ca)
        .arg("health")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let other_ca = ctl._dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, mcias_server::dev::generate_tls().unwrap().0).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mciasctl"))
        .args(["--server", &ctl.server, "--ca-cert"])
        .arg(&other_ca)
        .arg("health")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ctl.run(&["--server", "ftp://localhost:1", "health"], "");
    assert_eq!(out.code, 2);

    // Completions for the three shells.
    for shell in ["bash", "zsh", "fish"] {
        let out = ctl.run(&["completions", shell], "");
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains("mciasctl"), "{shell}");
        assert!(out.stdout.contains("pgcreds"), "{shell}");
    }
}

impl Out {
    /// For a refused validation in JSON mode: the `valid` field printed.
    fn one_err_valid(&self) -> Option<bool> {
        self.stdout
            .lines()
            .next()
            .and_then(|l| serde_json::from_str::<Value>(l).ok())
            .and_then(|v| v["valid"].as_bool())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_roles() {
    let s = TestServer::start().await;
    let ctl = Ctl::new(&s);
    ctl.login("admin", &s.admin_password);

    let alice = ctl
        .j(
            &["account", "create", "alice", "--password-stdin"],
            "alice password 1\n",
        )
        .one();
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["type"], "human");
    assert_eq!(alice["status"], "active");
    let alice_id = alice["id"].as_str().unwrap().to_owned();

    let out = ctl.j(
        &["account", "create", "alice", "--password-stdin"],
        "another password\n",
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "ALREADY_EXISTS");
    let out = ctl.j(
        &["account", "create", "shorty", "--password-stdin"],
        "short\n",
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "INVALID_ARGUMENT");
    let out = ctl.j(
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
    assert_eq!(out.code, 2, "system accounts take no password");

    let svc = ctl
        .j(&["account", "create", "svc-backup", "--type", "system"], "")
        .one();
    assert_eq!(svc["type"], "system");

    let list = ctl.j(&["account", "list", "--page-size", "1"], "").json();
    let names: Vec<&str> = list
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["admin", "alice", "svc-backup"],
        "every page is fetched"
    );

    // By username or by id.
    let got = ctl.j(&["account", "get", "alice"], "").one();
    assert_eq!(got["id"], alice_id.as_str());
    let got = ctl.j(&["account", "get", &alice_id], "").one();
    assert_eq!(got["username"], "alice");
    let out = ctl.j(&["account", "get", "nobody"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "NOT_FOUND");
    let out = ctl.j(
        &["account", "get", "0190d7a4-0000-7000-8000-000000000000"],
        "",
    );
    assert_eq!(out.error_code(), "NOT_FOUND");

    // Roles.
    let r = ctl.j(&["role", "grant", "alice", "ops"], "").one();
    assert_eq!(r["roles"], serde_json::json!(["ops"]));
    let r = ctl.j(&["role", "grant", "alice", "db:read"], "").one();
    assert_eq!(r["roles"], serde_json::json!(["db:read", "ops"]));
    let r = ctl.j(&["role", "revoke", "alice", "ops"], "").one();
    assert_eq!(r["roles"], serde_json::json!(["db:read"]));
    let r = ctl.j(&["role", "set", "alice", "a", "b"], "").one();
    assert_eq!(r["roles"], serde_json::json!(["a", "b"]));
    let r = ctl.j(&["role", "get", "alice"], "").one();
    assert_eq!(r["roles"], serde_json::json!(["a", "b"]));
    let out = ctl.j(&["role", "grant", "alice", "Bad Role"], "");
    assert_eq!(out.error_code(), "INVALID_ARGUMENT");
    let out = ctl.j(&["role", "revoke", "admin", "admin"], "");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.error_code(),
        "FAILED_PRECONDITION",
        "the last admin stays"
    );

    // A non-admin is refused.
    let user = Ctl::new(&s);
    user.login("alice", "alice password 1");
    let out = user.j(&["account", "list"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "PERMISSION_DENIED");

    // Status changes and deletion.
    let a = ctl
        .j(&["account", "update", "alice", "--status", "inactive"], "")
        .one();
    assert_eq!(a["status"], "inactive");
    let out = user.j(&["whoami"], "");
    assert_eq!(out.code, 1, "leaving ACTIVE revokes the tokens");
    let a = ctl
        .j(&["account", "update", &alice_id, "--status", "active"], "")
        .one();
    assert_eq!(a["status"], "active");
    let a = ctl.j(&["account", "suspend", "alice"], "").one();
    assert_eq!(a["status"], "suspended");
    let d = ctl.j(&["account", "delete", "alice"], "").one();
    assert_eq!(d["status"], "deleted");
    let got = ctl.j(&["account", "get", &alice_id], "").one();
    assert_eq!(got["status"], "deleted");
    let out = ctl.j(&["account", "suspend", &alice_id], "");
    assert_eq!(out.error_code(), "FAILED_PRECONDITION");

    // The table form has a header and one line per account.
    let out = ctl.run(&["account", "list"], "");
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("ID"), "{}", out.stdout);
    assert_eq!(lines.len(), 3, "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_totp_pgcreds_password_and_audit() {
    let s = TestServer::start().await;
    let ctl = Ctl::new(&s);
    ctl.login("admin", &s.admin_password);
    let bob_id = ctl
        .j(
            &["account", "create", "bob", "--password-stdin"],
            "bob password 12\n",
        )
        .one()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ctl.j(&["account", "create", "svc", "--type", "system"], "")
        .one();

    // Service tokens.
    let issued = ctl.j(&["token", "issue", "svc"], "").one();
    let svc_token = issued["token"].as_str().unwrap().to_owned();
    let v = ctl
        .j(&["token", "validate", "--stdin"], &format!("{svc_token}\n"))
        .one();
    assert_eq!(v["valid"], true);
    assert_eq!(v["token_type"], "system");
    let out = ctl.j(&["token", "issue", "bob"], "");
    assert_eq!(out.code, 1, "only system accounts get service tokens");
    let jti = v["jti"].as_str().unwrap().to_owned();
    let r = ctl
        .j(&["token", "revoke", &jti, "--reason", "test"], "")
        .one();
    assert_eq!(r["revoked"], true);
    let out = ctl.j(&["token", "validate", "--stdin"], &format!("{svc_token}\n"));
    assert_eq!(out.code, 1);
    let out = ctl.j(&["token", "validate", "--stdin"], "");
    assert_eq!(out.code, 2);
    let out = ctl.j(&["token", "revoke", "no-such-jti"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "NOT_FOUND");

    let keys = ctl.j(&["token", "keys"], "").json();
    assert_eq!(keys.len(), 2, "one Ed25519 and one RSA key");
    assert!(
        keys.iter()
            .any(|k| k["alg"] == "EdDSA" && k["crv"] == "Ed25519")
    );
    assert!(
        keys.iter()
            .any(|k| k["alg"] == "RS256" && k["kty"] == "RSA" && k["n"] != "")
    );

    // Renewal replaces the stored token.
    let before = ctl.access();
    let r = ctl.j(&["token", "renew"], "").one();
    assert_eq!(r["ok"], true);
    let after = ctl.access();
    assert_ne!(before, after);
    assert!(!s.valid(before.trim()).await);
    assert!(s.valid(after.trim()).await);
    let out = ctl.j(&["--token", before.trim(), "token", "renew"], "");
    assert_eq!(out.code, 1, "a revoked token cannot be renewed");
    assert_eq!(out.error_code(), "UNAUTHENTICATED");

    // TOTP for bob.
    let bob = Ctl::new(&s);
    bob.login("bob", "bob password 12");
    let e = bob.j(&["totp", "enroll"], "").one();
    let secret_b32 = e["secret"].as_str().unwrap();
    assert!(
        e["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .unwrap();
    let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let out = bob.j(&["totp", "confirm", wrong], "");
    assert_eq!(out.code, 1);
    let c = bob.j(&["totp", "confirm", &code], "").one();
    assert_eq!(c["totp_enabled"], true);
    // Login now needs the code: the second stdin line.
    s.clock.advance(30);
    let out = bob.j(&["login", "bob", "--password-stdin"], "bob password 12\n");
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
    let v = bob
        .j(
            &["login", "bob", "--password-stdin"],
            &format!("bob password 12\n{code}\n"),
        )
        .one();
    assert_eq!(v["username"], "bob");
    // The table form of enroll shows a QR code (refused here: already enabled).
    let out = bob.run(&["totp", "enroll"], "");
    assert_eq!(out.code, 1);
    let r = ctl.j(&["totp", "remove", "bob"], "").one();
    assert_eq!(r["totp_enabled"], false);
    let out = ctl.j(&["totp", "remove", "bob"], "");
    assert_eq!(out.error_code(), "FAILED_PRECONDITION");
    // Removing the factor signed bob out everywhere.
    let out = bob.j(&["whoami"], "");
    assert_eq!(out.code, 1, "the old token is no longer valid");
    bob.j(
        &["login", "bob", "--password-stdin"],
        "bob password 12
",
    )
    .one();
    let out = bob.run(&["totp", "enroll"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("otpauth://totp/"));
    assert!(
        out.stdout.contains('█') || out.stdout.contains('▀'),
        "a QR code"
    );

    // Stored credentials: the owner sets them, the admin reads them.
    let out = bob.j(&["pgcreds", "get", &bob_id], "");
    assert_eq!(out.error_code(), "NOT_FOUND");
    let set = bob
        .j(
            &[
                "pgcreds",
                "set",
                &bob_id,
                "--host",
                "db.example",
                "--port",
                "5433",
                "--database",
                "app",
                "--username",
                "bob_app",
                "--password-stdin",
            ],
            "s3cret db pass\n",
        )
        .one();
    assert_eq!(set["stored"], true);
    let got = ctl.j(&["pgcreds", "get", "bob"], "").one();
    assert_eq!(got["host"], "db.example");
    assert_eq!(got["port"], 5433);
    assert_eq!(got["password"], "s3cret db pass");
    let out = bob.j(&["pgcreds", "get", "admin"], "");
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
    let help = bob.run(&["pgcreds", "set", "--help"], "");
    assert!(!help.stdout.contains("--password "), "no password flag");

    // The profile: bob edits his own, not another's, and not email_verified;
    // the admin can; `account get` shows it.
    let p = bob
        .j(
            &[
                "account",
                "profile",
                &bob_id,
                "--email",
                "Bob@Example.ORG",
                "--display-name",
                "Bob B.",
            ],
            "",
        )
        .one();
    assert_eq!(p["email"], "Bob@example.org");
    assert_eq!(p["display_name"], "Bob B.");
    assert_eq!(p["email_verified"], false);
    let out = bob.j(
        &["account", "profile", &bob_id, "--email-verified", "true"],
        "",
    );
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
    let out = bob.j(&["account", "profile", "admin", "--given-name", "x"], "");
    assert_ne!(out.code, 0);
    let out = bob.j(&["account", "profile", &bob_id, "--email", "a@@b"], "");
    assert_eq!(out.error_code(), "INVALID_ARGUMENT");
    let out = bob.j(&["account", "profile", &bob_id], "");
    assert_eq!(out.code, 2, "nothing to change");
    let p = ctl
        .j(
            &[
                "account",
                "profile",
                "bob",
                "--email-verified",
                "true",
                "--family-name",
                "Builder",
            ],
            "",
        )
        .one();
    assert_eq!(
        (p["email_verified"].as_bool(), p["family_name"].as_str()),
        (Some(true), Some("Builder"))
    );
    let got = ctl.j(&["account", "get", "bob"], "").one();
    assert_eq!(got["email"], "Bob@example.org");
    assert_eq!(got["given_name"], "");
    let table = ctl.run(&["account", "get", "bob"], "");
    assert!(table.stdout.contains("Bob B."), "{}", table.stdout);

    // Password change.
    let out = bob.j(
        &["password", "change", "--password-stdin"],
        "not my password\nbob password 34\n",
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
    let out = bob.j(
        &["password", "change", "--password-stdin"],
        "bob password 12\n",
    );
    assert_eq!(out.code, 2);
    let c = bob
        .j(
            &["password", "change", "--password-stdin"],
            "bob password 12\nbob password 34\n",
        )
        .one();
    assert_eq!(c["changed"], true);
    bob.login("bob", "bob password 34");

    // The audit log.
    let events = ctl
        .j(
            &["audit", "list", "--type", "account_create", "--limit", "10"],
            "",
        )
        .json();
    assert_eq!(events.len(), 3, "admin, bob and svc");
    assert!(events.iter().all(|e| e["event_type"] == "account_create"));
    let mine = ctl
        .j(
            &["audit", "list", "--account", &bob_id, "--since", "1h"],
            "",
        )
        .json();
    assert!(mine.iter().any(|e| e["event_type"] == "password_change"));
    assert!(mine.iter().any(|e| e["event_type"] == "pgcreds_read"));
    let future = ctl
        .j(&["audit", "list", "--since", "2999-01-01T00:00:00Z"], "")
        .json();
    assert!(future.is_empty());
    let out = ctl.j(&["audit", "list", "--since", "last tuesday"], "");
    assert_eq!(out.code, 2);
    let out = bob.j(&["audit", "list"], "");
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_follow_prints_new_events() {
    let s = TestServer::start().await;
    let ctl = Ctl::new(&s);
    let token = ctl.login("admin", &s.admin_password);
    assert_eq!(token["ok"], true);
    let mut child = ctl
        .command(&[
            "--output",
            "json",
            "audit",
            "list",
            "--type",
            "account_create",
            "--follow",
            "--interval",
            "1",
        ])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // The existing event (the admin's creation) comes first.
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(first.contains("account_create"), "{first}");
    let admin = s.admin_token().await;
    s.create(&admin, "followed", pb::AccountType::System, "")
        .await;
    let mut seen = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["details"]["username"] == "followed" {
                seen = true;
                break;
            }
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(seen, "--follow printed the new event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_login_prompts_for_the_totp_code_after_a_refusal() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    s.create(&admin, "tina", pb::AccountType::Human, "tina password 1")
        .await;
    let tina = s.login("tina", "tina password 1").await;
    let e = s
        .auth()
        .await
        .enroll_totp(common::authed(pb::EnrollTotpRequest {}, &tina))
        .await
        .unwrap()
        .into_inner();
    let secret = data_encoding::BASE32_NOPAD
        .decode(e.secret.as_bytes())
        .unwrap();
    let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
    s.auth()
        .await
        .confirm_totp(common::authed(pb::ConfirmTotpRequest { code }, &tina))
        .await
        .unwrap();
    s.clock.advance(30);
    let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());

    let ctl = Ctl::new(&s);
    let cmd = format!(
        "{} --server {} --ca-cert {} login",
        env!("CARGO_BIN_EXE_mciasctl"),
        ctl.server,
        ctl.ca.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("MCIAS_TOKEN")
        .env("MCIAS_TOKEN_FILE", &ctl.token_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` provides the terminal for this test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("tina\ntina password 1\n{code}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Password:"), "{text}");
    assert!(text.contains("TOTP code:"), "{text}");
    assert!(text.contains("logged in as tina"), "{text}");
    let token = ctl.access();
    assert!(s.valid(token.trim()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_introspect_revoke_value_and_sign_out_everywhere() {
    let s = TestServer::start().await;
    let ctl = Ctl::new(&s);

    // Login keeps the refresh token on the token file's second line, and
    // neither output shows a token.
    let v = ctl.login("admin", &s.admin_password);
    assert!(
        v["refresh_expires_at"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(v.get("token").is_none() && v.get("refresh_token").is_none());
    let first = ctl.stored();
    assert_eq!(first.len(), 2, "access and refresh token");
    let table = Ctl::new(&s);
    let out = table.run(
        &["login", "admin", "--password-stdin"],
        &format!("{}\n", s.admin_password),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("token refresh"), "{}", out.stdout);
    for t in table.stored() {
        assert!(!out.stdout.contains(&t) && !out.stderr.contains(&t));
    }

    // `token refresh` uses the stored refresh token and stores both new ones.
    let r = ctl.j(&["token", "refresh"], "").one();
    assert_eq!(r["ok"], true);
    assert!(r.get("token").is_none() && r.get("refresh_token").is_none());
    assert!(
        r["refresh_expires_at"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let second = ctl.stored();
    assert_eq!(second.len(), 2);
    assert_ne!(second[0], first[0]);
    assert_ne!(second[1], first[1]);
    assert!(s.valid(&second[0]).await);

    // Renewal keeps the refresh token.
    ctl.j(&["token", "renew"], "").one();
    let renewed = ctl.stored();
    assert_ne!(renewed[0], second[0]);
    assert_eq!(renewed[1], second[1], "renew keeps the refresh token");

    // With --refresh-token-stdin the new tokens are printed, not stored.
    let r = ctl
        .j(
            &["token", "refresh", "--refresh-token-stdin"],
            &format!("{}\n", second[1]),
        )
        .one();
    let printed_refresh = r["refresh_token"].as_str().unwrap().to_owned();
    assert!(s.valid(r["token"].as_str().unwrap()).await);
    assert_ne!(printed_refresh, second[1]);
    assert_eq!(ctl.stored(), renewed, "the token file is untouched");

    // The stored refresh token is used up now: presenting it again is
    // refused, and revokes its family (the printed one too).
    let out = ctl.j(&["token", "refresh"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    let out = ctl.j(
        &["token", "refresh", "--refresh-token-stdin"],
        &format!("{printed_refresh}\n"),
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    // Nothing on standard input, or no refresh token stored: usage errors.
    let out = ctl.j(&["token", "refresh", "--refresh-token-stdin"], "");
    assert_eq!(out.code, 2);
    assert_eq!(out.error_code(), "USAGE");
    let bare = Ctl::new(&s);
    let token = s.admin_token().await;
    std::fs::create_dir_all(bare.token_file.parent().unwrap()).unwrap();
    std::fs::write(&bare.token_file, format!("{token}\n")).unwrap();
    let out = bare.j(&["token", "refresh"], "");
    assert_eq!(out.code, 2);
    assert_eq!(out.error_code(), "USAGE");
    assert!(out.stderr.contains("no refresh token"), "{}", out.stderr);
    // A token file from before refresh tokens (one line) still works.
    assert_eq!(bare.j(&["whoami"], "").one()["valid"], true);

    // Introspection: access and refresh tokens, from stdin or an argument.
    let admin = Ctl::new(&s);
    admin.login("admin", &s.admin_password);
    let [access, refresh] = <[String; 2]>::try_from(admin.stored()).unwrap();
    let i = admin
        .j(&["token", "introspect", "-"], &format!("{access}\n"))
        .one();
    assert_eq!(i["active"], true);
    assert_eq!(i["token_type"], "access_token");
    assert_eq!(i["roles"], serde_json::json!(["admin"]));
    assert_eq!(i["account_type"], "human");
    assert!(i["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let admin_id = i["subject"].as_str().unwrap().to_owned();
    let i = admin
        .j(&["token", "introspect", "--hint", "refresh", &refresh], "")
        .one();
    assert_eq!(i["active"], true);
    assert_eq!(i["token_type"], "refresh_token");
    assert_eq!(i["subject"], admin_id.as_str());
    let out = admin.j(&["token", "introspect", "not-a-token"], "");
    assert_eq!(out.code, 1, "an inactive token exits 1");
    assert_eq!(out.error_code(), "REFUSED");
    assert_eq!(
        serde_json::from_str::<Value>(out.stdout.trim()).unwrap(),
        serde_json::json!({ "active": false })
    );
    let out = admin.j(&["token", "introspect", "-"], "");
    assert_eq!(out.code, 2, "nothing on standard input");
    let out = Ctl::new(&s).j(&["token", "introspect", "-"], &format!("{access}\n"));
    assert_eq!(out.code, 2, "introspection needs a token of one's own");
    assert_eq!(out.error_code(), "USAGE");
    let out = admin.run(&["token", "introspect", "--hint", "id", "x"], "");
    assert_eq!(out.code, 2);

    // Revocation by value: a refresh token (with its family) from stdin, an
    // access token as an argument; unknown tokens are not an error.
    let alice_id = s
        .create(&access, "alice", pb::AccountType::Human, "alice password 1")
        .await;
    let alice = Ctl::new(&s);
    alice.login("alice", "alice password 1");
    let [alice_access, alice_refresh] = <[String; 2]>::try_from(alice.stored()).unwrap();
    let r = admin
        .j(
            &["token", "revoke-value", "--hint", "refresh"],
            &format!("{alice_refresh}\n"),
        )
        .one();
    assert_eq!(r["revoked"], true);
    let out = alice.j(&["token", "refresh"], "");
    assert_eq!(out.code, 1, "a revoked refresh token is refused");
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    assert!(
        !s.valid(&alice_access).await,
        "the family's access tokens go with it"
    );
    alice.login("alice", "alice password 1");
    let alice_access = alice.access();
    assert!(s.valid(&alice_access).await);
    let r = admin.j(&["token", "revoke-value", &alice_access], "").one();
    assert_eq!(r["revoked"], true);
    assert!(!s.valid(&alice_access).await);
    let r = Ctl::new(&s)
        .j(&["token", "revoke-value", "-"], "no-such-token\n")
        .one();
    assert_eq!(r["revoked"], true, "possession is enough; unknown is fine");
    let out = admin.j(&["token", "revoke-value"], "");
    assert_eq!(out.code, 2, "nothing on standard input");
    assert_eq!(out.error_code(), "USAGE");

    // Logout revokes the stored refresh token as well.
    let alice = Ctl::new(&s);
    alice.login("alice", "alice password 1");
    let [_, alice_refresh] = <[String; 2]>::try_from(alice.stored()).unwrap();
    let r = alice.j(&["logout"], "").one();
    assert_eq!(r["refresh_revoked"], true);
    assert!(!alice.token_file.exists());
    let out = alice.j(
        &["token", "refresh", "--refresh-token-stdin"],
        &format!("{alice_refresh}\n"),
    );
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    // With an access token that no longer works, logout still revokes the
    // stored refresh token; without a refresh token it is refused.
    alice.login("alice", "alice password 1");
    let [alice_access, alice_refresh] = <[String; 2]>::try_from(alice.stored()).unwrap();
    admin
        .j(
            &["token", "revoke-value", "-"],
            &format!("{alice_access}\n"),
        )
        .one();
    let r = alice.j(&["logout"], "").one();
    assert_eq!(r["revoked"], false);
    assert_eq!(r["refresh_revoked"], true);
    assert!(!alice.token_file.exists());
    let out = alice.j(
        &["token", "refresh", "--refresh-token-stdin"],
        &format!("{alice_refresh}\n"),
    );
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    let out = alice.j(&["--token", &alice_access, "logout"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "UNAUTHENTICATED");

    // Sign out everywhere: one's own account from one device ends every
    // other session too.
    let laptop = Ctl::new(&s);
    let phone = Ctl::new(&s);
    laptop.login("alice", "alice password 1");
    phone.login("alice", "alice password 1");
    let r = laptop.j(&["logout", "--everywhere"], "").one();
    assert_eq!(r["signed_out"], true);
    assert_eq!(r["account_id"], Value::Null);
    assert!(!laptop.token_file.exists());
    assert!(!s.valid(&phone.access()).await);
    let out = phone.j(&["token", "refresh"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "UNAUTHENTICATED");

    // An admin signs another account out by name; a user may not.
    phone.login("alice", "alice password 1");
    let out = phone.j(&["logout", "--everywhere", &admin_id], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
    let r = admin.j(&["logout", "--everywhere", "alice"], "").one();
    assert_eq!(r["account_id"], alice_id.as_str());
    assert!(admin.token_file.exists(), "the admin's own session stays");
    assert!(s.valid(&admin.access()).await);
    assert!(!s.valid(&phone.access()).await);
    let out = admin.j(&["logout", "--everywhere", "nobody"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "NOT_FOUND");
    let out = admin.run(&["logout", "alice"], "");
    assert_eq!(out.code, 2, "an account needs --everywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secrets_client_credentials_and_key_rotation() {
    // A rotated key signs at once here (no lead time), so the key before it
    // is a superseded one that no longer signs; `tests/sessions.rs` checks
    // the lead time.
    let s = TestServer::start_with(common::Options {
        signing_key_lead: Some("0s"),
        ..common::Options::default()
    })
    .await;
    let admin = Ctl::new(&s);
    admin.login("admin", &s.admin_password);
    let svc = admin
        .j(
            &["account", "create", "svc-billing", "--type", "system"],
            "",
        )
        .one();
    let svc_id = svc["id"].as_str().unwrap().to_owned();

    // The table form prints the secret with a warning that it is shown once.
    let out = admin.run(&["account", "client-secret", "svc-billing"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("client_secret"), "{}", out.stdout);
    assert!(out.stderr.contains("only this once"), "{}", out.stderr);
    let old_secret = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_secret"))
        .unwrap()
        .trim()
        .to_owned();
    // JSON includes it; a new secret replaces the old one.
    let r = admin
        .j(&["account", "client-secret", "svc-billing"], "")
        .one();
    assert_eq!(r["account_id"], svc_id.as_str());
    let secret = r["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "256 bits, base64url");
    assert_ne!(secret, old_secret);
    let alice = s
        .create(
            &s.admin_token().await,
            "alice",
            pb::AccountType::Human,
            "alice password 1",
        )
        .await;
    let out = admin.j(&["account", "client-secret", &alice], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "FAILED_PRECONDITION", "people have none");
    let out = admin.j(&["account", "client-secret", "nobody"], "");
    assert_eq!(out.error_code(), "NOT_FOUND");

    // login --client-credentials: the secret from stdin, never a flag.
    let client = Ctl::new(&s);
    let base = [
        "login",
        "--client-credentials",
        "--client-id",
        "svc-billing",
        "--secret-stdin",
    ];
    let out = client.j(&base, &format!("{old_secret}\n"));
    assert_eq!(out.code, 1, "the rotated-out secret is refused");
    assert_eq!(out.error_code(), "UNAUTHENTICATED");
    assert!(!client.token_file.exists());
    let r = client.j(&base, &format!("{secret}\n")).one();
    assert_eq!(r["ok"], true);
    assert_eq!(r["client_id"], "svc-billing");
    assert!(r.get("token").is_none());
    assert_eq!(client.stored().len(), 1, "no refresh token");
    let who = client.j(&["whoami"], "").one();
    assert_eq!(who["subject"], svc_id.as_str());
    let out = client.j(&["token", "refresh"], "");
    assert_eq!(
        out.code, 2,
        "client credentials come without a refresh token"
    );
    // By id, too.
    let by_id = Ctl::new(&s);
    by_id
        .j(
            &[
                "login",
                "--client-credentials",
                "--client-id",
                &svc_id,
                "--secret-stdin",
            ],
            &format!("{secret}\n"),
        )
        .one();
    let out = client.j(&base, "");
    assert_eq!(out.code, 2, "nothing on standard input");
    assert_eq!(out.error_code(), "USAGE");
    assert!(out.stderr.contains("client secret"), "{}", out.stderr);
    for bad in [
        &["login", "--client-credentials", "--secret-stdin"][..],
        &["login", "--client-id", "svc-billing"],
        &[
            "login",
            "--client-credentials",
            "--client-id",
            "x",
            "--client-secret",
            "s",
        ],
        &["login", "admin", "--client-credentials", "--client-id", "x"],
    ] {
        assert_eq!(client.run(bad, "").code, 2, "{bad:?}");
    }

    // Signing-key rotation: a new kid, published beside the old one, and
    // tokens signed before keep verifying.
    let before = admin.access();
    let keys = admin.j(&["token", "keys"], "").json();
    assert_eq!(keys.len(), 2, "one key of each algorithm");
    let r = admin.j(&["key", "rotate"], "").one();
    let kid = r["kid"].as_str().unwrap().to_owned();
    assert!(keys.iter().all(|k| k["kid"] != kid.as_str()));
    let keys = admin.j(&["token", "keys"], "").json();
    assert_eq!(
        keys.len(),
        4,
        "a new key of each algorithm beside the old ones"
    );
    assert!(keys.iter().any(|k| k["kid"] == kid.as_str()));
    assert!(s.valid(&before).await);

    // Refresh-key rotation: refresh tokens made before keep working, new
    // ones name the new key.
    let r = admin.j(&["key", "rotate-refresh"], "").one();
    let key_id = r["key_id"].as_str().unwrap().to_owned();
    assert!(!key_id.is_empty());
    admin.j(&["token", "refresh"], "").one();
    assert!(s.valid(&admin.access()).await);
    let table = admin.run(&["key", "rotate-refresh"], "");
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("refresh tokens"), "{}", table.stdout);

    // Both are for admins only.
    let out = client.j(&["key", "rotate"], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
    let out = client.j(&["key", "rotate-refresh"], "");
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
    let out = Ctl::new(&s).j(&["key", "rotate"], "");
    assert_eq!(out.code, 2, "not logged in");

    // Revocation: the superseded key is cut off at once and leaves the JWKS;
    // an unknown kid is NOT_FOUND; admins only.
    let keys = admin.j(&["token", "keys"], "").json();
    let old = keys
        .iter()
        .filter(|k| k["alg"] == "EdDSA")
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .find(|k| *k != kid)
        .unwrap();
    let out = client.j(&["key", "revoke", &old], "");
    assert_eq!(out.error_code(), "PERMISSION_DENIED");
    let out = admin.j(&["key", "revoke", "no-such-kid"], "");
    assert_eq!((out.code, out.error_code()), (1, "NOT_FOUND".to_owned()));
    let r = admin.j(&["key", "revoke", &old], "").one();
    assert_eq!(
        (r["kid"].as_str(), r["new_active_kid"].as_str()),
        (Some(old.as_str()), None)
    );
    assert!(
        !s.valid(&before).await,
        "its tokens stop validating at once"
    );
    let keys = admin.j(&["token", "keys"], "").json();
    assert_eq!(keys.len(), 3, "the two RSA keys and the new Ed25519 key");
    assert!(keys.iter().all(|k| k["kid"] != old.as_str()));
    assert!(keys.iter().any(|k| k["kid"] == kid.as_str()));
    // The active key: a new one is rotated in first, and named.
    let table = admin.run(&["key", "revoke", &kid], "");
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.contains("was the active key"),
        "{}",
        table.stdout
    );
    assert!(!s.valid(&admin.access()).await);
}

/// Output into a closed pipe (`mciasctl completions bash | head`) ends the
/// command quietly with status 0, never with a panic (status 101).
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    for args in [&["completions", "bash"][..], &["--help"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_mciasctl"))
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications() {
    let s = TestServer::start().await;
    let ctl = Ctl::new(&s);
    ctl.login("admin", &s.admin_password);

    let created = ctl
        .j(
            &[
                "client",
                "create",
                "wiki",
                "--name",
                "Wiki",
                "--redirect-uri",
                "https://wiki.example/cb",
                "--grant",
                "authorization-code",
                "--grant",
                "refresh-token",
                "--scope",
                "openid",
                "--id-token-alg",
                "RS256",
            ],
            "",
        )
        .one();
    assert_eq!(created["client_id"], "wiki");
    assert_eq!(created["id_token_signing_alg"], "RS256");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(!secret.is_empty());

    // A table with the secret once, and the one-time warning.
    let out = ctl.run(
        &[
            "client",
            "create",
            "--type",
            "public",
            "--name",
            "CLI",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--grant",
            "authorization-code",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("public"), "{}", out.stdout);

    let out = ctl.j(
        &[
            "client",
            "create",
            "evil",
            "--name",
            "Evil",
            "--redirect-uri",
            "http://evil.example/cb",
            "--grant",
            "authorization-code",
        ],
        "",
    );
    assert_eq!(out.error_code(), "INVALID_ARGUMENT");
    assert!(out.stderr.contains("redirect_uris[0]"), "{}", out.stderr);

    let list = ctl.j(&["client", "list", "--page-size", "1"], "").json();
    assert_eq!(list.len(), 2, "every page is fetched");
    let got = ctl.j(&["client", "get", "wiki"], "");
    assert!(!got.stdout.contains(&secret));
    assert_eq!(got.one()["has_secret"], true);

    let updated = ctl
        .j(&["client", "update", "wiki", "--first-party"], "")
        .one();
    assert_eq!(updated["first_party"], true);
    assert_eq!(updated["scopes"], serde_json::json!(["openid"]));
    assert_eq!(ctl.run(&["client", "update", "wiki"], "").code, 2);

    let rotated = ctl.j(&["client", "rotate-secret", "wiki"], "").one();
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);
    let out = ctl.run(&["client", "rotate-secret", "wiki"], "");
    assert!(out.stderr.contains("only this once"), "{}", out.stderr);

    let deleted = ctl.j(&["client", "delete", "wiki"], "").one();
    assert_eq!(deleted["ok"], true);
    assert_eq!(
        ctl.j(&["client", "get", "wiki"], "").error_code(),
        "NOT_FOUND"
    );
}
