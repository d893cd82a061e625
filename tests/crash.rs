//! Crash safety of the real `mciassrv` binary: several clients write at once
//! (accounts, logins, refresh rotations, roles, sealed database
//! credentials), the server is killed with SIGKILL at a random moment, and
//! every restart must find: the database sound (`integrity_check`, every
//! sealed value opening — what `mciasdb verify` checks), every acknowledged
//! write present, no refresh token honoured twice, and the server SERVING.
//! And a wrong master key after such a crash changes nothing, byte for
//! byte, in the database, its `-wal` or its `-shm`.
//!
//! The moments are drawn from a seed printed at the start;
//! `MCIAS_CRASH_SEED=<n>` replays a run, `MCIAS_CRASH_ROUNDS=<n>` changes
//! the number of rounds (default 20).

use mcias_testkit as common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{TestServer, authed};
use mcias_core::clock::OsRandom;
use mcias_core::config::Config;
use mcias_core::idm::{KeySource, ReadOnlyDb};
use mcias_proto::{
    self as pb, account_service_client::AccountServiceClient,
    admin_service_client::AdminServiceClient, auth_service_client::AuthServiceClient,
    token_service_client::TokenServiceClient,
};
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const PW: &str = "correct horse battery";
const CLIENTS: usize = 4;
const ROLES: [&str; 3] = ["reader", "writer", "auditor"];

/// splitmix64: a small seeded generator, so a run can be replayed.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("MCIAS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// A running `mciassrv --config` child.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary and waits for the log line naming its port.
    fn spawn(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mciassrv"))
            .arg("--config")
            .arg(config)
            .env("MCIAS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<u16>();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("addr=127.0.0.1:").nth(1)
                    && let Some(p) = rest.split_whitespace().next()
                {
                    let _ = tx.send(p.parse().unwrap());
                }
                sink.lock().unwrap().push(line);
            }
        });
        // A bound on waiting, not a claim about speed: a server that never
        // announces its port fails the test with its log instead of hanging.
        let port = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(p) => p,
            Err(_) => {
                let status = child.try_wait().unwrap();
                panic!(
                    "the server did not start ({status:?}): {:#?}",
                    log.lock().unwrap()
                );
            }
        };
        Self { child, port, log }
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown, no checkpoint.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "{status:?}: {:#?}",
            self.log.lock().unwrap()
        );
    }
}

async fn channel(ca_pem: &str, port: u16) -> Channel {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Waits until the server answers Health with SERVING and `/readyz` with
/// 200. Polls without asserting how long it takes.
async fn wait_serving(ca_pem: &str, port: u16) {
    let ch = channel(ca_pem, port).await;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .use_rustls_tls()
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .build()
        .unwrap();
    for _ in 0..2000 {
        let h = AdminServiceClient::new(ch.clone())
            .health(pb::HealthRequest {})
            .await;
        let ready = http
            .get(format!("https://localhost:{port}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if matches!(&h, Ok(r) if r.get_ref().status == "SERVING") && matches!(ready, Ok(200)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never reported SERVING and ready");
}

/// An account a client created and saw acknowledged.
#[derive(Debug, Clone)]
struct Account {
    id: String,
    username: String,
}

/// A value whose last write was acknowledged (`acked`), and a write after it
/// whose answer never came (`pending`): either may be in force after a
/// crash, nothing else.
#[derive(Debug, Clone, PartialEq)]
struct Register<T> {
    acked: T,
    pending: Option<T>,
}

/// A refresh-token family of `account`: `cur` is the newest token the
/// client received; `uncertain` when a rotation of `cur` was sent and its
/// answer never came.
#[derive(Debug, Clone, Default)]
struct Chain {
    account: String,
    cur: String,
    uncertain: bool,
}

/// What one client knows the server acknowledged, and what it sent without
/// an answer.
#[derive(Debug, Default)]
struct Ledger {
    client: usize,
    accounts: Vec<Account>,
    /// Successful logins per account id, and logins sent without an answer.
    logins: HashMap<String, (u64, u64)>,
    roles: HashMap<String, Register<Vec<String>>>,
    pg_passwords: HashMap<String, Register<Option<String>>>,
    chain: Option<Chain>,
    /// Refresh tokens rotated away with an acknowledged answer: never to be
    /// honoured again, after any number of crashes.
    spent: Vec<String>,
    /// The account and access token of the last acknowledged login.
    access: Option<(String, String)>,
    next_name: u64,
    acked_ops: u64,
}

/// A client's writes until the server dies under it.
async fn client_loop(
    mut ledger: Ledger,
    ch: Channel,
    admin: String,
    mut rng: Rng,
    killed: Arc<AtomicBool>,
) -> Ledger {
    let mut accounts = AccountServiceClient::new(ch.clone());
    let mut auth = AuthServiceClient::new(ch.clone());
    let client = ledger.client;
    // Every call the server answers succeeds: a failure is the kill (the
    // flag is set before it) or a defect.
    let check = |res: &tonic::Status, what: &str, killed: &AtomicBool| {
        assert!(
            killed.load(Ordering::SeqCst),
            "client {client}: {what} refused while the server was alive: {res:?}"
        );
    };
    loop {
        if killed.load(Ordering::SeqCst) {
            return ledger;
        }
        let pick = if ledger.accounts.is_empty() {
            0
        } else {
            rng.below(100)
        };
        let target = (!ledger.accounts.is_empty())
            .then(|| ledger.accounts[rng.below(ledger.accounts.len() as u64) as usize].clone());
        match (pick, target) {
            (0..20, _) | (_, None) => {
                let username = format!("c{}-{}", ledger.client, ledger.next_name);
                ledger.next_name += 1;
                let res = accounts
                    .create_account(authed(
                        pb::CreateAccountRequest {
                            username: username.clone(),
                            account_type: pb::AccountType::Human as i32,
                            password: PW.into(),
                        },
                        &admin,
                    ))
                    .await;
                match res {
                    Ok(r) => {
                        let id = r.into_inner().account.unwrap().id;
                        ledger.roles.insert(
                            id.clone(),
                            Register {
                                acked: Vec::new(),
                                pending: None,
                            },
                        );
                        ledger.pg_passwords.insert(
                            id.clone(),
                            Register {
                                acked: None,
                                pending: None,
                            },
                        );
                        ledger.accounts.push(Account { id, username });
                        ledger.acked_ops += 1;
                    }
                    Err(e) => {
                        check(&e, "CreateAccount", &killed);
                        return ledger;
                    }
                }
            }
            (20..45, Some(a)) => {
                let entry = ledger.logins.entry(a.id.clone()).or_default();
                entry.1 += 1;
                let res = auth
                    .login(pb::LoginRequest {
                        username: a.username.clone(),
                        password: PW.into(),
                        totp_code: String::new(),
                    })
                    .await;
                match res {
                    Ok(r) => {
                        let r = r.into_inner();
                        let entry = ledger.logins.get_mut(&a.id).unwrap();
                        entry.0 += 1;
                        entry.1 -= 1;
                        ledger.access = Some((a.id.clone(), r.token));
                        if ledger.chain.as_ref().is_none_or(|c| c.uncertain) {
                            ledger.chain = Some(Chain {
                                account: a.id.clone(),
                                cur: r.refresh_token,
                                uncertain: false,
                            });
                        }
                        ledger.acked_ops += 1;
                    }
                    Err(e) => {
                        check(&e, "Login", &killed);
                        return ledger;
                    }
                }
            }
            (45..75, Some(_)) if ledger.chain.as_ref().is_some_and(|c| !c.uncertain) => {
                let chain = ledger.chain.as_mut().unwrap();
                chain.uncertain = true;
                let res = auth
                    .refresh_token(pb::RefreshTokenRequest {
                        refresh_token: chain.cur.clone(),
                    })
                    .await;
                match res {
                    Ok(r) => {
                        let old = std::mem::replace(&mut chain.cur, r.into_inner().refresh_token);
                        ledger.spent.push(old);
                        chain.uncertain = false;
                        ledger.acked_ops += 1;
                    }
                    Err(e) => {
                        check(&e, "RefreshToken", &killed);
                        return ledger;
                    }
                }
            }
            (75..88, Some(a)) => {
                let roles: Vec<String> = ROLES
                    .iter()
                    .filter(|_| rng.below(2) == 0)
                    .map(|r| r.to_string())
                    .collect();
                ledger.roles.get_mut(&a.id).unwrap().pending = Some(roles.clone());
                // A role change signs the account out (its token version
                // moves): its tokens are no longer expected to work.
                if ledger.chain.as_ref().is_some_and(|c| c.account == a.id) {
                    ledger.chain = None;
                }
                if ledger.access.as_ref().is_some_and(|(id, _)| *id == a.id) {
                    ledger.access = None;
                }
                let res = accounts
                    .set_roles(authed(
                        pb::SetRolesRequest {
                            account_id: a.id.clone(),
                            roles: roles.clone(),
                        },
                        &admin,
                    ))
                    .await;
                match res {
                    Ok(_) => {
                        ledger.roles.insert(
                            a.id.clone(),
                            Register {
                                acked: roles,
                                pending: None,
                            },
                        );
                        ledger.acked_ops += 1;
                    }
                    Err(e) => {
                        check(&e, "SetRoles", &killed);
                        return ledger;
                    }
                }
            }
            (_, Some(a)) => {
                let password = format!("pg-{}", rng.next());
                ledger.pg_passwords.get_mut(&a.id).unwrap().pending = Some(Some(password.clone()));
                let res = accounts
                    .set_pg_creds(authed(
                        pb::SetPgCredsRequest {
                            account_id: a.id.clone(),
                            host: "db.example".into(),
                            port: 5432,
                            database: "app".into(),
                            username: a.username.clone(),
                            password: password.clone(),
                        },
                        &admin,
                    ))
                    .await;
                match res {
                    Ok(_) => {
                        ledger.pg_passwords.insert(
                            a.id.clone(),
                            Register {
                                acked: Some(password),
                                pending: None,
                            },
                        );
                        ledger.acked_ops += 1;
                    }
                    Err(e) => {
                        check(&e, "SetPgCreds", &killed);
                        return ledger;
                    }
                }
            }
        }
    }
}

/// The test's world: the server's directory and what every client knows.
struct World {
    kit: TestServer,
    config: PathBuf,
    admin: Option<String>,
    ledgers: Vec<Ledger>,
    rng: Rng,
}

impl World {
    /// A database with an admin (made in-process, as `mciassrv dev` does),
    /// then served by the real binary from here on.
    async fn new(seed: u64) -> Self {
        let mut kit = TestServer::prepare(common::Options::default());
        kit.boot().await;
        kit.stop().await;
        let config = kit.config_path();
        Self {
            kit,
            config,
            admin: None,
            ledgers: (0..CLIENTS)
                .map(|client| Ledger {
                    client,
                    ..Ledger::default()
                })
                .collect(),
            rng: Rng(seed),
        }
    }

    fn db(&self) -> PathBuf {
        self.kit.db_path()
    }

    /// Starts the binary, waits for SERVING and checks everything the
    /// clients were told.
    async fn start_and_check(&mut self) -> Server {
        let server = Server::spawn(&self.config);
        wait_serving(&self.kit.ca_pem, server.port).await;
        let ch = channel(&self.kit.ca_pem, server.port).await;
        if self.admin.is_none() {
            let pw = self.kit.admin_password.clone();
            let token = AuthServiceClient::new(ch.clone())
                .login(pb::LoginRequest {
                    username: "admin".into(),
                    password: pw,
                    totp_code: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .token;
            self.admin = Some(token);
        }
        self.check(&ch).await;
        server
    }

    async fn check(&mut self, ch: &Channel) {
        let admin = self.admin.clone().unwrap();
        let mut accounts = AccountServiceClient::new(ch.clone());
        let mut auth = AuthServiceClient::new(ch.clone());
        let mut tokens = TokenServiceClient::new(ch.clone());
        let mut audit = AdminServiceClient::new(ch.clone());
        for ledger in &mut self.ledgers {
            let who = ledger.client;
            for a in &ledger.accounts {
                let got = accounts
                    .get_account(authed(pb::GetAccountRequest { id: a.id.clone() }, &admin))
                    .await
                    .unwrap_or_else(|e| panic!("client {who}: acknowledged account {a:?}: {e:?}"))
                    .into_inner()
                    .account
                    .unwrap();
                assert_eq!(got.username, a.username);

                let roles = ledger.roles.get_mut(&a.id).unwrap();
                let mut got = accounts
                    .get_roles(authed(
                        pb::GetRolesRequest {
                            account_id: a.id.clone(),
                        },
                        &admin,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .roles;
                got.sort();
                let mut acked = roles.acked.clone();
                acked.sort();
                let mut pending = roles.pending.clone();
                if let Some(p) = &mut pending {
                    p.sort();
                }
                assert!(
                    got == acked || Some(&got) == pending.as_ref(),
                    "client {who}: roles of {}: {got:?}, acknowledged {acked:?}, in flight {pending:?}",
                    a.username
                );
                *roles = Register {
                    acked: got,
                    pending: None,
                };

                let pg = ledger.pg_passwords.get_mut(&a.id).unwrap();
                let got = accounts
                    .get_pg_creds(authed(
                        pb::GetPgCredsRequest {
                            account_id: a.id.clone(),
                        },
                        &admin,
                    ))
                    .await
                    .ok()
                    .and_then(|r| r.into_inner().creds)
                    .map(|c| c.password);
                assert!(
                    got == pg.acked || Some(&got) == pg.pending.as_ref(),
                    "client {who}: stored credentials of {}: {got:?}, acknowledged {:?}, in flight {:?}",
                    a.username,
                    pg.acked,
                    pg.pending
                );
                *pg = Register {
                    acked: got,
                    pending: None,
                };

                // Every acknowledged login left its audit event, and no
                // more were recorded than were sent.
                let (acked, unknown) = ledger.logins.get(&a.id).copied().unwrap_or_default();
                let events = audit
                    .list_audit_events(authed(
                        pb::ListAuditEventsRequest {
                            account_id: a.id.clone(),
                            event_type: "login_success".into(),
                            page_size: 500,
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .events
                    .len() as u64;
                assert!(
                    (acked..=acked + unknown).contains(&events),
                    "client {who}: {} has {events} login events, {acked} acknowledged and {unknown} unanswered",
                    a.username
                );
                ledger.logins.insert(a.id.clone(), (events, 0));
            }

            if let Some((_, token)) = &ledger.access {
                let v = tokens
                    .validate_token(pb::ValidateTokenRequest {
                        token: token.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                assert!(v.valid, "client {who}: an acknowledged login's token");
            }

            // Refresh: the newest acknowledged token works once (unless a
            // rotation of it was in flight: then it may be spent), and no
            // token rotated away with an acknowledged answer is ever
            // honoured again. Presenting a spent token ends the family, so
            // the next round starts a new one.
            if let Some(chain) = ledger.chain.take() {
                let r = auth
                    .refresh_token(pb::RefreshTokenRequest {
                        refresh_token: chain.cur.clone(),
                    })
                    .await;
                // Spent or not when its rotation was in flight; spent now.
                assert!(
                    chain.uncertain || r.is_ok(),
                    "client {who}: the newest acknowledged refresh token: {r:?}"
                );
                ledger.spent.push(chain.cur);
            }
            // Presenting a spent token ends its family, access tokens
            // included: the next round logs in afresh.
            ledger.access = None;
            for (i, t) in ledger.spent.iter().enumerate().rev() {
                let r = auth
                    .refresh_token(pb::RefreshTokenRequest {
                        refresh_token: t.clone(),
                    })
                    .await;
                assert_eq!(
                    r.map(|_| ()).map_err(|e| e.code()),
                    Err(Code::Unauthenticated),
                    "client {who}: spent refresh token {i} of {} honoured again",
                    ledger.spent.len()
                );
            }
        }
        // What `mciasdb verify` checks, through the same code, while the
        // server runs: integrity_check, foreign keys, no pending migration,
        // and every sealed value opens at its own row.
        let cfg = Config::load(&self.config).unwrap();
        let source = KeySource::from_config(&cfg).unwrap();
        let report = ReadOnlyDb::open(&self.db(), &source, Arc::new(OsRandom))
            .await
            .unwrap()
            .verify()
            .await
            .unwrap();
        assert!(report.is_clean(), "verify: {report:?}");
        assert!(report.sealed_ok >= 2, "signing keys at least: {report:?}");
    }

    /// The clients write; the server is killed after a random delay.
    async fn write_then_kill(&mut self, server: Server) {
        let killed = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        let admin = self.admin.clone().unwrap();
        for ledger in std::mem::take(&mut self.ledgers) {
            let ch = channel(&self.kit.ca_pem, server.port).await;
            let rng = Rng(self.rng.next());
            tasks.push(tokio::spawn(client_loop(
                ledger,
                ch,
                admin.clone(),
                rng,
                killed.clone(),
            )));
        }
        let delay = 50 + self.rng.below(700);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        killed.store(true, Ordering::SeqCst);
        server.kill();
        for t in tasks {
            self.ledgers.push(t.await.unwrap());
        }
    }

    fn acked_ops(&self) -> u64 {
        self.ledgers.iter().map(|l| l.acked_ops).sum()
    }
}

fn sha256(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| format!("{:x}", Sha256::digest(b)))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_writes_loses_nothing_acknowledged() {
    let seed = seed();
    let rounds: usize = std::env::var("MCIAS_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    println!("crash test: seed {seed} (MCIAS_CRASH_SEED={seed} replays it), {rounds} rounds");
    let mut world = World::new(seed).await;
    for round in 0..rounds {
        let server = world.start_and_check().await;
        let before = world.acked_ops();
        world.write_then_kill(server).await;
        println!(
            "round {round}: {} writes acknowledged before SIGKILL",
            world.acked_ops() - before
        );
    }
    // The last crash too is recovered and checked; then a clean stop.
    let server = world.start_and_check().await;
    assert!(
        world.acked_ops() > rounds as u64,
        "too little was written to prove anything: {}",
        world.acked_ops()
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_master_key_after_a_crash_changes_nothing() {
    let seed = seed();
    println!("wrong-key test: seed {seed}");
    let mut world = World::new(seed).await;
    let server = world.start_and_check().await;
    world.write_then_kill(server).await;
    // A second round, so the WAL holds writes of two server lives.
    let server = world.start_and_check().await;
    world.write_then_kill(server).await;

    let db = world.db();
    let files = [db.clone(), sibling(&db, "-wal"), sibling(&db, "-shm")];
    let before: Vec<_> = files.iter().map(|f| sha256(f)).collect();
    assert!(
        before.iter().all(Option::is_some),
        "SIGKILL leaves the database, -wal and -shm: {files:?}"
    );

    // The same configuration with another keyfile.
    let dir = world.kit.dir.path();
    mcias_core::crypto::master::create_keyfile(&dir.join("wrong.key"), &OsRandom).unwrap();
    let text = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("keyfile = \"master.key\"", "keyfile = \"wrong.key\"");
    assert!(text.contains("wrong.key"));
    let wrong = dir.join("wrong.toml");
    std::fs::write(&wrong, text).unwrap();
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_mciassrv"))
            .arg("--config")
            .arg(&wrong)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with a wrong key: {stderr}");
        assert!(
            stderr.contains("master key does not open this database")
                && stderr.contains("nothing was changed"),
            "{stderr}"
        );
        let after: Vec<_> = files.iter().map(|f| sha256(f)).collect();
        assert_eq!(after, before, "a wrong key changed {files:?}");
    }

    // The right key: everything acknowledged is there, and it serves.
    let server = world.start_and_check().await;
    server.stop();
}
