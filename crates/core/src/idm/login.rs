//! Password sign-in: the login sequence, its one generic failure, and the
//! per-account backoff after repeated failures.

use super::Caller;
use super::Idm;
use super::IssuedToken;
use super::credentials::totp_aad;
use crate::crypto::password;
use crate::crypto::totp;
use crate::error::Error;
use crate::error::Result;
use crate::model::AccountRecord;
use crate::model::AccountStatus;
use crate::model::AccountType;
use crate::model::Outcome;
use crate::model::TokenKind;
use crate::store::LoginSuccess;
use serde_json::json;
use zeroize::Zeroizing;

/// Longest password accepted, in bytes (Argon2 itself has no practical limit;
/// this bounds the work an attacker can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

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

impl Idm {
    pub(super) async fn fail_login(
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

    pub(super) async fn live_account(&self, id: &str) -> Result<AccountRecord> {
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
}
