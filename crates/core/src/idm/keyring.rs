//! Signing keys: the active Ed25519 key signs; every unretired key verifies
//! until its `retire_after`. Keys are parsed once (at start and on rotation),
//! not per call, and swapped atomically.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::clock::{Clock, SecureRandom};
use crate::crypto::jwt::KeyLookup;
use crate::crypto::keys::{self, Jwk};
use crate::crypto::seal::{self, Aad, MasterKey};
use crate::error::{Error, Result};
use crate::model::{AuditEntry, Outcome, SigningKeyRecord};
use crate::store::Backend;

/// One loaded generation of keys.
pub struct Keys {
    active_kid: String,
    active: SigningKey,
    verify: HashMap<String, (VerifyingKey, Option<i64>)>,
    jwks: Vec<Jwk>,
    active_since: i64,
}

impl Keys {
    /// The key that signs new tokens and its kid.
    pub fn signer(&self) -> (&SigningKey, &str) {
        (&self.active, &self.active_kid)
    }

    /// The public keys as JWKs (active first).
    pub fn jwks(&self) -> &[Jwk] {
        &self.jwks
    }

    /// When the active key started signing.
    pub fn active_since(&self) -> i64 {
        self.active_since
    }

    /// A view that verifies with the keys valid at `now`.
    pub fn at(&self, now: i64) -> At<'_> {
        At { keys: self, now }
    }
}

/// Keys as they may verify at one instant.
pub struct At<'a> {
    keys: &'a Keys,
    now: i64,
}

impl KeyLookup for At<'_> {
    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        match self.keys.verify.get(kid) {
            Some((k, None)) => Some(*k),
            Some((k, Some(until))) if self.now <= *until => Some(*k),
            _ => None,
        }
    }
}

/// The loaded keys, swappable on rotation.
pub struct KeyRing {
    current: RwLock<Arc<Keys>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = self.snapshot();
        f.debug_struct("KeyRing")
            .field("active_kid", &k.active_kid)
            .field("keys", &k.verify.len())
            .finish()
    }
}

fn aad(kid: &str) -> Aad<'_> {
    Aad::new("signing_keys", "private_key_sealed", kid)
}

async fn load(store: &dyn Backend, master: &MasterKey) -> Result<Keys> {
    let records = store.signing_keys().await?;
    let mut verify = HashMap::new();
    let mut jwks = Vec::new();
    let mut active = None;
    for r in &records {
        let public = keys::public_from_bytes(&r.public_key)?;
        if keys::thumbprint(&public) != r.kid {
            return Err(Error::internal(format!(
                "signing key {} does not match its kid",
                r.kid
            )));
        }
        if r.active {
            let seed: Zeroizing<Vec<u8>> = seal::open(master, aad(&r.kid), &r.private_key_sealed)?;
            let sk = keys::from_seed(&seed)?;
            if sk.verifying_key() != public {
                return Err(Error::internal(format!(
                    "signing key {} private/public mismatch",
                    r.kid
                )));
            }
            active = Some((r.kid.clone(), sk, r.created_at));
            jwks.insert(0, keys::jwk(&public));
        } else {
            jwks.push(keys::jwk(&public));
        }
        verify.insert(
            r.kid.clone(),
            (public, if r.active { None } else { r.retire_after }),
        );
    }
    let (active_kid, active, active_since) =
        active.ok_or_else(|| Error::internal("no active signing key"))?;
    Ok(Keys {
        active_kid,
        active,
        verify,
        jwks,
        active_since,
    })
}

async fn create(
    store: &dyn Backend,
    master: &MasterKey,
    clock: &dyn Clock,
    rng: &dyn SecureRandom,
    retire_previous_after: i64,
    actor: Option<String>,
) -> Result<String> {
    let key = keys::generate(rng);
    let kid = keys::thumbprint(&key.verifying_key());
    let sealed = seal::seal(master, rng, aad(&kid), key.as_bytes())?;
    let rec = SigningKeyRecord {
        kid: kid.clone(),
        public_key: key.verifying_key().as_bytes().to_vec(),
        private_key_sealed: sealed,
        created_at: clock.now(),
        active: true,
        retire_after: None,
    };
    store
        .insert_signing_key(
            rec,
            retire_previous_after,
            AuditEntry {
                occurred_at: clock.now(),
                event_type: "signing_key_create",
                actor_id: actor,
                target_id: Some(kid.clone()),
                peer: None,
                outcome: Outcome::Success,
                details: serde_json::json!({ "previous_verifies_until": retire_previous_after }),
            },
        )
        .await?;
    tracing::info!(kid = %kid, "new Ed25519 signing key is active");
    Ok(kid)
}

impl KeyRing {
    /// Loads the stored keys, generating the first one when none exists.
    pub async fn load_or_create(
        store: &dyn Backend,
        master: &MasterKey,
        clock: &dyn Clock,
        rng: &dyn SecureRandom,
    ) -> Result<Self> {
        if !store.signing_keys().await?.iter().any(|r| r.active) {
            create(store, master, clock, rng, clock.now(), None).await?;
        }
        Ok(Self {
            current: RwLock::new(Arc::new(load(store, master).await?)),
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

    /// Makes a new key active; the previous one verifies until
    /// `now + verify_for`.
    pub async fn rotate(
        &self,
        store: &dyn Backend,
        master: &MasterKey,
        clock: &dyn Clock,
        rng: &dyn SecureRandom,
        verify_for: i64,
        actor: Option<String>,
    ) -> Result<String> {
        let kid = create(
            store,
            master,
            clock,
            rng,
            clock.now().saturating_add(verify_for),
            actor,
        )
        .await?;
        self.replace(load(store, master).await?);
        Ok(kid)
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
        self.replace(load(store, master).await?);
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
            self.replace(load(store, master).await?);
        }
        Ok(retired)
    }
}
