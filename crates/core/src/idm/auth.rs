//! Authentication and tokens: login, token verification, logout, renewal,
//! TOTP, password change, service tokens and revocation.

use serde_json::json;
use zeroize::Zeroizing;

use super::{Caller, Idm, IssuedToken, Principal};
use crate::crypto::jwt::{self, Claims};
use crate::crypto::keys::Jwk;
use crate::crypto::seal::Aad;
use crate::crypto::{password, totp};
use crate::error::{Error, Result};
use crate::model::{AccountRecord, AccountStatus, AccountType, NewToken, Outcome, TokenKind};
use crate::store::LoginSuccess;

/// Longest password accepted, in bytes (Argon2 itself has no practical limit;
/// this bounds the work an attacker can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest new password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Consecutive failures before logins are delayed.
pub const BACKOFF_AFTER: i64 = 5;
/// Longest delay, in seconds.
pub const BACKOFF_MAX_SECS: i64 = 900;

/// Lock duration after `failures` consecutive failures: nothing for the first
/// few, then 5 s doubling up to 15 min.
pub fn backoff_secs(failures: i64) -> i64 {
    if failures < BACKOFF_AFTER {
        return 0;
    }
    let exp = u32::try_from(failures - BACKOFF_AFTER)
        .unwrap_or(u32::MAX)
        .min(16);
    (5i64 << exp).min(BACKOFF_MAX_SECS)
}

fn totp_aad(account_id: &str) -> Aad<'_> {
    Aad::new("accounts", "totp_secret_sealed", account_id)
}

/// Checks a new password's length.
pub fn check_new_password(pw: &str) -> Result<()> {
    if pw.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(
            "password_too_long",
            format!("password is longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    if pw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password_too_short",
            format!("password must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    Ok(())
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
        let keys = self.keys.snapshot();
        let (key, kid) = keys.signer();
        let token = Zeroizing::new(jwt::sign(&claims, key, kid));
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

    async fn fail_login(
        &self,
        caller: &Caller,
        account: Option<&AccountRecord>,
        username: &str,
        reason: &'static str,
    ) -> Error {
        let details =
            json!({ "username": username.chars().take(64).collect::<String>(), "reason": reason });
        let entry = self.audit(
            "login_failure",
            caller,
            account.map(|a| a.id.as_str()),
            Outcome::Failure,
            details,
        );
        let res = match account {
            Some(a) if reason == "bad_password" || reason == "bad_totp" => self
                .store
                .login_failed(a.id.clone(), self.clock.now(), backoff_secs, entry)
                .await
                .map(|_| ()),
            _ => self.store.append_audit(entry).await,
        };
        if let Err(e) = res {
            tracing::error!(error = %e, "recording a failed login");
        }
        tracing::info!(reason, "login failed");
        Error::unauthenticated()
    }

    /// Login: load account → status → password → TOTP → issue → record →
    /// audit. Every failure is the same UNAUTHENTICATED answer; unknown and
    /// unusable accounts cost a dummy hash.
    pub async fn login(
        &self,
        caller: &Caller,
        username: &str,
        password: Zeroizing<String>,
        totp_code: &str,
    ) -> Result<IssuedToken> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::invalid(
                "password_too_long",
                format!("password is longer than {MAX_PASSWORD_BYTES} bytes"),
            ));
        }
        if username.len() > 256 || totp_code.len() > 16 {
            return Err(Error::invalid(
                "field_too_long",
                "username or totp_code is too long",
            ));
        }
        let now = self.clock.now();
        let account = self
            .store
            .account_by_username(username.to_lowercase())
            .await?;
        let Some(account) = account else {
            let _ = self.hasher.verify(None, password).await?;
            return Err(self
                .fail_login(caller, None, username, "unknown_user")
                .await);
        };
        let blocked = if account.status != AccountStatus::Active {
            Some("inactive")
        } else if account.account_type != AccountType::Human || account.password_hash.is_none() {
            Some("no_password")
        } else if account.locked_until > now {
            Some("backoff")
        } else {
            None
        };
        if let Some(reason) = blocked {
            let _ = self.hasher.verify(None, password).await?;
            return Err(self
                .fail_login(caller, Some(&account), username, reason)
                .await);
        }
        let stored = account.password_hash.clone();
        if !self.hasher.verify(stored.clone(), password.clone()).await? {
            return Err(self
                .fail_login(caller, Some(&account), username, "bad_password")
                .await);
        }
        let totp_step = if account.totp_enabled {
            let sealed = account
                .totp_secret_sealed
                .as_deref()
                .ok_or_else(|| Error::internal("TOTP enabled without a secret"))?;
            let secret = self.open_sealed(totp_aad(&account.id), sealed)?;
            match totp::verify(&secret, totp_code, now, account.totp_last_step) {
                Some(step) => Some(step),
                None => {
                    return Err(self
                        .fail_login(caller, Some(&account), username, "bad_totp")
                        .await);
                }
            }
        } else {
            None
        };
        let new_hash = match &stored {
            Some(h) if password::needs_rehash(h, self.hasher.params()) => {
                Some(self.hasher.hash(password).await?)
            }
            _ => None,
        };
        let (mut issued, mut record) = self.mint(&account, TokenKind::Session).await?;
        let family = self.new_id();
        record.family_id = Some(family.clone());
        let (refresh_value, refresh) =
            self.new_refresh(&account.id, &family, account.token_version, None)?;
        issued.refresh = Some((refresh_value, refresh.expires_at));
        let mut audit = self.audit(
            "login_success",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "jti": record.jti, "rehashed": new_hash.is_some() }),
        );
        audit.actor_id = Some(account.id.clone());
        let res = self
            .store
            .login_succeeded(
                LoginSuccess {
                    account_id: account.id.clone(),
                    now,
                    new_hash,
                    totp_step,
                    token: record,
                    refresh: Some(refresh),
                },
                audit,
            )
            .await;
        match res {
            Ok(()) => Ok(issued),
            // A concurrent login used the same TOTP step first.
            Err(e) if e.kind == crate::error::ErrorKind::Unauthenticated => Err(self
                .fail_login(caller, Some(&account), username, "bad_totp")
                .await),
            Err(e) => Err(e),
        }
    }

    /// Revokes the caller's token.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        let p = caller.principal()?;
        let audit = self.audit("logout", caller, Some(&p.jti), Outcome::Success, json!({}));
        self.store
            .revoke_token(p.jti.clone(), "logout".into(), self.clock.now(), audit)
            .await?;
        self.revoked.insert(p.jti.clone(), p.expires_at);
        Ok(())
    }

    async fn live_account(&self, id: &str) -> Result<AccountRecord> {
        let a = self
            .store
            .account(id.to_owned())
            .await?
            .ok_or_else(Error::bad_token)?;
        if a.status != AccountStatus::Active {
            return Err(Error::bad_token());
        }
        Ok(a)
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

    /// Starts TOTP enrollment: returns (base32 secret, otpauth URI).
    pub async fn enroll_totp(
        &self,
        caller: &Caller,
    ) -> Result<(Zeroizing<String>, Zeroizing<String>)> {
        let p = caller.principal()?;
        let account = self.live_account(&p.account_id).await?;
        if account.account_type != AccountType::Human {
            return Err(Error::precondition(
                "not_human",
                "TOTP is for human accounts only",
            ));
        }
        let secret = Zeroizing::new(crate::clock::random_array::<{ totp::SECRET_LEN }>(
            self.rng.as_ref(),
        ));
        let sealed = self.seal(totp_aad(&account.id), secret.as_ref())?;
        let audit = self.audit(
            "totp_enroll",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({}),
        );
        self.store
            .set_totp_pending(account.id.clone(), sealed, self.clock.now(), audit)
            .await?;
        Ok((
            Zeroizing::new(totp::secret_base32(secret.as_ref())),
            Zeroizing::new(totp::otpauth_uri(
                &issuer_label(&self.tokens.issuer),
                &account.username,
                secret.as_ref(),
            )),
        ))
    }

    /// Confirms the pending TOTP secret with a current code.
    pub async fn confirm_totp(&self, caller: &Caller, code: &str) -> Result<()> {
        let p = caller.principal()?;
        let account = self.live_account(&p.account_id).await?;
        let sealed = match (&account.totp_secret_sealed, account.totp_enabled) {
            (Some(s), false) => s.clone(),
            (_, true) => {
                return Err(Error::precondition(
                    "totp_already_enabled",
                    "TOTP is already enabled",
                ));
            }
            (None, _) => {
                return Err(Error::precondition(
                    "totp_not_pending",
                    "no TOTP enrollment is pending; call EnrollTotp first",
                ));
            }
        };
        let secret = self.open_sealed(totp_aad(&account.id), &sealed)?;
        let Some(step) = totp::verify(&secret, code, self.clock.now(), account.totp_last_step)
        else {
            let audit = self.audit(
                "totp_confirm",
                caller,
                Some(&account.id),
                Outcome::Failure,
                json!({}),
            );
            self.store.append_audit(audit).await?;
            return Err(Error::invalid(
                "invalid_totp_code",
                "the TOTP code is not valid now",
            ));
        };
        let audit = self.audit(
            "totp_confirm",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({}),
        );
        self.store
            .confirm_totp(account.id.clone(), step, self.clock.now(), audit)
            .await
    }

    /// Removes an account's TOTP factor.
    pub async fn remove_totp(&self, caller: &Caller, account_id: &str) -> Result<()> {
        let audit = self.audit(
            "totp_remove",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({}),
        );
        if !self
            .store
            .clear_totp(account_id.to_owned(), self.clock.now(), audit)
            .await?
        {
            return Err(Error::precondition(
                "totp_not_enrolled",
                "the account has no TOTP factor",
            ));
        }
        self.sync_version(account_id).await
    }

    /// Changes the caller's password after checking the current one.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: Zeroizing<String>,
        new: Zeroizing<String>,
    ) -> Result<()> {
        let p = caller.principal()?;
        check_new_password(&new)?;
        if current.len() > MAX_PASSWORD_BYTES {
            return Err(Error::unauthenticated());
        }
        let account = self.live_account(&p.account_id).await?;
        if !self
            .hasher
            .verify(account.password_hash.clone(), current)
            .await?
        {
            let audit = self.audit(
                "password_change",
                caller,
                Some(&account.id),
                Outcome::Failure,
                json!({ "reason": "bad_password" }),
            );
            self.store.append_audit(audit).await?;
            return Err(Error::new(
                crate::error::ErrorKind::PermissionDenied,
                "wrong_password",
                "the current password is not correct",
            ));
        }
        let hash = self.hasher.hash(new).await?;
        let audit = self.audit(
            "password_change",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({}),
        );
        self.store
            .set_password(account.id.clone(), hash, self.clock.now(), audit)
            .await?;
        self.sync_version(&account.id).await
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

    /// The public keys that verify tokens.
    pub fn public_keys(&self) -> Vec<Jwk> {
        self.keys.snapshot().jwks().to_vec()
    }

    /// Marks tokens revoked in memory (after a bulk revocation in the store).
    pub(super) fn mirror_revocations(&self, revoked: Vec<(String, i64)>) {
        for (jti, exp) in revoked {
            self.revoked.insert(jti, exp);
        }
    }
}

/// The issuer label for authenticator apps: the issuer's host, or `MCIAS`.
fn issuer_label(issuer: &str) -> String {
    let host = issuer
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty());
    match host {
        Some(h) => format!("MCIAS ({h})"),
        None => "MCIAS".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_secs(4), 0);
        assert_eq!(backoff_secs(5), 5);
        assert_eq!(backoff_secs(6), 10);
        assert_eq!(backoff_secs(10), 160);
        assert_eq!(backoff_secs(20), BACKOFF_MAX_SECS);
        assert_eq!(backoff_secs(i64::MAX), BACKOFF_MAX_SECS);
    }
}
