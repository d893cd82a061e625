//! What an account proves itself with, and what it keeps: passwords, TOTP,
//! client secrets and client-credential sign-in, stored database
//! credentials.

use super::Caller;
use super::Idm;
use super::IssuedToken;
use super::accounts::check_id;
use super::login::MAX_PASSWORD_BYTES;
use crate::crypto::seal::Aad;
use crate::crypto::totp;
use crate::error::Error;
use crate::error::Result;
use crate::model::AccountStatus;
use crate::model::AccountType;
use crate::model::Outcome;
use crate::model::PgCredsRecord;
use crate::model::TokenKind;
use serde_json::json;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// How a keyed client-secret hash is marked in `client_secret_hash` (older
/// secrets are Argon2id PHC strings, which start with `$argon2`).
const KEYED_SECRET_PREFIX: &str = "hmac-sha256$";

/// Shortest new password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

pub(super) fn totp_aad(account_id: &str) -> Aad<'_> {
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

/// The issuer label for authenticator apps: the issuer's host, or `MCIAS`.
pub(super) fn issuer_label(issuer: &str) -> String {
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

/// PostgreSQL credentials in the clear (only ever built for GetPgCreds).
pub struct PgCreds {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// User.
    pub username: String,
    /// Password.
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for PgCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCreds")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

pub(super) fn pg_aad(account_id: &str) -> Aad<'_> {
    Aad::new("pg_credentials", "password_sealed", account_id)
}

impl Idm {
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

    /// Removes the caller's own TOTP after checking a current code from it
    /// (a wrong code is a recorded sign-in failure, backed off like one).
    pub async fn remove_own_totp(&self, caller: &Caller, code: &str) -> Result<()> {
        let p = caller.principal()?;
        let account = self.live_account(&p.account_id).await?;
        if !account.totp_enabled {
            return Err(Error::precondition(
                "totp_not_enabled",
                "TOTP is not enabled for this account",
            ));
        }
        if code.len() > 16 {
            return Err(Error::invalid("field_too_long", "the code is too long"));
        }
        self.check_totp(caller, &account, &account.username, code)
            .await?;
        self.remove_totp(caller, &account.id).await
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
        let known = account.as_ref().map(|a| a.username.clone());
        let usable = account.filter(|a| {
            a.account_type == AccountType::System
                && a.status == AccountStatus::Active
                && a.client_secret_hash.is_some()
        });
        let stored = usable.as_ref().and_then(|a| a.client_secret_hash.clone());
        let ok = match stored
            .as_deref()
            .and_then(|h| h.strip_prefix(KEYED_SECRET_PREFIX))
        {
            // Server-made secrets: a keyed hash, compared in constant time.
            Some(expected) => self
                .refresh_secrets
                .hash(&secret)
                .is_some_and(|got| bool::from(got.as_bytes().ct_eq(expected.as_bytes()))),
            // Secrets set before keyed hashes (Argon2id PHC), and unknown
            // clients, which cost the same dummy verification.
            None => self.hasher.verify(stored, secret).await?,
        };
        let Some(account) = usable.filter(|_| ok) else {
            let audit = self.audit(
                "client_credentials",
                caller,
                None,
                Outcome::Failure,
                self.submitted_name("client_id", known.as_deref(), client_id),
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
        // 256 random bits under the active refresh-token key: a keyed hash
        // (HMAC-SHA256) is stored, never a password hash on this hot path.
        let Some((secret, hash, _key_id)) = self.refresh_secrets.mint(self.rng.as_ref()) else {
            return Err(Error::internal("no active refresh-token key"));
        };
        let hash = format!("{KEYED_SECRET_PREFIX}{hash}");
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

    /// The stored credentials, password included, for the account itself or
    /// an admin. The read is audited.
    pub async fn get_pg_creds(&self, caller: &Caller, account_id: &str) -> Result<PgCreds> {
        check_id(account_id)?;
        caller.self_or_admin(account_id)?;
        let rec = self
            .store
            .pg_creds(account_id.to_owned())
            .await?
            .ok_or_else(|| Error::not_found("stored credentials"))?;
        let pw = self.open_sealed(pg_aad(account_id), &rec.password_sealed)?;
        let password = Zeroizing::new(
            String::from_utf8(pw.to_vec())
                .map_err(|_| Error::internal("stored password is not UTF-8"))?,
        );
        let audit = self.audit(
            "pgcreds_read",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({}),
        );
        self.store.append_audit(audit).await?;
        Ok(PgCreds {
            host: rec.host,
            port: rec.port,
            database: rec.database,
            username: rec.username,
            password,
        })
    }

    /// Stores credentials for the account itself or as an admin.
    pub async fn set_pg_creds(
        &self,
        caller: &Caller,
        account_id: &str,
        creds: PgCreds,
    ) -> Result<()> {
        check_id(account_id)?;
        caller.self_or_admin(account_id)?;
        let field = |name: &'static str, v: &str, max: usize| -> Result<()> {
            if v.is_empty() || v.len() > max {
                return Err(Error::invalid(
                    "invalid_pgcreds",
                    format!("{name} must be 1 to {max} bytes"),
                ));
            }
            Ok(())
        };
        field("host", &creds.host, 255)?;
        field("database", &creds.database, 63)?;
        field("username", &creds.username, 63)?;
        field("password", &creds.password, 1024)?;
        if creds.port == 0 {
            return Err(Error::invalid(
                "invalid_pgcreds",
                "port must be between 1 and 65535",
            ));
        }
        let account = self.get_account(account_id).await?;
        if account.status == AccountStatus::Deleted {
            return Err(Error::precondition(
                "account_deleted",
                "the account is deleted",
            ));
        }
        let sealed = self.seal(pg_aad(account_id), creds.password.as_bytes())?;
        let audit = self.audit(
            "pgcreds_write",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({ "host": creds.host, "port": creds.port, "database": creds.database, "username": creds.username }),
        );
        self.store
            .set_pg_creds(
                account_id.to_owned(),
                PgCredsRecord {
                    host: creds.host,
                    port: creds.port,
                    database: creds.database,
                    username: creds.username,
                    password_sealed: sealed,
                },
                self.clock.now(),
                audit,
            )
            .await
    }
}
