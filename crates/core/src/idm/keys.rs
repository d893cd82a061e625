//! Signing and refresh-token key lifecycles: rotation on request (both
//! signing algorithms, with a lead time before a new key signs), automatic
//! rotation, revocation, and retirement once nothing they signed can still
//! be valid.

use super::Caller;
use super::Idm;
use super::keyring::{Keys, Rotation};
use crate::crypto::jwt;
use crate::error::Error;
use crate::error::Result;
use crate::model::{Outcome, SigningAlg};
use serde_json::json;
use std::sync::Arc;

/// What RevokeSigningKey did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedKey {
    /// The key retired.
    pub kid: String,
    /// The key rotated in first, when the revoked key was the active one.
    pub rotated_to: Option<String>,
}

/// The keys a rotation made, one per algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedKeys {
    /// The new Ed25519 (`EdDSA`) key.
    pub eddsa: String,
    /// The new RSA (`RS256`) key.
    pub rs256: String,
}

impl Idm {
    /// The longest lifetime of any access token: how long a superseded
    /// signing key must keep verifying.
    pub(super) fn max_token_lifetime(&self) -> i64 {
        self.tokens
            .access_ttl
            .secs_i64()
            .max(self.tokens.service_token_ttl.secs_i64())
            .saturating_add(jwt::LEEWAY_SECS)
    }

    /// RotateSigningKey: a new key of each algorithm (Ed25519 and RSA, each
    /// with its own kid) is published in the JWKS now and signs from
    /// `tokens.signing_key_lead` on; until then the previous keys sign. The
    /// previous keys verify until every token they may have signed has
    /// expired. Answers the new Ed25519 key's kid (the one access tokens
    /// name); [`Idm::rotate_signing_keys`] answers both.
    pub async fn rotate_signing_key(&self, caller: &Caller) -> Result<String> {
        Ok(self.rotate_signing_keys(caller).await?.eddsa)
    }

    /// RotateSigningKey, naming both new keys.
    pub async fn rotate_signing_keys(&self, caller: &Caller) -> Result<RotatedKeys> {
        let mut kids = self
            .rotate_algs(
                caller,
                &SigningAlg::ALL,
                self.tokens.signing_key_lead.secs_i64(),
            )
            .await?
            .into_iter();
        match (kids.next(), kids.next()) {
            (Some(eddsa), Some(rs256)) => Ok(RotatedKeys { eddsa, rs256 }),
            _ => Err(Error::internal(
                "a rotation made fewer keys than algorithms",
            )),
        }
    }

    async fn rotate_algs(
        &self,
        caller: &Caller,
        algs: &[SigningAlg],
        lead: i64,
    ) -> Result<Vec<String>> {
        let actor = caller.principal.as_ref().map(|p| p.account_id.clone());
        self.keys
            .rotate(
                self.store.as_ref(),
                &self.key,
                self.rng.clone(),
                algs,
                Rotation {
                    lead,
                    verify_for: self.max_token_lifetime(),
                },
                actor,
            )
            .await
    }

    /// The keys, as loaded now: signing and verifying JWTs of either
    /// algorithm ([`Keys::sign_jwt`], [`Keys::verify_jwt`]) and the JWKS.
    pub fn signing_keys(&self) -> Arc<Keys> {
        self.keys.snapshot()
    }

    /// RevokeSigningKey: retires `kid`, of either algorithm, at once (a
    /// compromised key): tokens it signed stop validating now and it leaves
    /// the JWKS. When `kid` is the active key of its algorithm, or the one
    /// that signs it now (a rotation's new key not yet signing), a new key
    /// of that algorithm is rotated in first, signing at once, and the
    /// answer names it. NOT_FOUND when no unretired key has that kid.
    pub async fn revoke_signing_key(&self, caller: &Caller, kid: &str) -> Result<RevokedKey> {
        if !caller.principal()?.is_admin() {
            return Err(Error::denied(
                "revoking a signing key requires the admin role",
            ));
        }
        if kid.is_empty() || kid.len() > 64 {
            return Err(Error::invalid(
                "invalid_kid",
                "kid must be 1 to 64 characters",
            ));
        }
        let Some((alg, replace)) = self.keys.snapshot().role_of(kid) else {
            return Err(Error::not_found(&format!("signing key {kid}")));
        };
        let rotated_to = if replace {
            self.rotate_algs(caller, &[alg], 0).await?.pop()
        } else {
            None
        };
        let audit = self.audit(
            "signing_key_revoke",
            caller,
            Some(kid),
            Outcome::Success,
            json!({ "alg": alg.as_str(), "rotated_to": rotated_to }),
        );
        let revoked = self
            .keys
            .revoke(self.store.as_ref(), &self.key, kid, self.clock.now(), audit)
            .await?;
        if !revoked {
            return Err(Error::not_found(&format!("signing key {kid}")));
        }
        Ok(RevokedKey {
            kid: kid.to_owned(),
            rotated_to,
        })
    }

    /// RotateRefreshKey: a new secret protects new refresh tokens.
    pub async fn rotate_refresh_key(&self, caller: &Caller) -> Result<String> {
        let actor = caller.principal.as_ref().map(|p| p.account_id.clone());
        self.refresh_secrets
            .create(
                self.store.as_ref(),
                &self.key,
                self.clock.now(),
                self.rng.as_ref(),
                actor,
            )
            .await
    }

    /// Key housekeeping: retire superseded signing keys whose period is over,
    /// and rotate the keys of both algorithms when the configured period has
    /// passed since the older active key started signing.
    pub async fn maintain_keys(&self) -> Result<()> {
        let now = self.clock.now();
        self.keys
            .retire(self.store.as_ref(), &self.key, now)
            .await?;
        if let Some(period) = self.tokens.signing_key_rotation
            && now.saturating_sub(self.keys.snapshot().active_since()) >= period.secs_i64()
        {
            self.rotate_signing_keys(&Caller::default()).await?;
        }
        Ok(())
    }

    /// The published signing keys (never their private parts), newest first,
    /// and whether each is the key of its algorithm that signs now.
    pub async fn signing_key_list(&self) -> Result<Vec<(crate::model::SigningKeyRecord, bool)>> {
        let keys = self.signing_keys();
        let now = self.clock.now();
        let mut out = Vec::new();
        for mut r in self.store.signing_keys().await? {
            if r.retire_after.is_some_and(|t| t < now) {
                continue;
            }
            r.private_key_sealed = Vec::new();
            let signing = keys.signing_kid(r.alg) == Some(r.kid.as_str());
            out.push((r, signing));
        }
        Ok(out)
    }
}
