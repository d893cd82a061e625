//! Account administration, roles, stored database credentials and the audit
//! log view.

use serde_json::json;
use zeroize::Zeroizing;

use super::auth::check_new_password;
use super::{Caller, Idm};
use crate::crypto::seal::Aad;
use crate::error::{Error, Result};
use crate::model::{
    AccountRecord, AccountStatus, AccountType, AuditFilter, AuditRecord, Outcome, PgCredsRecord,
};

/// Default page size for listings.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size; larger requests are clamped.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Most roles an account may hold.
pub const MAX_ROLES: usize = 32;

/// One page of a listing.
pub struct AccountPage {
    /// The accounts.
    pub accounts: Vec<AccountRecord>,
    /// The token for the next page, empty on the last.
    pub next_page_token: String,
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

fn pg_aad(account_id: &str) -> Aad<'_> {
    Aad::new("pg_credentials", "password_sealed", account_id)
}

/// Validates and normalizes (lowercases) a username.
pub fn normalize_username(raw: &str) -> Result<String> {
    let u = raw.to_lowercase();
    let ok_len = (2..=64).contains(&u.len());
    let ok_chars = u
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    let ok_start = u.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if !(ok_len && ok_chars && ok_start) {
        return Err(Error::invalid(
            "invalid_username",
            "username must be 2 to 64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    Ok(u)
}

/// Validates a role list; returns it sorted and deduplicated.
pub fn normalize_roles(roles: &[String]) -> Result<Vec<String>> {
    if roles.len() > MAX_ROLES {
        return Err(Error::invalid(
            "too_many_roles",
            format!("at most {MAX_ROLES} roles"),
        ));
    }
    let mut out = Vec::with_capacity(roles.len());
    for r in roles {
        let ok = (1..=64).contains(&r.len())
            && r.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b':' | b'.')
            });
        if !ok {
            return Err(Error::invalid(
                "invalid_role",
                format!(
                    "role {:?} is invalid: use 1 to 64 lowercase letters, digits, '_', '-', ':' or '.'",
                    r.chars().take(70).collect::<String>()
                ),
            ));
        }
        out.push(r.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn encode_page_token(prefix: &str, last: &str) -> String {
    crate::crypto::b64url(format!("{prefix}:{last}").as_bytes())
}

fn decode_page_token(prefix: &str, token: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Error::invalid(
            "invalid_page_token",
            "page_token is not one this listing returned",
        )
    };
    let raw = crate::crypto::b64url_decode(token).ok_or_else(bad)?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let rest = text
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    Ok(Some(rest.to_owned()))
}

fn page_size(requested: i32) -> Result<u32> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(Error::invalid(
            "invalid_page_size",
            "page_size must not be negative",
        )),
        n => Ok(u32::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE)),
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("missing_id", "an account id is required"));
    }
    if id.len() > 64 {
        return Err(Error::invalid("invalid_id", "account id is too long"));
    }
    Ok(())
}

impl Idm {
    pub(super) async fn create_account_inner(
        &self,
        caller: &Caller,
        username: &str,
        account_type: AccountType,
        password: Option<Zeroizing<String>>,
        roles: Vec<String>,
        how: &str,
    ) -> Result<AccountRecord> {
        let username = normalize_username(username)?;
        let hash = match (account_type, password) {
            (AccountType::Human, Some(pw)) if !pw.is_empty() => {
                check_new_password(&pw)?;
                Some(self.hasher.hash(pw).await?)
            }
            (AccountType::Human, _) => {
                return Err(Error::invalid(
                    "password_required",
                    "human accounts need a password",
                ));
            }
            (AccountType::System, Some(pw)) if !pw.is_empty() => {
                return Err(Error::invalid(
                    "password_not_allowed",
                    "system accounts have no password; issue a service token instead",
                ));
            }
            (AccountType::System, _) => None,
        };
        let now = self.clock.now();
        let account = AccountRecord {
            id: uuid::Uuid::now_v7().to_string(),
            username,
            account_type,
            status: AccountStatus::Active,
            password_hash: hash,
            totp_secret_sealed: None,
            totp_enabled: false,
            totp_last_step: 0,
            failed_logins: 0,
            locked_until: 0,
            created_at: now,
            updated_at: now,
            token_version: 1,
            client_secret_hash: None,
        };
        let mut audit = self.audit(
            "account_create",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "username": account.username, "type": account_type.as_str(), "roles": roles, "via": how }),
        );
        if how.starts_with("mciasdb") {
            audit.actor_id = Some("mciasdb".to_owned());
        }
        self.store
            .create_account(account.clone(), roles, audit)
            .await?;
        self.versions.set(account.id.clone(), account.token_version);
        Ok(account)
    }

    /// Creates the first admin account (offline tool). Refused when an active
    /// admin exists. The audit actor is `mciasdb`.
    pub async fn bootstrap_admin(
        &self,
        username: &str,
        password: Zeroizing<String>,
    ) -> Result<AccountRecord> {
        let has_admin = self.store.has_active_admin().await?;
        if has_admin {
            return Err(Error::precondition(
                "admin_exists",
                "an active admin account already exists; use it to create more accounts",
            ));
        }
        let caller = Caller::default();
        let mut account = self
            .create_account_inner(
                &caller,
                username,
                AccountType::Human,
                Some(password),
                vec![super::ADMIN_ROLE.to_owned()],
                "mciasdb bootstrap-admin",
            )
            .await?;
        account.password_hash = None;
        Ok(account)
    }

    /// Creates an account.
    pub async fn create_account(
        &self,
        caller: &Caller,
        username: &str,
        account_type: AccountType,
        password: Option<Zeroizing<String>>,
    ) -> Result<AccountRecord> {
        let offline = caller
            .principal
            .as_ref()
            .is_some_and(|p| p.account_id == super::OFFLINE_ACTOR);
        let how = if offline { "mciasdb" } else { "api" };
        self.create_account_inner(caller, username, account_type, password, Vec::new(), how)
            .await
    }

    /// One page of accounts that are not deleted.
    pub async fn list_accounts(&self, page_size_req: i32, page_token: &str) -> Result<AccountPage> {
        let size = page_size(page_size_req)?;
        let after = decode_page_token("a", page_token)?;
        let mut accounts = self.store.list_accounts(after, size + 1).await?;
        let next_page_token = if accounts.len() > size as usize {
            accounts.truncate(size as usize);
            accounts
                .last()
                .map(|a| encode_page_token("a", &a.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(AccountPage {
            accounts,
            next_page_token,
        })
    }

    /// One account.
    pub async fn get_account(&self, id: &str) -> Result<AccountRecord> {
        check_id(id)?;
        self.store
            .account(id.to_owned())
            .await?
            .ok_or_else(|| Error::not_found("account"))
    }

    async fn change_status(
        &self,
        caller: &Caller,
        id: &str,
        status: AccountStatus,
        event: &'static str,
    ) -> Result<AccountRecord> {
        check_id(id)?;
        let audit = self.audit(
            event,
            caller,
            Some(id),
            Outcome::Success,
            json!({ "status": status.as_str() }),
        );
        let (account, revoked) = self
            .store
            .set_status(id.to_owned(), status, self.clock.now(), audit)
            .await?;
        if !revoked.is_empty() {
            tracing::info!(account_id = %id, count = revoked.len(), "revoked the account's tokens");
        }
        self.mirror_revocations(revoked);
        self.versions.set(account.id.clone(), account.token_version);
        Ok(account)
    }

    /// Changes an account's status (not to DELETED; see `delete_account`).
    pub async fn update_status(
        &self,
        caller: &Caller,
        id: &str,
        status: AccountStatus,
    ) -> Result<AccountRecord> {
        if status == AccountStatus::Deleted {
            return Err(Error::invalid(
                "use_delete",
                "status DELETED cannot be set with UpdateAccount; call DeleteAccount",
            ));
        }
        self.change_status(caller, id, status, "account_update")
            .await
    }

    /// Soft-deletes an account and revokes all its tokens.
    pub async fn delete_account(&self, caller: &Caller, id: &str) -> Result<()> {
        self.change_status(caller, id, AccountStatus::Deleted, "account_delete")
            .await
            .map(|_| ())
    }

    /// An account's roles.
    pub async fn get_roles(&self, account_id: &str) -> Result<Vec<String>> {
        check_id(account_id)?;
        self.store.roles(account_id.to_owned()).await
    }

    /// Replaces an account's roles.
    pub async fn set_roles(
        &self,
        caller: &Caller,
        account_id: &str,
        roles: &[String],
    ) -> Result<Vec<String>> {
        check_id(account_id)?;
        let roles = normalize_roles(roles)?;
        let audit = self.audit(
            "roles_set",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({ "roles": roles }),
        );
        let roles = self
            .store
            .set_roles(account_id.to_owned(), roles, self.clock.now(), audit)
            .await?;
        self.sync_version(account_id).await?;
        Ok(roles)
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

    /// A page of audit events, newest first.
    pub async fn list_audit(
        &self,
        mut filter: AuditFilter,
        page_size_req: i32,
        page_token: &str,
    ) -> Result<(Vec<AuditRecord>, String)> {
        let size = page_size(page_size_req)?;
        filter.before_id = match decode_page_token("e", page_token)? {
            Some(v) => Some(v.parse().map_err(|_| {
                Error::invalid(
                    "invalid_page_token",
                    "page_token is not one this listing returned",
                )
            })?),
            None => None,
        };
        if filter.event_type.as_deref().is_some_and(|t| t.len() > 64) {
            return Err(Error::invalid(
                "invalid_event_type",
                "event_type is too long",
            ));
        }
        let mut events = self.store.list_audit(filter, size + 1).await?;
        let next = if events.len() > size as usize {
            events.truncate(size as usize);
            events
                .last()
                .map(|e| encode_page_token("e", &e.id.to_string()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((events, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(normalize_username("Alice").ok(), Some("alice".into()));
        assert!(normalize_username("a").is_err());
        assert!(normalize_username("-bob").is_err());
        assert!(normalize_username("bob smith").is_err());
        assert!(normalize_username(&"x".repeat(65)).is_err());
        assert!(normalize_username("svc.backup-01").is_ok());
    }

    #[test]
    fn roles() {
        let r = normalize_roles(&["b".into(), "a".into(), "b".into()]);
        assert_eq!(r.ok(), Some(vec!["a".into(), "b".into()]));
        assert!(normalize_roles(&["Admin".into()]).is_err());
        assert!(normalize_roles(&[String::new()]).is_err());
    }

    #[test]
    fn page_tokens() -> Result<()> {
        let t = encode_page_token("a", "id-9");
        assert_eq!(decode_page_token("a", &t)?, Some("id-9".into()));
        assert!(decode_page_token("e", &t).is_err());
        assert!(decode_page_token("a", "!!").is_err());
        assert_eq!(decode_page_token("a", "")?, None);
        Ok(())
    }
}
