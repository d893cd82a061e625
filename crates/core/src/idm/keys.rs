//! Signing and refresh-token key lifecycles: rotation on request, automatic
//! rotation, and retirement once nothing they signed can still be valid.

use super::Caller;
use super::Idm;
use crate::crypto::jwt;
use crate::error::Error;
use crate::error::Result;
use crate::model::Outcome;
use serde_json::json;

/// What RevokeSigningKey did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedKey {
    /// The key retired.
    pub kid: String,
    /// The key rotated in first, when the revoked key was the active one.
    pub rotated_to: Option<String>,
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

    /// RotateSigningKey: a new key signs from now on; the previous one
    /// verifies until every token it signed has expired.
    pub async fn rotate_signing_key(&self, caller: &Caller) -> Result<String> {
        let verify_for = self.max_token_lifetime();
        let actor = caller.principal.as_ref().map(|p| p.account_id.clone());
        self.keys
            .rotate(
                self.store.as_ref(),
                &self.key,
                self.clock.as_ref(),
                self.rng.as_ref(),
                verify_for,
                actor,
            )
            .await
    }

    /// RevokeSigningKey: retires `kid` at once (a compromised key): tokens it
    /// signed stop validating now and it leaves the JWKS. When `kid` is the
    /// active key a new key is rotated in first, and the answer names it.
    /// NOT_FOUND when no unretired key has that kid.
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
        let known = self.keys.snapshot().jwks().iter().any(|j| j.kid == kid);
        if !known {
            return Err(Error::not_found(&format!("signing key {kid}")));
        }
        let rotated_to = if self.keys.snapshot().signer().1 == kid {
            Some(self.rotate_signing_key(caller).await?)
        } else {
            None
        };
        let audit = self.audit(
            "signing_key_revoke",
            caller,
            Some(kid),
            Outcome::Success,
            json!({ "rotated_to": rotated_to }),
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
    /// and rotate the active one when the configured period has passed.
    pub async fn maintain_keys(&self) -> Result<()> {
        let now = self.clock.now();
        self.keys
            .retire(self.store.as_ref(), &self.key, now)
            .await?;
        if let Some(period) = self.tokens.signing_key_rotation
            && now.saturating_sub(self.keys.snapshot().active_since()) >= period.secs_i64()
        {
            self.rotate_signing_key(&Caller::default()).await?;
        }
        Ok(())
    }
}
