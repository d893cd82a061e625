//! Password sign-in: the login sequence, its one generic failure, and the
//! backoff after repeated failures: per (account, source), with an
//! account-wide ceiling far higher than a source's.

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
use crate::model::{NewRefresh, NewToken, WebSession};
use crate::store::{LoginFailure, LoginSuccess};
use hmac::Hmac;
use hmac::Mac;
use serde_json::json;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The context the audit log's username fingerprint key is derived under.
const USERNAME_FINGERPRINT_CONTEXT: &[u8] = b"mcias/v1 audit: unknown username fingerprint";

/// Longest password accepted, in bytes (Argon2 itself has no practical limit;
/// this bounds the work an attacker can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Consecutive failures from one source before that source's logins to the
/// account are delayed.
pub const BACKOFF_AFTER: i64 = 5;

/// Failures from all sources together before every login to the account is
/// delayed (the ceiling that still slows a distributed attack).
pub const ACCOUNT_BACKOFF_AFTER: i64 = 100;

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

/// Account-wide lock duration after `failures` failures from all sources:
/// nothing below [`ACCOUNT_BACKOFF_AFTER`], then as [`backoff_secs`].
pub fn account_backoff_secs(failures: i64) -> i64 {
    if failures < ACCOUNT_BACKOFF_AFTER {
        return 0;
    }
    backoff_secs(failures - ACCOUNT_BACKOFF_AFTER + BACKOFF_AFTER)
}

/// The source a login is admitted and backed off under: the client's IP
/// address (without the port), or the peer text as given, or `unknown`.
pub(super) fn login_source(caller: &Caller) -> String {
    match caller.peer.as_deref() {
        Some(p) => p
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| p.to_owned()),
        None => "unknown".to_owned(),
    }
}

/// A password that was right, and what signing in will record.
pub(super) struct CheckedPassword {
    pub(super) account: AccountRecord,
    pub(super) source: String,
    pub(super) totp_step: Option<i64>,
    pub(super) new_hash: Option<String>,
    /// The account has TOTP and no code was checked yet.
    pub(super) needs_totp: bool,
}

impl Idm {
    pub(super) async fn fail_login(
        &self,
        caller: &Caller,
        account: Option<&AccountRecord>,
        username: &str,
        reason: &'static str,
    ) -> Error {
        let mut details =
            self.submitted_name("username", account.map(|a| a.username.as_str()), username);
        details["reason"] = json!(reason);
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
                .login_failed(
                    LoginFailure {
                        account_id: a.id.clone(),
                        source: login_source(caller),
                        now: self.clock.now(),
                        source_lock_secs: backoff_secs,
                        account_lock_secs: account_backoff_secs,
                    },
                    entry,
                )
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

    /// What the audit log keeps of a username that names no account: it may
    /// be a password typed into the wrong field, so never the text itself but
    /// a truncated HMAC-SHA256 under a key derived from the master key
    /// (repeated attempts with the same name are recognisable, the name is
    /// not recoverable) and its length in characters.
    fn username_fingerprint(&self, username: &str) -> (String, usize) {
        let Ok(mut kdf) = Hmac::<Sha256>::new_from_slice(self.key.as_bytes()) else {
            return (String::new(), username.chars().count());
        };
        kdf.update(USERNAME_FINGERPRINT_CONTEXT);
        let derived: Zeroizing<[u8; 32]> = Zeroizing::new(kdf.finalize().into_bytes().into());
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(derived.as_ref()) else {
            return (String::new(), username.chars().count());
        };
        mac.update(username.as_bytes());
        let tag = mac.finalize().into_bytes();
        (
            data_encoding::HEXLOWER.encode(&tag[..8]),
            username.chars().count(),
        )
    }

    /// The audit details that name what a caller submitted as `field` (a
    /// username or client id): the account's own name when it names one,
    /// else `<field>_hmac` and `<field>_length`, never the text.
    pub(super) fn submitted_name(
        &self,
        field: &str,
        known: Option<&str>,
        submitted: &str,
    ) -> serde_json::Value {
        let mut details = serde_json::Map::new();
        match known {
            Some(name) => {
                details.insert(field.to_owned(), json!(name));
            }
            None => {
                let (fingerprint, length) = self.username_fingerprint(submitted);
                details.insert(format!("{field}_hmac"), json!(fingerprint));
                details.insert(format!("{field}_length"), json!(length));
            }
        }
        serde_json::Value::Object(details)
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
        let checked = self
            .check_password(caller, username, password, Some(totp_code))
            .await?;
        if checked.account.password_change_required {
            // Said only after the right password (and code).
            return Err(Error::precondition(
                "password_change_required",
                "this account has a temporary password: sign in on the sign-in page to choose a new one",
            ));
        }
        let account = &checked.account;
        let (mut issued, mut record) = self.mint(account, TokenKind::Session).await?;
        let family = self.new_id();
        record.family_id = Some(family.clone());
        let (refresh_value, refresh) =
            self.new_refresh(&account.id, &family, account.token_version, None)?;
        issued.refresh = Some((refresh_value, refresh.expires_at));
        let details = json!({ "jti": record.jti, "rehashed": checked.new_hash.is_some() });
        self.record_sign_in(
            caller,
            username,
            checked,
            Some(record),
            Some(refresh),
            None,
            details,
        )
        .await?;
        Ok(issued)
    }

    /// Records a successful sign-in (failures forgotten, re-hash, TOTP step,
    /// what it issued) with its audit event. A concurrent sign-in that used
    /// the same TOTP step first turns this one into a failure.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_sign_in(
        &self,
        caller: &Caller,
        username: &str,
        checked: CheckedPassword,
        token: Option<NewToken>,
        refresh: Option<NewRefresh>,
        session: Option<(WebSession, Option<String>)>,
        details: serde_json::Value,
    ) -> Result<()> {
        let account = checked.account;
        let mut audit = self.audit(
            "login_success",
            caller,
            Some(&account.id),
            Outcome::Success,
            details,
        );
        audit.actor_id = Some(account.id.clone());
        let res = self
            .store
            .login_succeeded(
                LoginSuccess {
                    account_id: account.id.clone(),
                    source: checked.source,
                    now: self.clock.now(),
                    new_hash: checked.new_hash,
                    totp_step: checked.totp_step,
                    token,
                    refresh,
                    session,
                },
                audit,
            )
            .await;
        match res {
            Ok(()) => Ok(()),
            // A concurrent login used the same TOTP step first.
            Err(e) if e.kind == crate::error::ErrorKind::Unauthenticated => Err(self
                .fail_login(caller, Some(&account), username, "bad_totp")
                .await),
            Err(e) => Err(e),
        }
    }

    /// The password (and, when `totp_code` is given and the account has
    /// TOTP, the code) checked under the backoff rules. With `totp_code`
    /// `None` the second factor is left to the caller
    /// ([`CheckedPassword::needs_totp`]). Every failure is the same
    /// UNAUTHENTICATED answer and is recorded.
    pub(super) async fn check_password(
        &self,
        caller: &Caller,
        username: &str,
        password: Zeroizing<String>,
        totp_code: Option<&str>,
    ) -> Result<CheckedPassword> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::invalid(
                "password_too_long",
                format!("password is longer than {MAX_PASSWORD_BYTES} bytes"),
            ));
        }
        if username.len() > 256 || totp_code.is_some_and(|c| c.len() > 16) {
            return Err(Error::invalid(
                "field_too_long",
                "username or totp_code is too long",
            ));
        }
        let now = self.clock.now();
        let source = login_source(caller);
        let account = self
            .store
            .account_by_username(username.to_lowercase())
            .await?;
        let Some(account) = account else {
            let _ = self.hasher.verify_from(&source, None, password).await?;
            return Err(self
                .fail_login(caller, None, username, "unknown_user")
                .await);
        };
        let from_source = self
            .store
            .source_failures(account.id.clone(), source.clone())
            .await?;
        let blocked = if account.status != AccountStatus::Active {
            Some("inactive")
        } else if account.account_type != AccountType::Human || account.password_hash.is_none() {
            Some("no_password")
        } else if from_source.locked_until > now {
            // This source is backed off: its guesses are not checked.
            Some("backoff")
        } else {
            None
        };
        if let Some(reason) = blocked {
            let _ = self.hasher.verify_from(&source, None, password).await?;
            return Err(self
                .fail_login(caller, Some(&account), username, reason)
                .await);
        }
        let stored = account.password_hash.clone();
        if !self
            .hasher
            .verify_from(&source, stored.clone(), password.clone())
            .await?
        {
            return Err(self
                .fail_login(caller, Some(&account), username, "bad_password")
                .await);
        }
        if account.locked_until > now {
            // The account-wide ceiling: only a caller who gave the right
            // password, from a source with no failures against the account,
            // learns that the account is locked; anyone else gets the generic
            // answer (no enumeration, no password oracle for a guessing
            // source).
            if from_source.failures > 0 {
                return Err(self
                    .fail_login(caller, Some(&account), username, "account_backoff")
                    .await);
            }
            let _ = self
                .fail_login(caller, Some(&account), username, "account_backoff")
                .await;
            return Err(Error::precondition(
                "account_locked",
                "the account is temporarily locked after repeated failed logins; retry later",
            ));
        }
        let totp_step = match totp_code {
            Some(code) if account.totp_enabled => {
                Some(self.check_totp(caller, &account, username, code).await?)
            }
            _ => None,
        };
        let new_hash = match &stored {
            Some(h) if password::needs_rehash(h, self.hasher.params()) => {
                Some(self.hasher.hash(password).await?)
            }
            _ => None,
        };
        Ok(CheckedPassword {
            needs_totp: account.totp_enabled && totp_step.is_none(),
            account,
            source,
            totp_step,
            new_hash,
        })
    }

    /// A TOTP code of `account` checked (not yet recorded as used); a wrong
    /// one is a recorded failure.
    pub(super) async fn check_totp(
        &self,
        caller: &Caller,
        account: &AccountRecord,
        username: &str,
        code: &str,
    ) -> Result<i64> {
        let sealed = account
            .totp_secret_sealed
            .as_deref()
            .ok_or_else(|| Error::internal("TOTP enabled without a secret"))?;
        let secret = self.open_sealed(totp_aad(&account.id), sealed)?;
        match totp::verify(&secret, code, self.clock.now(), account.totp_last_step) {
            Some(step) => Ok(step),
            None => Err(self
                .fail_login(caller, Some(account), username, "bad_totp")
                .await),
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
