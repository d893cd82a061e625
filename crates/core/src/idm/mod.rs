//! The domain, one file a lifecycle: `login` (password sign-in, backoff),
//! `tokens` (minting, validation, logout, renewal, service tokens,
//! revocation, introspection, token versions), `refresh` (refresh-token
//! secrets and families), `credentials` (passwords, TOTP, client secrets,
//! stored database credentials), `keys` (signing and refresh-key rotation
//! and retirement, with `keyring` and `revocation` the in-memory mirrors),
//! `accounts` (administration and roles), `clients` (applications: OAuth
//! clients and their secrets), `audit` (the log view),
//! `offline` and `maintenance` (what `mciasdb` needs). This file holds
//! `Idm` itself: opening (`unlock`, the key check), callers and principals,
//! and the shared helpers (audit events, sealing, ids). Speaks domain types;
//! knows nothing of gRPC or HTTP.

mod accounts;
mod audit;
mod clients;
mod credentials;
mod keyring;
mod keys;
mod login;
mod maintenance;
mod offline;
pub mod oidc;
mod refresh;
mod revocation;
mod tokens;

pub use accounts::{AccountPage, ProfileUpdate};
pub use clients::{ClientChanges, ClientPage, ClientSpec, check_client_id, check_redirect_uri};
pub use credentials::PgCreds;
pub use keyring::{At, KeyRing, Keys, Rotation};
pub use keys::{RevokedKey, RotatedKeys};
pub use login::{ACCOUNT_BACKOFF_AFTER, BACKOFF_AFTER, account_backoff_secs, backoff_secs};
pub use maintenance::{
    MaintenanceLock, ReadOnlyDb, SchemaStatus, migrate_audited, restore_audited,
};
pub use offline::{VerifyReport, open_readonly, restore, verify};
pub use refresh::RefreshSecrets;
pub use revocation::RevocationSet;
pub use tokens::{AccountVersions, Introspection};

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::clock::{Clock, SecureRandom};
use crate::config::{Config, SessionsConfig, TokensConfig};
use crate::crypto::jwt;
use crate::crypto::master::{self, KdfParams};
use crate::crypto::password::{Argon2Params, Hasher, PoolSize};
use crate::crypto::seal::{self, Aad, MasterKey};
use crate::error::{Error, Result};
use crate::model::{AuditEntry, Outcome};
use crate::store::{Backend, Store, StoreLock};

pub use crate::store::ADMIN_ROLE;

/// The database lock held while a server runs; released when dropped.
#[derive(Debug)]
pub struct ServingLock(#[allow(dead_code)] StoreLock);

/// The audit actor of changes made by the offline tool.
pub const OFFLINE_ACTOR: &str = "mciasdb";

/// The verified identity behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Account id (`sub`).
    pub account_id: String,
    /// Roles from the token.
    pub roles: Vec<String>,
    /// Token id.
    pub jti: String,
    /// Token expiry.
    pub expires_at: i64,
    /// `human` or `system`.
    pub typ: String,
}

impl Principal {
    /// Whether the token carries the admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// Who is calling: the verified principal (if any) and the client address.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The authenticated principal, when a valid token was presented.
    pub principal: Option<Principal>,
    /// The client's address.
    pub peer: Option<String>,
}

impl Caller {
    /// The offline tool (`mciasdb`): acts with admin rights; its audit
    /// events name `mciasdb` as the actor.
    pub fn offline_tool() -> Self {
        Self {
            principal: Some(Principal {
                account_id: OFFLINE_ACTOR.to_owned(),
                roles: vec![ADMIN_ROLE.to_owned()],
                jti: String::new(),
                expires_at: 0,
                typ: "tool".to_owned(),
            }),
            peer: Some("local".to_owned()),
        }
    }

    /// The principal, or UNAUTHENTICATED.
    pub fn principal(&self) -> Result<&Principal> {
        self.principal.as_ref().ok_or_else(Error::bad_token)
    }

    fn actor_id(&self) -> Option<String> {
        self.principal.as_ref().map(|p| p.account_id.clone())
    }

    /// The principal when it is `account_id` itself or an admin.
    pub fn self_or_admin(&self, account_id: &str) -> Result<&Principal> {
        let p = self.principal()?;
        if p.account_id == account_id || p.is_admin() {
            Ok(p)
        } else {
            Err(Error::denied(
                "this operation is allowed only on your own account or for an admin",
            ))
        }
    }
}

/// An issued access token, and the refresh token issued with it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWT.
    pub token: Zeroizing<String>,
    /// Its expiry.
    pub expires_at: i64,
    /// A refresh token and its expiry, for grants that issue one.
    pub refresh: Option<(Zeroizing<String>, i64)>,
}

/// The identity manager: every operation of the product, over the store.
#[derive(Debug)]
pub struct Idm {
    store: Arc<dyn Backend>,
    /// The same database as `store`, for the SQLite maintenance calls of
    /// the offline tool ([`Idm::store`], [`Idm::rekey`]).
    sqlite: Store,
    key: MasterKey,
    rng: Arc<dyn SecureRandom>,
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    keys: Arc<KeyRing>,
    revoked: RevocationSet,
    versions: AccountVersions,
    refresh_secrets: RefreshSecrets,
    expect: jwt::Expect,
    tokens: TokensConfig,
    sessions: SessionsConfig,
}

/// Where the master key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// A keyfile.
    Keyfile(std::path::PathBuf),
    /// A passphrase (already read from the environment).
    Passphrase(Zeroizing<String>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keyfile(p) => write!(f, "Keyfile({})", p.display()),
            Self::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
        }
    }
}

impl KeySource {
    /// The source named by the config; reads the passphrase variable now.
    pub fn from_config(config: &Config) -> Result<Self> {
        if let Some(p) = &config.master_key.keyfile {
            return Ok(Self::Keyfile(p.clone()));
        }
        let var = config
            .master_key
            .passphrase_env
            .as_deref()
            .unwrap_or_default();
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Self::Passphrase(Zeroizing::new(v))),
            _ => Err(Error::invalid(
                "passphrase_env_unset",
                format!(
                    "config key `master_key.passphrase_env` names {var:?}, but that environment variable is unset or empty"
                ),
            )),
        }
    }
}

const KDF_KEY: &str = crate::store::MASTER_KEY_KDF;
const CHECK_KEY: &str = crate::store::MASTER_KEY_CHECK;

fn derive(source: &KeySource, params: &KdfParams) -> Result<MasterKey> {
    match source {
        KeySource::Keyfile(p) => master::read_keyfile(p),
        KeySource::Passphrase(p) => master::derive_from_passphrase(p.as_bytes(), params),
    }
}

/// Derives the master key for a database that already has a check value and
/// verifies it; `None` for a fresh database. Never writes.
pub fn checked_key(
    store: &Store,
    source: &KeySource,
    rng: &dyn SecureRandom,
) -> Result<Option<MasterKey>> {
    let Some(check) = store.config_value(CHECK_KEY)? else {
        return Ok(None);
    };
    let kdf = store.config_value(KDF_KEY)?;
    let params = match (source, kdf) {
        (KeySource::Passphrase(_), Some(k)) => {
            KdfParams::decode(std::str::from_utf8(&k).map_err(|_| Error::internal("kdf params"))?)?
        }
        (KeySource::Passphrase(_), None) => {
            return Err(Error::precondition(
                "wrong_master_key",
                "this database was sealed with a keyfile, not a passphrase; nothing was changed",
            ));
        }
        (KeySource::Keyfile(_), _) => KdfParams::generate(rng),
    };
    let key = derive(source, &params)?;
    master::verify_check(&key, &check)?;
    Ok(Some(key))
}

/// Opens the database at `path` and derives and checks the master key
/// *before* anything can write, so a wrong key leaves the database, its
/// `-wal` and its `-shm` byte for byte as they were — even after a crash
/// left a WAL behind, which a read-write connection would recover and, on
/// closing, checkpoint into the main file. An existing database is opened
/// read-only ([`Store::open_read_only`]) until the key is proven; only then
/// is it opened for writing and migrated. A fresh database gets its schema,
/// KDF salt and check value.
pub fn unlock(
    path: &Path,
    source: &KeySource,
    clock: &dyn Clock,
    rng: &dyn SecureRandom,
) -> Result<(Store, MasterKey)> {
    let proven = if path.is_file() {
        let probe = Store::open_read_only(path)?;
        checked_key(&probe, source, rng)?
    } else {
        None
    };
    let store = Store::open(path)?;
    let key = match proven {
        Some(key) => {
            // The check value again, through the connection that writes
            // (cheap: the key is derived already), in case it changed
            // between the two openings.
            let check = store
                .config_value(CHECK_KEY)?
                .ok_or_else(|| Error::internal("the master key check value vanished"))?;
            master::verify_check(&key, &check)?;
            key
        }
        None => {
            // A fresh database: create the schema, then the salt and check.
            store.migrate(clock.now())?;
            let params = KdfParams::generate(rng);
            let params = if matches!(source, KeySource::Passphrase(_)) {
                let stored = store.init_config_value(KDF_KEY, params.encode().as_bytes())?;
                KdfParams::decode(
                    std::str::from_utf8(&stored).map_err(|_| Error::internal("kdf params"))?,
                )?
            } else {
                params
            };
            let key = derive(source, &params)?;
            let check = master::make_check(&key, rng)?;
            let stored = store.init_config_value(CHECK_KEY, &check)?;
            master::verify_check(&key, &stored)?;
            key
        }
    };
    store.migrate(clock.now())?;
    Ok((store, key))
}

impl Idm {
    /// Opens the database, checks the master key, migrates, loads (or
    /// creates) the signing keys (one Ed25519 and one RSA key at least; an
    /// RSA key is made here for a database without one) and the revocation
    /// set.
    pub async fn open(
        config: &Config,
        source: KeySource,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn SecureRandom>,
        pool: PoolSize,
    ) -> Result<Self> {
        let argon = Argon2Params {
            memory_kib: config.argon2.memory_kib,
            time: config.argon2.time,
            parallelism: config.argon2.parallelism,
        };
        let path = config.database.path.clone();
        let (c2, r2) = (clock.clone(), rng.clone());
        let (sqlite, key, hasher) = tokio::task::spawn_blocking(move || -> Result<_> {
            let (store, key) = unlock(&path, &source, c2.as_ref(), r2.as_ref())?;
            let hasher = Hasher::new(&argon, r2.clone(), pool)?;
            Ok((store, key, hasher))
        })
        .await
        .map_err(|e| Error::internal(format!("start-up task: {e}")))??;
        let store: Arc<dyn Backend> = Arc::new(sqlite.clone());
        let keys =
            KeyRing::load_or_create(store.as_ref(), &key, clock.clone(), rng.clone()).await?;
        let revoked = RevocationSet::default();
        revoked.load(store.live_revocations(clock.now()).await?);
        let versions = AccountVersions::default();
        versions.load(store.token_versions().await?);
        let refresh_secrets =
            RefreshSecrets::load(store.as_ref(), &key, clock.now(), rng.as_ref()).await?;
        Ok(Self {
            expect: jwt::Expect {
                issuer: config.tokens.issuer.clone(),
                audience: config.tokens.audience.clone(),
            },
            tokens: config.tokens.clone(),
            sessions: config.sessions,
            store,
            sqlite,
            key,
            rng,
            clock,
            hasher,
            keys: Arc::new(keys),
            revoked,
            versions,
            refresh_secrets,
        })
    }

    /// The store (for the offline tool and benchmarks; the server uses the
    /// calls below).
    pub fn store(&self) -> &Store {
        &self.sqlite
    }

    /// Takes the database lock for serving: `mciasdb` refuses to write while
    /// it is held, and it is refused while `mciasdb` writes.
    pub fn lock_for_serving(&self) -> Result<ServingLock> {
        self.store.lock().map(ServingLock)
    }

    /// Writes the write-ahead log into the database file (at shutdown).
    pub async fn checkpoint(&self) -> Result<()> {
        self.store.checkpoint().await
    }

    /// Whether an active account holds the `admin` role.
    pub async fn has_active_admin(&self) -> Result<bool> {
        self.store.has_active_admin().await
    }

    /// The current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Password hashing calls running or queued.
    pub fn hash_queue_depth(&self) -> usize {
        self.hasher.depth()
    }

    fn audit(
        &self,
        event_type: &'static str,
        caller: &Caller,
        target_id: Option<&str>,
        outcome: Outcome,
        details: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            occurred_at: self.clock.now(),
            event_type,
            actor_id: caller.actor_id(),
            target_id: target_id.map(str::to_owned),
            peer: caller.peer.clone(),
            outcome,
            details,
        }
    }

    fn seal(&self, aad: Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        seal::seal(&self.key, self.rng.as_ref(), aad, plaintext)
    }

    fn open_sealed(&self, aad: Aad<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        seal::open(&self.key, aad, sealed)
    }

    fn new_id(&self) -> String {
        let bytes: [u8; 16] = crate::clock::random_array(self.rng.as_ref());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// Reports whether the database answers.
    pub async fn healthy(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    /// Deletes token rows and in-memory revocations that expired more than
    /// the JWT leeway ago, and authorization codes and browser sessions
    /// that expired or ended more than a day ago (a code presented again
    /// within that day still revokes what it issued). Returns how many rows
    /// were deleted.
    pub async fn prune(&self) -> Result<usize> {
        let cutoff = self.clock.now() - jwt::LEEWAY_SECS - 1;
        self.revoked.prune(cutoff);
        let n = self.store.prune_tokens(cutoff).await?;
        let n = n + self.store.prune_oidc(cutoff - 86_400).await?;
        Ok(n + self.store.prune_refresh_tokens(cutoff).await?)
    }

    /// Makes sure an active account `username` with the admin role exists.
    /// Returns the generated password when it had to be created.
    pub async fn ensure_admin(&self, username: &str) -> Result<Option<Zeroizing<String>>> {
        if self
            .store
            .account_by_username(username.to_owned())
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let password = Zeroizing::new(crate::crypto::b64url(&crate::clock::random_array::<18>(
            self.rng.as_ref(),
        )));
        let caller = Caller::default();
        self.create_account_inner(
            &caller,
            username,
            crate::model::AccountType::Human,
            Some(password.clone()),
            vec![ADMIN_ROLE.to_owned()],
            "bootstrap",
        )
        .await?;
        Ok(Some(password))
    }
}
