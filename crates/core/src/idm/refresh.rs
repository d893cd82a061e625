//! Refresh tokens: the HMAC secrets they are stored under, minting a family,
//! and rotation with grace replay and reuse detection.

use super::Caller;
use super::Idm;
use super::IssuedToken;
use crate::crypto::seal;
use crate::crypto::seal::Aad;
use crate::crypto::seal::MasterKey;
use crate::error::Error;
use crate::error::Result;
use crate::model::AccountStatus;
use crate::model::AccountType;
use crate::model::AuditEntry;
use crate::model::Outcome;
use crate::model::RefreshKeyRecord;
use crate::model::TokenKind;
use crate::model::{AccountRecord, ClientRecord, OAuthGrant};
use crate::store::Backend;
use crate::store::NewRefresh;
use crate::store::RefreshOutcome;
use hmac::Hmac;
use hmac::Mac;
use serde_json::json;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::RwLock;
use zeroize::Zeroizing;

/// Bytes of randomness in a refresh token or client secret.
pub(super) const TOKEN_BYTES: usize = 32;

/// The active secret's id, and every secret by id.
type SecretTable = (String, HashMap<String, Zeroizing<[u8; 32]>>);

/// The HMAC secrets refresh tokens are stored under; the active one makes
/// new tokens, every one verifies.
#[derive(Default)]
pub struct RefreshSecrets(RwLock<SecretTable>);

impl std::fmt::Debug for RefreshSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshSecrets(<redacted>)")
    }
}

pub(super) fn refresh_key_aad(id: &str) -> Aad<'_> {
    Aad::new("refresh_keys", "secret_sealed", id)
}

pub(super) fn successor_aad(predecessor_hash: &str) -> Aad<'_> {
    Aad::new("refresh_tokens", "successor_sealed", predecessor_hash)
}

impl RefreshSecrets {
    /// Loads the stored secrets (creating the first one when none exists).
    pub async fn load(
        store: &dyn Backend,
        master: &MasterKey,
        now: i64,
        rng: &dyn crate::clock::SecureRandom,
    ) -> Result<Self> {
        let this = Self::default();
        if store.refresh_keys().await?.is_empty() {
            this.create(store, master, now, rng, None).await?;
        } else {
            this.reload(store, master).await?;
        }
        Ok(this)
    }

    pub(super) async fn reload(&self, store: &dyn Backend, master: &MasterKey) -> Result<()> {
        let mut map = HashMap::new();
        let mut active = String::new();
        for rec in store.refresh_keys().await? {
            let secret = seal::open(master, refresh_key_aad(&rec.id), &rec.secret_sealed)?;
            let arr: [u8; 32] = secret
                .as_slice()
                .try_into()
                .map_err(|_| Error::internal("stored refresh secret has the wrong length"))?;
            if rec.active {
                active = rec.id.clone();
            }
            map.insert(rec.id, Zeroizing::new(arr));
        }
        if active.is_empty() {
            return Err(Error::internal("no active refresh secret"));
        }
        if let Ok(mut g) = self.0.write() {
            *g = (active, map);
        }
        Ok(())
    }

    pub(super) async fn create(
        &self,
        store: &dyn Backend,
        master: &MasterKey,
        now: i64,
        rng: &dyn crate::clock::SecureRandom,
        actor: Option<String>,
    ) -> Result<String> {
        let id = data_encoding::HEXLOWER.encode(&crate::clock::random_array::<4>(rng));
        let secret = Zeroizing::new(crate::clock::random_array::<32>(rng));
        let sealed = seal::seal(master, rng, refresh_key_aad(&id), secret.as_ref())?;
        store
            .insert_refresh_key(
                RefreshKeyRecord {
                    id: id.clone(),
                    secret_sealed: sealed,
                    created_at: now,
                    active: true,
                },
                AuditEntry {
                    occurred_at: now,
                    event_type: "refresh_key_create",
                    actor_id: actor,
                    target_id: Some(id.clone()),
                    peer: None,
                    outcome: Outcome::Success,
                    details: json!({}),
                },
            )
            .await?;
        self.reload(store, master).await?;
        Ok(id)
    }

    /// The HMAC (hex) of a token value under the secret its prefix names.
    pub fn hash(&self, token: &str) -> Option<String> {
        let (key_id, _) = token.split_once('.')?;
        let guard = self.0.read().ok()?;
        let secret = guard.1.get(key_id)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_ref()).ok()?;
        mac.update(token.as_bytes());
        Some(data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()))
    }

    /// A fresh token value under the active secret, with its hash and key id.
    pub(super) fn mint(
        &self,
        rng: &dyn crate::clock::SecureRandom,
    ) -> Option<(Zeroizing<String>, String, String)> {
        let active = self.0.read().ok()?.0.clone();
        let random = Zeroizing::new(crate::clock::random_array::<TOKEN_BYTES>(rng));
        let token = Zeroizing::new(format!(
            "{active}.{}",
            crate::crypto::b64url(random.as_ref())
        ));
        let hash = self.hash(&token)?;
        Some((token, hash, active))
    }
}

impl Idm {
    /// A new refresh token for `account_id` in `family`.
    pub(super) fn new_refresh(
        &self,
        account_id: &str,
        family: &str,
        version: i64,
        seal_for: Option<&str>,
    ) -> Result<(Zeroizing<String>, NewRefresh)> {
        let (token, hash, key_id) = self
            .refresh_secrets
            .mint(self.rng.as_ref())
            .ok_or_else(|| Error::internal("refresh secrets unavailable"))?;
        let now = self.clock.now();
        let sealed = match seal_for {
            Some(pred) if self.tokens.refresh_grace.secs() > 0 => {
                Some(self.seal(successor_aad(pred), token.as_bytes())?)
            }
            _ => None,
        };
        Ok((
            token,
            NewRefresh {
                hash,
                key_id,
                family_id: family.to_owned(),
                account_id: account_id.to_owned(),
                token_version: version,
                issued_at: now,
                expires_at: now.saturating_add(self.tokens.refresh_ttl.secs_i64()),
                sealed,
            },
        ))
    }

    /// RefreshToken: uses up a refresh token and returns a new access token
    /// and the next refresh token of the family. Refresh tokens issued to
    /// an application are refused here (they refresh only at the token
    /// endpoint, by their client).
    pub async fn refresh(&self, caller: &Caller, token: &str) -> Result<IssuedToken> {
        Ok(self
            .rotate_refresh_token(caller, token, None, None)
            .await?
            .0)
    }

    /// Rotates a refresh token: for `client`, only a token of one of its
    /// grants (the access token is then the application's); without, only
    /// a token from an API sign-in. `scope` narrows an application's new
    /// access token to a subset of its grant (RFC 6749 section 6); a scope
    /// beyond the grant is `invalid_scope` and uses nothing up. Returns the
    /// new pair, the grant (with the scope of the new token), the account
    /// and its roles.
    pub(super) async fn rotate_refresh_token(
        &self,
        caller: &Caller,
        token: &str,
        client: Option<&ClientRecord>,
        scope: Option<&str>,
    ) -> Result<(IssuedToken, Option<OAuthGrant>, AccountRecord, Vec<String>)> {
        let invalid = || {
            Error::new(
                crate::error::ErrorKind::Unauthenticated,
                "invalid_refresh_token",
                "invalid, expired or revoked refresh token",
            )
        };
        if token.len() > 256 {
            return Err(invalid());
        }
        let hash = self.refresh_secrets.hash(token).ok_or_else(invalid)?;
        let rec = self
            .store
            .refresh_token(hash.clone())
            .await?
            .ok_or_else(invalid)?;
        let account = self
            .store
            .account(rec.account_id.clone())
            .await?
            .ok_or_else(invalid)?;
        if account.status != AccountStatus::Active {
            return Err(invalid());
        }
        let mut grant = self.store.oauth_grant(rec.family_id.clone()).await?;
        if let (Some(g), Some(requested)) = (grant.as_mut(), scope) {
            let granted: Vec<&str> = g.scope.split(' ').collect();
            let mut narrowed: Vec<&str> = Vec::new();
            for s in requested.split(' ').filter(|s| !s.is_empty()) {
                if !granted.contains(&s) {
                    return Err(Error::new(
                        crate::error::ErrorKind::InvalidArgument,
                        "invalid_scope",
                        format!("scope {s:?} was not granted"),
                    ));
                }
                if !narrowed.contains(&s) {
                    narrowed.push(s);
                }
            }
            if !narrowed.is_empty() {
                g.scope = narrowed.join(" ");
            }
        }
        let (issued, mut access, roles) = match (&grant, client) {
            (None, None) => {
                let kind = if account.account_type == AccountType::System {
                    TokenKind::Service
                } else {
                    TokenKind::Session
                };
                let (issued, access) = self
                    .mint_for(&account, kind, self.tokens.access_ttl.secs_i64())
                    .await?;
                (issued, access, Vec::new())
            }
            (Some(g), Some(c)) if g.client_id == c.client_id => {
                self.mint_for_grant(&account, c, g).await?
            }
            _ => return Err(invalid()),
        };
        access.family_id = Some(rec.family_id.clone());
        let (next, mut successor) = self.new_refresh(
            &account.id,
            &rec.family_id,
            account.token_version,
            Some(&hash),
        )?;
        let now = self.clock.now();
        let audit = self.audit(
            "token_refresh",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "family": rec.family_id, "jti": access.jti }),
        );
        let reuse = self.audit(
            "refresh_token_reuse",
            caller,
            Some(&account.id),
            Outcome::Failure,
            json!({ "family": rec.family_id }),
        );
        if let Some(c) = client.filter(|c| c.refresh_token_ttl > 0) {
            successor.expires_at = successor.issued_at.saturating_add(c.refresh_token_ttl);
        }
        let next_exp = successor.expires_at;
        let outcome = self
            .store
            .rotate_refresh(
                hash.clone(),
                account.token_version,
                now,
                self.tokens.refresh_grace.secs_i64(),
                successor,
                access,
                audit,
                reuse,
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated => Ok((
                IssuedToken {
                    token: issued.token,
                    expires_at: issued.expires_at,
                    refresh: Some((next, next_exp)),
                },
                grant,
                account,
                roles,
            )),
            RefreshOutcome::Replayed {
                sealed, expires_at, ..
            } => {
                let plain = self.open_sealed(successor_aad(&hash), &sealed)?;
                let value = Zeroizing::new(
                    String::from_utf8(plain.to_vec())
                        .map_err(|_| Error::internal("sealed refresh token"))?,
                );
                Ok((
                    IssuedToken {
                        token: issued.token,
                        expires_at: issued.expires_at,
                        refresh: Some((value, expires_at)),
                    },
                    grant,
                    account,
                    roles,
                ))
            }
            RefreshOutcome::Reused(revoked) => {
                tracing::warn!(account_id = %account.id, family = %rec.family_id, "refresh token reuse: family revoked");
                self.mirror_revocations(revoked);
                Err(invalid())
            }
            RefreshOutcome::Invalid => Err(invalid()),
        }
    }
}
