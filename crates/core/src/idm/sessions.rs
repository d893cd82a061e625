//! Sessions beyond one access token: refresh-token families with rotation
//! and reuse detection, per-account token versions (`uv`), client
//! credentials, introspection and revocation by value, and key rotation.

use std::collections::HashMap;
use std::sync::RwLock;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{Caller, Idm, IssuedToken};
use crate::crypto::jwt::{self, Claims};
use crate::crypto::seal::{self, Aad, MasterKey};
use crate::error::{Error, Result};
use crate::model::{AccountStatus, AccountType, AuditEntry, Outcome, RefreshKeyRecord, TokenKind};
use crate::store::{Backend, NewRefresh, RefreshOutcome};

/// Bytes of randomness in a refresh token or client secret.
const TOKEN_BYTES: usize = 32;

/// The current token version of every account, mirrored in memory so token
/// validation needs no database read.
#[derive(Debug, Default)]
pub struct AccountVersions(RwLock<HashMap<String, i64>>);

impl AccountVersions {
    /// The version of `account_id`, if known.
    pub fn get(&self, account_id: &str) -> Option<i64> {
        self.0.read().ok().and_then(|m| m.get(account_id).copied())
    }

    /// Sets a version.
    pub fn set(&self, account_id: String, version: i64) {
        if let Ok(mut m) = self.0.write() {
            m.insert(account_id, version);
        }
    }

    /// Loads many.
    pub fn load(&self, all: Vec<(String, i64)>) {
        if let Ok(mut m) = self.0.write() {
            m.extend(all);
        }
    }
}

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

fn refresh_key_aad(id: &str) -> Aad<'_> {
    Aad::new("refresh_keys", "secret_sealed", id)
}

fn successor_aad(predecessor_hash: &str) -> Aad<'_> {
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

    async fn reload(&self, store: &dyn Backend, master: &MasterKey) -> Result<()> {
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

    async fn create(
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
    fn mint(
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

/// What introspection reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Introspection {
    /// Currently valid.
    pub active: bool,
    /// `access_token` or `refresh_token`.
    pub token_type: String,
    /// Account id.
    pub subject: String,
    /// Roles (access tokens).
    pub roles: Vec<String>,
    /// Issuer.
    pub issuer: String,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Access token id.
    pub jti: String,
    /// `human` or `system`.
    pub account_type: String,
}

fn looks_like_jwt(token: &str) -> bool {
    token.matches('.').count() == 2
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

    /// Updates the in-memory version of an account after a change.
    pub(super) async fn sync_version(&self, account_id: &str) -> Result<()> {
        if let Some(a) = self.store.account(account_id.to_owned()).await? {
            self.versions.set(a.id, a.token_version);
        }
        Ok(())
    }

    /// Whether verified claims are current: not revoked, and issued under the
    /// account's current token version.
    pub(super) fn current(&self, claims: &Claims) -> bool {
        !self.revoked.contains(&claims.jti) && self.versions.get(&claims.sub) == Some(claims.uv)
    }

    /// Verifies a JWT's signature and claims against the keys valid now.
    pub(super) fn verify_jwt(&self, token: &str) -> std::result::Result<Claims, jwt::JwtError> {
        let keys = self.keys.snapshot();
        let now = self.clock.now();
        jwt::verify(token, &keys.at(now), now, &self.expect)
    }

    /// RefreshToken: uses up a refresh token and returns a new access token
    /// and the next refresh token of the family.
    pub async fn refresh(&self, caller: &Caller, token: &str) -> Result<IssuedToken> {
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
        let kind = if account.account_type == AccountType::System {
            TokenKind::Service
        } else {
            TokenKind::Session
        };
        let (issued, mut access) = self
            .mint_for(&account, kind, self.tokens.access_ttl.secs_i64())
            .await?;
        access.family_id = Some(rec.family_id.clone());
        let (next, successor) = self.new_refresh(
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
            RefreshOutcome::Rotated => Ok(IssuedToken {
                token: issued.token,
                expires_at: issued.expires_at,
                refresh: Some((next, next_exp)),
            }),
            RefreshOutcome::Replayed {
                sealed, expires_at, ..
            } => {
                let plain = self.open_sealed(successor_aad(&hash), &sealed)?;
                let value = Zeroizing::new(
                    String::from_utf8(plain.to_vec())
                        .map_err(|_| Error::internal("sealed refresh token"))?,
                );
                Ok(IssuedToken {
                    token: issued.token,
                    expires_at: issued.expires_at,
                    refresh: Some((value, expires_at)),
                })
            }
            RefreshOutcome::Reused(revoked) => {
                tracing::warn!(account_id = %account.id, family = %rec.family_id, "refresh token reuse: family revoked");
                self.mirror_revocations(revoked);
                Err(invalid())
            }
            RefreshOutcome::Invalid => Err(invalid()),
        }
    }

    /// ClientCredentials: a system account's client secret for an access
    /// token. Every failure is the same UNAUTHENTICATED answer.
    pub async fn client_credentials(
        &self,
        caller: &Caller,
        client_id: &str,
        secret: Zeroizing<String>,
    ) -> Result<IssuedToken> {
        if client_id.len() > 256 || secret.len() > 1024 {
            return Err(Error::unauthenticated());
        }
        let mut account = self
            .store
            .account_by_username(client_id.to_lowercase())
            .await?;
        if account.is_none() {
            account = self.store.account(client_id.to_owned()).await?;
        }
        let usable = account.filter(|a| {
            a.account_type == AccountType::System
                && a.status == AccountStatus::Active
                && a.client_secret_hash.is_some()
        });
        let ok = self
            .hasher
            .verify(
                usable.as_ref().and_then(|a| a.client_secret_hash.clone()),
                secret,
            )
            .await?;
        let Some(account) = usable.filter(|_| ok) else {
            let audit = self.audit(
                "client_credentials",
                caller,
                None,
                Outcome::Failure,
                json!({ "client_id": client_id.chars().take(64).collect::<String>() }),
            );
            self.store.append_audit(audit).await?;
            return Err(Error::unauthenticated());
        };
        // Client-credential tokens live as long as access tokens; long-lived
        // service tokens are IssueServiceToken's.
        let (issued, record) = self
            .mint_for(
                &account,
                TokenKind::Service,
                self.tokens.access_ttl.secs_i64(),
            )
            .await?;
        let audit = self.audit(
            "client_credentials",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "jti": record.jti }),
        );
        let mut audit = audit;
        audit.actor_id = Some(account.id.clone());
        self.store.insert_token(record, audit).await?;
        Ok(issued)
    }

    /// Sets a new client secret for a system account; returns it once.
    pub async fn rotate_client_secret(
        &self,
        caller: &Caller,
        account_id: &str,
    ) -> Result<Zeroizing<String>> {
        let secret = Zeroizing::new(crate::crypto::b64url(&crate::clock::random_array::<
            TOKEN_BYTES,
        >(self.rng.as_ref())));
        let hash = self.hasher.hash(secret.clone()).await?;
        let audit = self.audit(
            "client_secret_rotate",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({}),
        );
        self.store
            .set_client_secret(account_id.to_owned(), hash, self.clock.now(), audit)
            .await?;
        Ok(secret)
    }

    /// Invalidates every token of an account (the caller's own when empty).
    pub async fn sign_out_everywhere(&self, caller: &Caller, account_id: &str) -> Result<()> {
        let target = if account_id.is_empty() {
            caller.principal()?.account_id.clone()
        } else {
            account_id.to_owned()
        };
        caller.self_or_admin(&target)?;
        let audit = self.audit(
            "sign_out_everywhere",
            caller,
            Some(&target),
            Outcome::Success,
            json!({}),
        );
        self.store
            .sign_out_everywhere(target.clone(), self.clock.now(), audit)
            .await?;
        self.sync_version(&target).await
    }

    /// IntrospectToken (RFC 7662): access tokens are checked in memory,
    /// refresh tokens in the store.
    pub async fn introspect(&self, token: &str) -> Result<Introspection> {
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Ok(Introspection::default());
        }
        if looks_like_jwt(token) {
            return Ok(match self.verify_jwt(token) {
                Ok(c) if self.current(&c) => Introspection {
                    active: true,
                    token_type: "access_token".into(),
                    subject: c.sub,
                    roles: c.roles,
                    issuer: c.iss,
                    issued_at: c.iat,
                    expires_at: c.exp,
                    jti: c.jti,
                    account_type: c.typ,
                },
                _ => Introspection::default(),
            });
        }
        let Some(hash) = self.refresh_secrets.hash(token) else {
            return Ok(Introspection::default());
        };
        let Some(rec) = self.store.refresh_token(hash).await? else {
            return Ok(Introspection::default());
        };
        let now = self.clock.now();
        let live = rec.used_at.is_none()
            && rec.revoked_at.is_none()
            && rec.expires_at >= now
            && self.versions.get(&rec.account_id) == Some(rec.token_version);
        if !live {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            token_type: "refresh_token".into(),
            subject: rec.account_id,
            issuer: self.tokens.issuer.clone(),
            issued_at: rec.issued_at,
            expires_at: rec.expires_at,
            ..Introspection::default()
        })
    }

    /// RevokeTokenValue (RFC 7009): revokes an access token, or a refresh
    /// token with its family. Unknown or already invalid tokens are fine.
    pub async fn revoke_value(&self, caller: &Caller, token: &str) -> Result<()> {
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Ok(());
        }
        let now = self.clock.now();
        if looks_like_jwt(token) {
            if let Ok(c) = self.verify_jwt(token) {
                let audit = self.audit(
                    "token_revoke",
                    caller,
                    Some(&c.jti),
                    Outcome::Success,
                    json!({ "reason": "revoked by value" }),
                );
                if let Some(exp) = self
                    .store
                    .revoke_token(c.jti.clone(), "revoked by value".into(), now, audit)
                    .await?
                {
                    self.revoked.insert(c.jti, exp);
                }
            }
            return Ok(());
        }
        if let Some(hash) = self.refresh_secrets.hash(token) {
            let audit = self.audit(
                "refresh_token_revoke",
                caller,
                None,
                Outcome::Success,
                json!({}),
            );
            if let Some(revoked) = self.store.revoke_refresh_family(hash, now, audit).await? {
                self.mirror_revocations(revoked);
            }
        }
        Ok(())
    }

    /// The longest lifetime of any access token: how long a superseded
    /// signing key must keep verifying.
    fn max_token_lifetime(&self) -> i64 {
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
