//! Account administration: creation (and the first admin), listing,
//! status, deletion, roles and the last-admin rule; paging tokens shared with
//! the audit view.

use super::Caller;
use super::Idm;
use super::credentials::check_new_password;
use crate::error::Error;
use crate::error::Result;
use crate::model::AccountRecord;
use crate::model::AccountStatus;
use crate::model::AccountType;
use crate::model::Outcome;
use crate::model::Profile;
use serde_json::json;
use zeroize::Zeroizing;

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

/// Longest email address, in bytes.
pub const MAX_EMAIL_BYTES: usize = 254;

/// Longest name (display, given or family), in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A requested profile change: `None` leaves a field as it is; for the text
/// fields `Some("")` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New email address.
    pub email: Option<String>,
    /// New verification flag (admins only).
    pub email_verified: Option<bool>,
    /// New display name.
    pub display_name: Option<String>,
    /// New given name.
    pub given_name: Option<String>,
    /// New family name.
    pub family_name: Option<String>,
}

/// Validates an email address: one '@', no whitespace or control
/// characters, at most 254 bytes, non-empty local part and domain. Returns it
/// with the domain lowercased.
pub fn normalize_email(raw: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid("invalid_email", format!("email is invalid: {why}"));
    if raw.len() > MAX_EMAIL_BYTES {
        return Err(bad("at most 254 bytes"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("no spaces or control characters"));
    }
    let mut parts = raw.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("exactly one '@'"));
    };
    if local.is_empty() || domain.is_empty() {
        return Err(bad("a local part and a domain are required"));
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// Validates a name field (display, given or family name).
pub fn check_name(field: &str, raw: &str) -> Result<()> {
    if raw.chars().count() > MAX_NAME_CHARS || raw.chars().any(char::is_control) {
        return Err(Error::invalid(
            "invalid_profile",
            format!(
                "{field} must be at most {MAX_NAME_CHARS} characters without control characters"
            ),
        ));
    }
    Ok(())
}

fn text(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
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

pub(super) fn encode_page_token(prefix: &str, last: &str) -> String {
    crate::crypto::b64url(format!("{prefix}:{last}").as_bytes())
}

/// Truncates a listing fetched with one item beyond `size` to `size` items
/// and returns the next page's token (empty when there is no more).
pub(super) fn cut_page<T>(
    items: &mut Vec<T>,
    size: u32,
    prefix: &str,
    key: impl Fn(&T) -> &str,
) -> String {
    if items.len() > size as usize {
        items.truncate(size as usize);
        items
            .last()
            .map(|last| encode_page_token(prefix, key(last)))
            .unwrap_or_default()
    } else {
        String::new()
    }
}

pub(super) fn decode_page_token(prefix: &str, token: &str) -> Result<Option<String>> {
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

pub(super) fn page_size(requested: i32) -> Result<u32> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(Error::invalid(
            "invalid_page_size",
            "page_size must not be negative",
        )),
        n => Ok(u32::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE)),
    }
}

pub(super) fn check_id(id: &str) -> Result<()> {
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
            last_login_at: None,
            password_change_required: false,
            profile: Profile::default(),
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

    /// One page of the accounts whose username or email starts with `query`
    /// (case-insensitive; empty for all) in `status` (all but deleted when
    /// `None`).
    pub async fn search_accounts(
        &self,
        page_size_req: i32,
        page_token: &str,
        query: &str,
        status: Option<AccountStatus>,
    ) -> Result<AccountPage> {
        if query.chars().count() > 254 || query.chars().any(char::is_control) {
            return Err(Error::invalid(
                "invalid_query",
                "query: at most 254 characters, no control characters",
            ));
        }
        let size = page_size(page_size_req)?;
        let after = decode_page_token("a", page_token)?;
        let q = query.trim().to_lowercase();
        let mut accounts = self
            .store
            .search_accounts((!q.is_empty()).then_some(q), status, after, size + 1)
            .await?;
        let next_page_token = cut_page(&mut accounts, size, "a", |a| &a.id);
        Ok(AccountPage {
            accounts,
            next_page_token,
        })
    }

    /// ResetPassword (admin): a random temporary password for a human
    /// account, returned once; every session and token of the account ends
    /// and the next sign-in must choose a new password. Audited as
    /// `password_reset` (never the password).
    pub async fn reset_password(
        &self,
        caller: &Caller,
        account_id: &str,
    ) -> Result<Zeroizing<String>> {
        check_id(account_id)?;
        let account = self.get_account(account_id).await?;
        if account.account_type != AccountType::Human {
            return Err(Error::precondition(
                "not_human",
                "only human accounts have passwords; rotate a system account's client secret instead",
            ));
        }
        if account.status == AccountStatus::Deleted {
            return Err(Error::not_found("account"));
        }
        // 20 characters of 31 without look-alikes: about 99 bits.
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
        let bytes: Zeroizing<[u8; 20]> =
            Zeroizing::new(crate::clock::random_array(self.rng.as_ref()));
        let mut temporary = Zeroizing::new(String::with_capacity(24));
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                temporary.push('-');
            }
            temporary.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
        }
        let hash = self.hasher.hash(temporary.clone()).await?;
        let audit = self.audit(
            "password_reset",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({ "temporary": true }),
        );
        self.store
            .reset_password(account_id.to_owned(), hash, self.clock.now(), audit)
            .await?;
        self.sync_version(account_id).await?;
        Ok(temporary)
    }

    /// One page of accounts that are not deleted.
    pub async fn list_accounts(&self, page_size_req: i32, page_token: &str) -> Result<AccountPage> {
        let size = page_size(page_size_req)?;
        let after = decode_page_token("a", page_token)?;
        let mut accounts = self.store.list_accounts(after, size + 1).await?;
        let next_page_token = cut_page(&mut accounts, size, "a", |a| &a.id);
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

    pub(super) async fn change_status(
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

    /// Changes an account's profile: the account itself (all but
    /// `email_verified`) or an admin (everything). A new email clears
    /// `email_verified` unless an admin sets it in the same change. The audit
    /// event (`profile_update`) names the changed fields, not their values.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        account_id: &str,
        update: ProfileUpdate,
    ) -> Result<AccountRecord> {
        check_id(account_id)?;
        let admin = caller.self_or_admin(account_id)?.is_admin();
        if update.email_verified.is_some() && !admin {
            return Err(Error::new(
                crate::error::ErrorKind::PermissionDenied,
                "admin_only_field",
                "only an admin can set email_verified",
            ));
        }
        let email = update
            .email
            .map(|e| {
                if e.is_empty() {
                    Ok(e)
                } else {
                    normalize_email(&e)
                }
            })
            .transpose()?;
        for (field, v) in [
            ("display_name", &update.display_name),
            ("given_name", &update.given_name),
            ("family_name", &update.family_name),
        ] {
            if let Some(v) = v {
                check_name(field, v)?;
            }
        }
        let current = self.get_account(account_id).await?;
        let mut p = current.profile.clone();
        let mut changed = Vec::new();
        if let Some(e) = email {
            let e = text(e);
            if e != p.email {
                p.email = e;
                p.email_verified = false;
            }
            changed.push("email");
        }
        if let Some(v) = update.email_verified {
            if v && p.email.is_none() {
                return Err(Error::invalid(
                    "invalid_profile",
                    "email_verified cannot be set without an email",
                ));
            }
            p.email_verified = v;
            changed.push("email_verified");
        }
        if let Some(v) = update.display_name {
            p.display_name = text(v);
            changed.push("display_name");
        }
        if let Some(v) = update.given_name {
            p.given_name = text(v);
            changed.push("given_name");
        }
        if let Some(v) = update.family_name {
            p.family_name = text(v);
            changed.push("family_name");
        }
        let audit = self.audit(
            "profile_update",
            caller,
            Some(account_id),
            Outcome::Success,
            json!({ "fields": changed }),
        );
        self.store
            .set_profile(account_id.to_owned(), p, self.clock.now(), audit)
            .await
    }

    /// The console overview's counts (admin).
    pub async fn counts(&self, caller: &Caller) -> Result<crate::model::Counts> {
        if !caller.principal()?.is_admin() {
            return Err(Error::denied("the overview is for admins"));
        }
        self.store.counts(self.clock.now()).await
    }
}
