//! Signing and refresh-token key lifecycles: rotation on request, automatic
//! rotation, and retirement once nothing they signed can still be valid.

use super::Caller;
use super::Idm;
use crate::crypto::jwt;
use crate::error::Result;

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
