//! The in-process test kit: an `Idm` over a temporary SQLite database with a
//! manual clock and a seeded random source. No TLS, no network, no server:
//! domain rules are checked in milliseconds.

use std::sync::Arc;

use mcias_core::clock::{ManualClock, SeededRandom};
use mcias_core::config::Config;
use mcias_core::crypto::password::PoolSize;
use mcias_core::error::{ErrorKind, Result};
use mcias_core::idm::{Caller, Idm, IssuedToken, KeySource};
use mcias_core::model::{AccountRecord, AccountType, AuditFilter, AuditRecord};
use zeroize::Zeroizing;

/// The admin's password in every kit.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// What a kit may vary.
pub struct Options {
    /// `tokens.refresh_grace`.
    pub refresh_grace: &'static str,
    /// The hashing pool.
    pub pool: PoolSize,
    /// More lines for `[tokens]` (e.g. `signing_key_lead = "0s"`).
    pub tokens_extra: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            refresh_grace: "0s",
            pool: PoolSize {
                workers: 2,
                queue: 16,
            },
            tokens_extra: "",
        }
    }
}

/// An identity manager with its clock and the admin's session.
pub struct Kit {
    pub idm: Idm,
    pub clock: Arc<ManualClock>,
    pub admin: AccountRecord,
    pub admin_token: String,
    config: Config,
    rng: Arc<SeededRandom>,
    pool: PoolSize,
    _dir: tempfile::TempDir,
}

/// A start time well after the epoch, fixed so failures repeat.
const T0: i64 = 1_790_000_000;

impl Kit {
    pub async fn new() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(opts: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rng = SeededRandom::new(7);
        mcias_core::crypto::master::create_keyfile(&dir.path().join("master.key"), rng.as_ref())
            .unwrap();
        let path = dir.path().join("mcias.toml");
        std::fs::write(
            &path,
            format!(
                r#"
[server]
listen_addr = "127.0.0.1:0"
insecure_plaintext = true

[database]
path = "mcias.db"

[master_key]
keyfile = "master.key"

[tokens]
issuer = "https://mcias.test"
access_ttl = "1h"
refresh_ttl = "30d"
service_token_ttl = "30d"
refresh_grace = "{}"
{}
[argon2]
memory_kib = 19456
time = 2
parallelism = 1
"#,
                opts.refresh_grace, opts.tokens_extra,
            ),
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        let clock = ManualClock::new(T0);
        let idm = Idm::open(
            &config,
            KeySource::from_config(&config).unwrap(),
            clock.clone(),
            rng.clone(),
            opts.pool,
        )
        .await
        .unwrap();
        let admin = idm
            .bootstrap_admin("admin", Zeroizing::new(ADMIN_PASSWORD.to_owned()))
            .await
            .unwrap();
        let issued = idm
            .login(&anonymous(), "admin", pw(ADMIN_PASSWORD), "")
            .await
            .unwrap();
        Self {
            idm,
            clock,
            admin,
            admin_token: issued.token.to_string(),
            config,
            rng,
            pool: opts.pool,
            _dir: dir,
        }
    }

    /// Opens the database again, as a restart of the server would.
    pub async fn reopen(&mut self) {
        self.idm = Idm::open(
            &self.config,
            KeySource::from_config(&self.config).unwrap(),
            self.clock.clone(),
            self.rng.clone(),
            self.pool,
        )
        .await
        .unwrap();
    }

    /// The database file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.config.database.path.clone()
    }

    /// The caller behind a token, as the gate would make it.
    pub fn caller(&self, token: &str) -> Caller {
        Caller {
            principal: Some(self.idm.authenticate(token).unwrap()),
            peer: Some("192.0.2.1".to_owned()),
        }
    }

    /// The admin, as a caller.
    pub fn admin(&self) -> Caller {
        self.caller(&self.admin_token)
    }

    /// Creates an account as the admin.
    pub async fn account(&self, name: &str, ty: AccountType, password: &str) -> AccountRecord {
        let password = (!password.is_empty()).then(|| pw(password));
        self.idm
            .create_account(&self.admin(), name, ty, password)
            .await
            .unwrap()
    }

    pub async fn login(&self, name: &str, password: &str) -> Result<IssuedToken> {
        self.idm.login(&anonymous(), name, pw(password), "").await
    }

    /// A login from the client at `peer` (an "ip:port" as the gate gives).
    pub async fn login_from(&self, peer: &str, name: &str, password: &str) -> Result<IssuedToken> {
        self.idm.login(&from(peer), name, pw(password), "").await
    }

    /// Whether a token passes authentication now.
    pub fn valid(&self, token: &str) -> bool {
        self.idm.authenticate(token).is_ok()
    }

    /// Audit events of one type, newest first.
    pub async fn audit(&self, event_type: &str) -> Vec<AuditRecord> {
        let filter = AuditFilter {
            event_type: Some(event_type.to_owned()),
            ..AuditFilter::default()
        };
        self.idm.list_audit(filter, 100, "").await.unwrap().0
    }
}

pub fn anonymous() -> Caller {
    Caller {
        principal: None,
        peer: Some("192.0.2.1".to_owned()),
    }
}

/// An anonymous caller at `peer`.
pub fn from(peer: &str) -> Caller {
    Caller {
        principal: None,
        peer: Some(peer.to_owned()),
    }
}

pub fn pw(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_owned())
}

/// Asserts the error kind of a result.
#[track_caller]
pub fn assert_kind<T>(r: Result<T>, kind: ErrorKind) -> mcias_core::error::Error {
    match r {
        Ok(_) => panic!("expected {kind:?}, got Ok"),
        Err(e) => {
            assert_eq!(e.kind, kind, "{e:?}");
            e
        }
    }
}
