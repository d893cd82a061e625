//! Signing keys: the active Ed25519 key signs, every unretired key verifies.
//! Keys are parsed once at start-up, not per call.

use std::collections::HashMap;

use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::clock::{Clock, SecureRandom};
use crate::crypto::keys::{self, Jwk};
use crate::crypto::seal::{self, Aad, MasterKey};
use crate::error::{Error, Result};
use crate::store::{AuditEntry, Outcome, SigningKeyRecord, Store};

/// The loaded keys.
pub struct KeyRing {
    active_kid: String,
    active: SigningKey,
    verify: HashMap<String, VerifyingKey>,
    jwks: Vec<Jwk>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active_kid", &self.active_kid)
            .field("keys", &self.verify.len())
            .finish()
    }
}

fn aad(kid: &str) -> Aad<'_> {
    Aad::new("signing_keys", "private_key_sealed", kid)
}

impl KeyRing {
    /// Loads the stored keys, generating and storing the first one when none
    /// exists.
    pub fn load_or_create(
        store: &Store,
        master: &MasterKey,
        clock: &dyn Clock,
        rng: &dyn SecureRandom,
    ) -> Result<Self> {
        let mut records = store.signing_keys_blocking()?;
        if !records.iter().any(|r| r.active) {
            let key = keys::generate(rng);
            let kid = keys::thumbprint(&key.verifying_key());
            let sealed = seal::seal(master, rng, aad(&kid), key.as_bytes())?;
            let rec = SigningKeyRecord {
                kid: kid.clone(),
                public_key: key.verifying_key().as_bytes().to_vec(),
                private_key_sealed: sealed,
                created_at: clock.now(),
                active: true,
            };
            store.insert_signing_key_blocking(
                rec,
                AuditEntry {
                    occurred_at: clock.now(),
                    event_type: "signing_key_create",
                    actor_id: None,
                    target_id: Some(kid.clone()),
                    peer: None,
                    outcome: Outcome::Success,
                    details: serde_json::json!({}),
                },
            )?;
            tracing::info!(kid = %kid, "generated a new Ed25519 signing key");
            records = store.signing_keys_blocking()?;
        }
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
                let seed: Zeroizing<Vec<u8>> =
                    seal::open(master, aad(&r.kid), &r.private_key_sealed)?;
                let sk = keys::from_seed(&seed)?;
                if sk.verifying_key() != public {
                    return Err(Error::internal(format!(
                        "signing key {} private/public mismatch",
                        r.kid
                    )));
                }
                active = Some((r.kid.clone(), sk));
            }
            jwks.push(keys::jwk(&public));
            verify.insert(r.kid.clone(), public);
        }
        let (active_kid, active) =
            active.ok_or_else(|| Error::internal("no active signing key after start-up"))?;
        Ok(Self {
            active_kid,
            active,
            verify,
            jwks,
        })
    }

    /// The key that signs new tokens and its kid.
    pub fn signer(&self) -> (&SigningKey, &str) {
        (&self.active, &self.active_kid)
    }

    /// Every key that verifies tokens.
    pub fn verifiers(&self) -> &HashMap<String, VerifyingKey> {
        &self.verify
    }

    /// The public keys as JWKs.
    pub fn jwks(&self) -> &[Jwk] {
        &self.jwks
    }
}
