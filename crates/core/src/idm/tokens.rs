//! Access tokens after they are minted: authentication and validation (keys,
//! revocations and token versions mirrored in memory), logout, renewal,
//! service tokens, revocation by id or by value, introspection, and signing
//! an account out everywhere.

use super::Caller;
use super::Idm;
use super::IssuedToken;
use super::Principal;
use crate::crypto::jwt;
use crate::crypto::jwt::Claims;
use crate::crypto::keys::Jwk;
use crate::error::Error;
use crate::error::Result;
use crate::model::AccountRecord;
use crate::model::AccountStatus;
use crate::model::AccountType;
use crate::model::NewToken;
use crate::model::Outcome;
use crate::model::TokenKind;
use serde_json::json;
use std::collections::HashMap;
use std::sync::RwLock;
use zeroize::Zeroizing;

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

pub(super) fn looks_like_jwt(token: &str) -> bool {
    token.matches('.').count() == 2
}

impl Idm {
    /// Verifies a bearer token and checks revocation, in memory only.
    pub fn authenticate(&self, token: &str) -> Result<Principal> {
        let claims = self.verify_jwt(token).map_err(|e| {
            tracing::debug!(reason = %e, "token rejected");
            Error::bad_token()
        })?;
        if !self.current(&claims) {
            tracing::debug!(jti = %claims.jti, "token rejected: revoked or superseded");
            return Err(Error::bad_token());
        }
        Ok(Principal {
            account_id: claims.sub,
            roles: claims.roles,
            jti: claims.jti,
            expires_at: claims.exp,
            typ: claims.typ,
        })
    }

    /// ValidateToken: the verified claims, or `None` for any invalid token.
    pub fn validate(&self, token: &str) -> Option<Claims> {
        let claims = self.verify_jwt(token).ok()?;
        self.current(&claims).then_some(claims)
    }

    /// Signs a token for `account` and describes it for the store.
    pub(super) async fn mint(
        &self,
        account: &AccountRecord,
        kind: TokenKind,
    ) -> Result<(IssuedToken, NewToken)> {
        let ttl = match kind {
            TokenKind::Session => self.tokens.access_ttl.secs_i64(),
            TokenKind::Service => self.tokens.service_token_ttl.secs_i64(),
        };
        self.mint_for(account, kind, ttl).await
    }

    /// Signs a token with an explicit lifetime.
    pub(super) async fn mint_for(
        &self,
        account: &AccountRecord,
        kind: TokenKind,
        ttl: i64,
    ) -> Result<(IssuedToken, NewToken)> {
        let roles = self.store.roles(account.id.clone()).await?;
        let now = self.clock.now();
        let claims = Claims {
            iss: self.tokens.issuer.clone(),
            sub: account.id.clone(),
            aud: self.tokens.audience.clone(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
            jti: self.new_id(),
            roles,
            typ: account.account_type.as_str().to_owned(),
            uv: account.token_version,
        };
        let token = Zeroizing::new(self.keys.snapshot().sign_access_token(&claims)?);
        Ok((
            IssuedToken {
                token,
                expires_at: claims.exp,
                refresh: None,
            },
            NewToken {
                jti: claims.jti,
                account_id: account.id.clone(),
                kind,
                issued_at: now,
                expires_at: claims.exp,
                family_id: None,
            },
        ))
    }

    /// Ends the caller's session: revokes the caller's token and, when it
    /// was issued from a refresh-token family (a login and its refreshes),
    /// the whole family, so its refresh token cannot mint a new pair.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        let p = caller.principal()?;
        let family = self
            .store
            .token(p.jti.clone())
            .await?
            .and_then(|t| t.family_id);
        let audit = self.audit(
            "logout",
            caller,
            Some(&p.jti),
            Outcome::Success,
            json!({ "refresh_family": family }),
        );
        let revoked = self
            .store
            .end_session(p.jti.clone(), family, self.clock.now(), audit)
            .await?;
        self.revoked.insert(p.jti.clone(), p.expires_at);
        self.mirror_revocations(revoked);
        Ok(())
    }

    /// Issues a fresh token for the caller and revokes the presented one.
    pub async fn renew(&self, caller: &Caller) -> Result<IssuedToken> {
        let p = caller.principal()?;
        let account = self.live_account(&p.account_id).await?;
        let kind = if account.account_type == AccountType::System {
            TokenKind::Service
        } else {
            TokenKind::Session
        };
        let (issued, record) = self.mint(&account, kind).await?;
        let audit = self.audit(
            "token_renew",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "old_jti": p.jti, "new_jti": record.jti }),
        );
        self.store
            .replace_token(p.jti.clone(), record, audit)
            .await?;
        self.revoked.insert(p.jti.clone(), p.expires_at);
        Ok(issued)
    }

    /// Issues a service token for an active system account.
    pub async fn issue_service_token(
        &self,
        caller: &Caller,
        account_id: &str,
    ) -> Result<IssuedToken> {
        let account = self
            .store
            .account(account_id.to_owned())
            .await?
            .ok_or_else(|| Error::not_found("account"))?;
        if account.account_type != AccountType::System {
            return Err(Error::precondition(
                "not_system_account",
                "service tokens are issued only to system accounts",
            ));
        }
        if account.status != AccountStatus::Active {
            return Err(Error::precondition(
                "account_not_active",
                format!("the account is {}", account.status.as_str()),
            ));
        }
        let (issued, record) = self.mint(&account, TokenKind::Service).await?;
        let audit = self.audit(
            "service_token_issue",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "jti": record.jti, "expires_at": record.expires_at }),
        );
        self.store.insert_token(record, audit).await?;
        Ok(issued)
    }

    /// Revokes a token by jti.
    pub async fn revoke_token(&self, caller: &Caller, jti: &str, reason: &str) -> Result<()> {
        if jti.is_empty() || jti.len() > 64 {
            return Err(Error::invalid(
                "invalid_jti",
                "jti must be 1 to 64 characters",
            ));
        }
        if reason.chars().count() > 256 {
            return Err(Error::invalid(
                "reason_too_long",
                "reason must be at most 256 characters",
            ));
        }
        let audit = self.audit(
            "token_revoke",
            caller,
            Some(jti),
            Outcome::Success,
            json!({ "reason": reason }),
        );
        let exp = self
            .store
            .revoke_token(jti.to_owned(), reason.to_owned(), self.clock.now(), audit)
            .await?
            .ok_or_else(|| Error::not_found("token"))?;
        self.revoked.insert(jti.to_owned(), exp);
        Ok(())
    }

    /// The public keys, newest first: every key that verifies tokens (of
    /// either algorithm) and those published ahead of their activation.
    pub fn public_keys(&self) -> Vec<Jwk> {
        self.keys.snapshot().jwks().to_vec()
    }

    /// Marks tokens revoked in memory (after a bulk revocation in the store).
    pub(super) fn mirror_revocations(&self, revoked: Vec<(String, i64)>) {
        for (jti, exp) in revoked {
            self.revoked.insert(jti, exp);
        }
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
    /// refresh tokens in the store. An admin learns about any token; anyone
    /// else only about their own (same subject), and every other token
    /// answers inactive, exactly like an invalid one.
    pub async fn introspect(&self, caller: &Caller, token: &str) -> Result<Introspection> {
        let found = self.describe(token).await?;
        let allowed = match &caller.principal {
            Some(p) => p.is_admin() || p.account_id == found.subject,
            None => false,
        };
        Ok(if found.active && allowed {
            found
        } else {
            Introspection::default()
        })
    }

    /// What introspection knows of a token, whoever asks.
    async fn describe(&self, token: &str) -> Result<Introspection> {
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
                // An access token issued to an application (its own
                // audience); `verify_client_access` checks revocation and
                // the token version.
                _ => match self.verify_client_access(token) {
                    Ok(c) => {
                        let text = |n: &str| {
                            c.get(n)
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let int =
                            |n: &str| c.get(n).and_then(serde_json::Value::as_i64).unwrap_or(0);
                        Introspection {
                            active: true,
                            token_type: "access_token".into(),
                            subject: text("sub"),
                            roles: c
                                .get("roles")
                                .and_then(serde_json::Value::as_array)
                                .map(|r| {
                                    r.iter()
                                        .filter_map(|x| x.as_str().map(str::to_owned))
                                        .collect()
                                })
                                .unwrap_or_default(),
                            issuer: text("iss"),
                            issued_at: int("iat"),
                            expires_at: int("exp"),
                            jti: text("jti"),
                            account_type: text("typ"),
                        }
                    }
                    Err(_) => Introspection::default(),
                },
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
            // An API token, or one issued to an application.
            let jti = match self.verify_jwt(token) {
                Ok(c) => Some(c.jti),
                Err(_) => self
                    .verify_client_access(token)
                    .ok()
                    .and_then(|c| c.get("jti").and_then(|j| j.as_str()).map(str::to_owned)),
            };
            if let Some(jti) = jti {
                let audit = self.audit(
                    "token_revoke",
                    caller,
                    Some(&jti),
                    Outcome::Success,
                    json!({ "reason": "revoked by value" }),
                );
                if let Some(exp) = self
                    .store
                    .revoke_token(jti.clone(), "revoked by value".into(), now, audit)
                    .await?
                {
                    self.revoked.insert(jti, exp);
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
}
