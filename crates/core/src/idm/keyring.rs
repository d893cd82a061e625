//! Signing keys, one lineage per algorithm: Ed25519 (`EdDSA`, access tokens
//! and anything else) and RSA (`RS256`, OpenID Connect ID tokens). Keys are
//! parsed once (at start and after every change), not per call, and swapped
//! atomically.
//!
//! Each key has a time from which it signs (`active_from`). A rotated key
//! is published in the JWKS at once but signs only from its creation plus
//! `tokens.signing_key_lead`; the key that signs an algorithm at an instant
//! is chosen per call: the newest key of that algorithm whose `active_from`
//! has come. So a key takes over when its time comes, without a reload.
//! A superseded key verifies until its `retire_after` (past the last token
//! it can have signed), then is retired.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

use crate::clock::{Clock, SecureRandom};
use crate::crypto::jwt::{self, AnyKeyLookup, JwtError, KeyLookup, PrivateKey, PublicKey};
use crate::crypto::keys::{self, Jwk};
use crate::crypto::rsa::{self, RsaPublicKey, RsaSigningKey};
use crate::crypto::seal::{self, Aad, MasterKey};
use crate::error::{Error, Result};
use crate::model::{AuditEntry, Outcome, SigningAlg, SigningKeyRecord};
use crate::store::Backend;

/// One stored key, parsed.
struct Entry {
    kid: String,
    alg: SigningAlg,
    public: PublicKey,
    /// The newest key of its algorithm.
    active: bool,
    active_from: i64,
    retire_after: Option<i64>,
    /// The private key, for the keys that sign now or may sign later (the
    /// one that signed at load time and every newer one of its algorithm).
    private: Option<PrivateKey>,
}

impl Entry {
    /// Whether it may verify at `now`: it has started signing and, when
    /// superseded, its period is not over.
    fn verifies_at(&self, now: i64) -> bool {
        self.active_from <= now && self.retire_after.is_none_or(|until| now <= until)
    }
}

/// One loaded generation of keys.
pub struct Keys {
    /// Every unretired key, newest first (the store's order).
    entries: Vec<Entry>,
    jwks: Vec<Jwk>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field(
                "keys",
                &self
                    .entries
                    .iter()
                    .map(|e| (e.alg.as_str(), e.kid.as_str(), e.active_from))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keys {
    /// The entry that signs `alg` at `now`: the newest key of that algorithm
    /// whose time has come. Should the clock stand before every loaded
    /// signer's time (it went back), the oldest of them.
    fn signing_entry(&self, alg: SigningAlg, now: i64) -> Option<&Entry> {
        let mut signers = self
            .entries
            .iter()
            .filter(|e| e.alg == alg && e.private.is_some());
        let first = signers.clone().find(|e| e.active_from <= now);
        first.or_else(|| signers.next_back())
    }

    fn signer(&self, alg: SigningAlg) -> Result<(&PrivateKey, &str)> {
        let entry = self
            .signing_entry(alg, self.clock.now())
            .ok_or_else(|| Error::internal(format!("no {} signing key", alg.as_str())))?;
        let key = entry
            .private
            .as_ref()
            .ok_or_else(|| Error::internal("signing key without its private part"))?;
        Ok((key, &entry.kid))
    }

    /// The kid of the key that signs `alg` now.
    pub fn signing_kid(&self, alg: SigningAlg) -> Option<&str> {
        self.signing_entry(alg, self.clock.now())
            .map(|e| e.kid.as_str())
    }

    /// Signs an access token with the Ed25519 key that signs now.
    pub fn sign_access_token(&self, claims: &jwt::Claims) -> Result<String> {
        match self.signer(SigningAlg::EdDsa)? {
            (PrivateKey::EdDsa(key), kid) => Ok(jwt::sign(claims, key, kid)),
            _ => Err(Error::internal("the EdDSA signer is not an Ed25519 key")),
        }
    }

    /// Signs `claims` as a JWT with the key of `alg` that signs now; the
    /// header is `{alg, typ, kid}`.
    pub fn sign_jwt(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &serde_json::Value,
    ) -> Result<String> {
        let (key, kid) = self.signer(alg)?;
        jwt::sign_json(claims, key, kid, typ)
    }

    /// Verifies a JWT signed by one of our keys, strictly: size, structure,
    /// `alg` `EdDSA` or `RS256` and the algorithm of the key `kid` names, no
    /// `crit`, the signature by a key that may verify at `now`. Returns the
    /// claims without checking any (`exp`, `iss`, `aud` are the caller's):
    /// for `id_token_hint` and the like, not for access tokens.
    pub fn verify_jwt(
        &self,
        token: &str,
        now: i64,
    ) -> std::result::Result<serde_json::Map<String, serde_json::Value>, JwtError> {
        jwt::verify_signature(token, &self.at(now))
    }

    /// The public keys as JWKs, newest first: every unretired key, so every
    /// key that may verify and those published ahead of their activation.
    pub fn jwks(&self) -> &[Jwk] {
        &self.jwks
    }

    /// The algorithm of `kid` and whether it is the active (newest) key of
    /// that algorithm or the one that signs now, i.e. whether retiring it
    /// needs a replacement; `None` for no unretired key.
    pub(super) fn role_of(&self, kid: &str) -> Option<(SigningAlg, bool)> {
        let e = self.entries.iter().find(|e| e.kid == kid)?;
        let signs = self.signing_kid(e.alg) == Some(kid);
        Some((e.alg, e.active || signs))
    }

    /// When the newest keys start (or started) signing: the earliest of
    /// the algorithms', for automatic rotation.
    pub fn active_since(&self) -> i64 {
        self.entries
            .iter()
            .filter(|e| e.active)
            .map(|e| e.active_from)
            .min()
            .unwrap_or(i64::MIN)
    }

    /// A view that verifies with the keys valid at `now`: as a
    /// [`KeyLookup`] the Ed25519 keys only (access tokens), as an
    /// [`AnyKeyLookup`] every key.
    pub fn at(&self, now: i64) -> At<'_> {
        At { keys: self, now }
    }
}

/// Keys as they may verify at one instant.
pub struct At<'a> {
    keys: &'a Keys,
    now: i64,
}

impl At<'_> {
    fn entry(&self, kid: &str) -> Option<&Entry> {
        self.keys
            .entries
            .iter()
            .find(|e| e.kid == kid && e.verifies_at(self.now))
    }
}

impl KeyLookup for At<'_> {
    fn key(&self, kid: &str) -> Option<ed25519_dalek::VerifyingKey> {
        match self.entry(kid)?.public {
            PublicKey::EdDsa(k) => Some(k),
            PublicKey::Rs256(_) => None,
        }
    }
}

impl AnyKeyLookup for At<'_> {
    fn public_key(&self, kid: &str) -> Option<&PublicKey> {
        self.entry(kid).map(|e| &e.public)
    }
}

/// The loaded keys, swappable on rotation.
pub struct KeyRing {
    current: RwLock<Arc<Keys>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = self.snapshot();
        f.debug_struct("KeyRing")
            .field("signing_eddsa", &k.signing_kid(SigningAlg::EdDsa))
            .field("signing_rs256", &k.signing_kid(SigningAlg::Rs256))
            .field("keys", &k.entries.len())
            .finish()
    }
}

fn aad(kid: &str) -> Aad<'_> {
    Aad::new("signing_keys", "private_key_sealed", kid)
}

fn parse_public(r: &SigningKeyRecord) -> Result<PublicKey> {
    let public = match r.alg {
        SigningAlg::EdDsa => PublicKey::EdDsa(keys::public_from_bytes(&r.public_key)?),
        SigningAlg::Rs256 => PublicKey::Rs256(RsaPublicKey::from_pkcs1_der(&r.public_key)?),
    };
    if public.thumbprint() != r.kid {
        return Err(Error::internal(format!(
            "signing key {} does not match its kid",
            r.kid
        )));
    }
    Ok(public)
}

fn open_private(
    master: &MasterKey,
    r: &SigningKeyRecord,
    public: &PublicKey,
) -> Result<PrivateKey> {
    let der: Zeroizing<Vec<u8>> = seal::open(master, aad(&r.kid), &r.private_key_sealed)?;
    let private = match r.alg {
        SigningAlg::EdDsa => PrivateKey::EdDsa(keys::from_seed(&der)?),
        SigningAlg::Rs256 => PrivateKey::Rs256(RsaSigningKey::from_pkcs8(&der)?),
    };
    if private.public() != *public {
        return Err(Error::internal(format!(
            "signing key {} private/public mismatch",
            r.kid
        )));
    }
    Ok(private)
}

async fn load(store: &dyn Backend, master: &MasterKey, clock: Arc<dyn Clock>) -> Result<Keys> {
    let records = store.signing_keys().await?;
    let now = clock.now();
    // Newest first: the private keys of every key down to (and including)
    // the one that signs now; older ones never sign again.
    let mut settled: HashSet<SigningAlg> = HashSet::new();
    let mut entries = Vec::with_capacity(records.len());
    for r in &records {
        let public = parse_public(r)?;
        let private = if settled.contains(&r.alg) {
            None
        } else {
            if r.active_from <= now {
                settled.insert(r.alg);
            }
            Some(open_private(master, r, &public)?)
        };
        entries.push(Entry {
            kid: r.kid.clone(),
            alg: r.alg,
            public,
            active: r.active,
            active_from: r.active_from,
            retire_after: if r.active { None } else { r.retire_after },
            private,
        });
    }
    for alg in SigningAlg::ALL {
        if !entries.iter().any(|e| e.alg == alg && e.active) {
            return Err(Error::internal(format!(
                "no active {} signing key",
                alg.as_str()
            )));
        }
    }
    let jwks = entries.iter().map(|e| e.public.jwk()).collect();
    Ok(Keys {
        entries,
        jwks,
        clock,
    })
}

/// A new key of `alg`, made (the slow RSA prime search off the async
/// workers) but not stored yet.
struct NewKey {
    alg: SigningAlg,
    kid: String,
    public_key: Vec<u8>,
    private: Zeroizing<Vec<u8>>,
}

async fn generate(alg: SigningAlg, rng: Arc<dyn SecureRandom>) -> Result<NewKey> {
    match alg {
        SigningAlg::EdDsa => {
            let key = keys::generate(rng.as_ref());
            Ok(NewKey {
                alg,
                kid: keys::thumbprint(&key.verifying_key()),
                public_key: key.verifying_key().as_bytes().to_vec(),
                private: Zeroizing::new(key.as_bytes().to_vec()),
            })
        }
        SigningAlg::Rs256 => {
            let der = tokio::task::spawn_blocking(move || rsa::generate(rng.as_ref()))
                .await
                .map_err(|e| Error::internal(format!("RSA key generation task: {e}")))??;
            let key = RsaSigningKey::from_pkcs8(&der)?;
            Ok(NewKey {
                alg,
                kid: key.public().thumbprint(),
                public_key: key.public().to_pkcs1_der().to_vec(),
                private: der,
            })
        }
    }
}

/// When a new key starts signing and until when the key it supersedes
/// verifies.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    active_from: i64,
    retire_previous_after: i64,
}

async fn store_key(
    store: &dyn Backend,
    master: &MasterKey,
    clock: &dyn Clock,
    rng: &dyn SecureRandom,
    key: NewKey,
    when: Schedule,
    actor: Option<String>,
) -> Result<String> {
    let now = clock.now();
    let sealed = seal::seal(master, rng, aad(&key.kid), &key.private)?;
    let rec = SigningKeyRecord {
        kid: key.kid.clone(),
        alg: key.alg,
        public_key: key.public_key,
        private_key_sealed: sealed,
        created_at: now,
        active: true,
        active_from: when.active_from,
        retire_after: None,
    };
    store
        .insert_signing_key(
            rec,
            when.retire_previous_after,
            AuditEntry {
                occurred_at: now,
                event_type: "signing_key_create",
                actor_id: actor,
                target_id: Some(key.kid.clone()),
                peer: None,
                outcome: Outcome::Success,
                details: serde_json::json!({
                    "alg": key.alg.as_str(),
                    "active_from": when.active_from,
                    "previous_verifies_until": when.retire_previous_after,
                }),
            },
        )
        .await?;
    if when.active_from <= now {
        tracing::info!(kid = %key.kid, alg = key.alg.as_str(), "new signing key is active");
    } else {
        tracing::info!(
            kid = %key.kid,
            alg = key.alg.as_str(),
            active_from = when.active_from,
            "new signing key is published; it signs from active_from"
        );
    }
    Ok(key.kid)
}

/// How a rotation schedules the new keys.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// Seconds between publication and the first signature (0: at once).
    pub lead: i64,
    /// Seconds the superseded key keeps verifying after the new one takes
    /// over: the longest lifetime of a token it may have signed.
    pub verify_for: i64,
}

impl KeyRing {
    /// Loads the stored keys, generating the first key of each algorithm
    /// when there is none (a new database, or one made before RSA keys):
    /// such a key signs at once.
    pub async fn load_or_create(
        store: &dyn Backend,
        master: &MasterKey,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn SecureRandom>,
    ) -> Result<Self> {
        let records = store.signing_keys().await?;
        for alg in SigningAlg::ALL {
            if !records.iter().any(|r| r.alg == alg && r.active) {
                let key = generate(alg, rng.clone()).await?;
                let now = clock.now();
                let when = Schedule {
                    active_from: now,
                    retire_previous_after: now,
                };
                store_key(store, master, clock.as_ref(), rng.as_ref(), key, when, None).await?;
            }
        }
        Ok(Self {
            current: RwLock::new(Arc::new(load(store, master, clock.clone()).await?)),
            clock,
        })
    }

    /// The current keys.
    pub fn snapshot(&self) -> Arc<Keys> {
        match self.current.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, keys: Keys) {
        match self.current.write() {
            Ok(mut k) => *k = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
    }

    async fn reload(&self, store: &dyn Backend, master: &MasterKey) -> Result<()> {
        self.replace(load(store, master, self.clock.clone()).await?);
        Ok(())
    }

    /// Makes a new key of each of `algs` the active one: published now,
    /// signing from `now + lead`; until then the key before it signs, and
    /// it verifies until `verify_for` after that. Both keys are made before
    /// either is stored. The kids, in the order of `algs`.
    pub async fn rotate(
        &self,
        store: &dyn Backend,
        master: &MasterKey,
        rng: Arc<dyn SecureRandom>,
        algs: &[SigningAlg],
        rotation: Rotation,
        actor: Option<String>,
    ) -> Result<Vec<String>> {
        let mut made = Vec::with_capacity(algs.len());
        for alg in algs {
            made.push(generate(*alg, rng.clone()).await?);
        }
        let now = self.clock.now();
        let active_from = now.saturating_add(rotation.lead.max(0));
        let when = Schedule {
            active_from,
            retire_previous_after: active_from.saturating_add(rotation.verify_for),
        };
        let mut kids = Vec::with_capacity(made.len());
        let mut stored = Ok(());
        for key in made {
            match store_key(
                store,
                master,
                self.clock.as_ref(),
                rng.as_ref(),
                key,
                when,
                actor.clone(),
            )
            .await
            {
                Ok(kid) => kids.push(kid),
                Err(e) => {
                    stored = Err(e);
                    break;
                }
            }
        }
        // Whatever was stored is loaded, even when a later key failed.
        self.reload(store, master).await?;
        stored.map(|()| kids)
    }

    /// Retires the superseded key `kid` at once; false when it is not an
    /// inactive, unretired key.
    pub async fn revoke(
        &self,
        store: &dyn Backend,
        master: &MasterKey,
        kid: &str,
        now: i64,
        audit: AuditEntry,
    ) -> Result<bool> {
        if !store.revoke_signing_key(kid.to_owned(), now, audit).await? {
            return Ok(false);
        }
        tracing::warn!(kid = %kid, "signing key revoked");
        self.reload(store, master).await?;
        Ok(true)
    }

    /// Retires superseded keys whose period is over.
    pub async fn retire(
        &self,
        store: &dyn Backend,
        master: &MasterKey,
        now: i64,
    ) -> Result<Vec<String>> {
        let retired = store.retire_signing_keys(now).await?;
        if !retired.is_empty() {
            tracing::info!(kids = ?retired, "retired signing keys");
            self.reload(store, master).await?;
        }
        Ok(retired)
    }
}
