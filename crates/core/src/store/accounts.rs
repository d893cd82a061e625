//! Accounts, roles, login bookkeeping and TOTP state.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::append;
use super::tokens::{insert_token, revoke_all};
use super::{Store, sql_err};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    AccountRecord, AccountStatus, AccountType, AuditEntry, LoginFailure, LoginSuccess, Profile,
    SourceFailures,
};

/// A (account, source) failure record idle this long and no longer locked is
/// pruned.
const PAIR_IDLE_SECS: i64 = 86_400;

/// The role that grants administration.
pub const ADMIN_ROLE: &str = "admin";

pub(super) const COLUMNS: &str =
    "id, username, account_type, status, password_hash, totp_secret_sealed,
    totp_enabled, totp_last_step, failed_logins, locked_until, created_at, updated_at,
    token_version, client_secret_hash, email, email_verified, display_name, given_name,
    family_name, last_login_at, password_change_required";

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<(AccountRecord, i64, i64)> {
    let t: i64 = r.get(2)?;
    let s: i64 = r.get(3)?;
    Ok((
        AccountRecord {
            id: r.get(0)?,
            username: r.get(1)?,
            account_type: AccountType::Human,
            status: AccountStatus::Active,
            password_hash: r.get(4)?,
            totp_secret_sealed: r.get(5)?,
            totp_enabled: r.get(6)?,
            totp_last_step: r.get(7)?,
            failed_logins: r.get(8)?,
            locked_until: r.get(9)?,
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
            token_version: r.get(12)?,
            client_secret_hash: r.get(13)?,
            last_login_at: r.get(19)?,
            password_change_required: r.get(20)?,
            profile: Profile {
                email: r.get(14)?,
                email_verified: r.get(15)?,
                display_name: r.get(16)?,
                given_name: r.get(17)?,
                family_name: r.get(18)?,
            },
        },
        t,
        s,
    ))
}

pub(super) fn finish((mut a, t, s): (AccountRecord, i64, i64)) -> Result<AccountRecord> {
    a.account_type = AccountType::from_i64(t)?;
    a.status = AccountStatus::from_i64(s)?;
    Ok(a)
}

fn get_by(c: &Connection, column: &str, value: &str) -> Result<Option<AccountRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE {column} = ?1");
    c.prepare_cached(&sql)
        .map_err(sql_err)?
        .query_row([value], from_row)
        .optional()
        .map_err(sql_err)?
        .map(finish)
        .transpose()
}

fn require(c: &Connection, id: &str) -> Result<AccountRecord> {
    get_by(c, "id", id)?.ok_or_else(|| Error::not_found("account"))
}

fn require_live(c: &Connection, id: &str) -> Result<AccountRecord> {
    let a = require(c, id)?;
    if a.status == AccountStatus::Deleted {
        return Err(Error::precondition(
            "account_deleted",
            "the account is deleted and cannot be changed",
        ));
    }
    Ok(a)
}

fn roles_of(c: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt = c
        .prepare_cached("SELECT role FROM account_roles WHERE account_id = ?1 ORDER BY role")
        .map_err(sql_err)?;
    let rows = stmt.query_map([id], |r| r.get(0)).map_err(sql_err)?;
    rows.collect::<rusqlite::Result<Vec<String>>>()
        .map_err(sql_err)
}

/// Refuses a change that would leave no active admin.
fn keep_an_admin(c: &Connection, changing: &str) -> Result<()> {
    let is_admin: bool = c
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM account_roles WHERE account_id = ?1 AND role = ?2)",
            params![changing, ADMIN_ROLE],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    if !is_admin {
        return Ok(());
    }
    let others: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM accounts a JOIN account_roles r ON r.account_id = a.id
         WHERE r.role = ?1 AND a.status = 1 AND a.id <> ?2",
            params![ADMIN_ROLE, changing],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    if others == 0 {
        return Err(Error::precondition(
            "last_admin",
            "this is the last active admin; grant the admin role to another active account first",
        ));
    }
    Ok(())
}

/// Invalidates every token of the account (the `uv` claim and refresh
/// tokens carry the version they were issued under).
fn bump_version(c: &Connection, id: &str) -> Result<()> {
    c.execute(
        "UPDATE accounts SET token_version = token_version + 1 WHERE id = ?1",
        [id],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn touch(c: &Connection, id: &str, now: i64) -> Result<()> {
    c.execute(
        "UPDATE accounts SET updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )
    .map_err(sql_err)?;
    Ok(())
}

impl Store {
    /// Creates an account with its roles.
    pub async fn create_account(
        &self,
        account: AccountRecord,
        roles: Vec<String>,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            let res = tx.execute(
                "INSERT INTO accounts (id, username, account_type, status, password_hash, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    account.id,
                    account.username,
                    account.account_type as i64,
                    account.status as i64,
                    account.password_hash,
                    account.created_at,
                    account.updated_at
                ],
            );
            match res {
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        "username_taken",
                        format!("an account named {:?} already exists", account.username),
                    ));
                }
                other => {
                    other.map_err(sql_err)?;
                }
            }
            for role in &roles {
                tx.execute(
                    "INSERT INTO account_roles (account_id, role) VALUES (?1, ?2)",
                    params![account.id, role],
                ).map_err(sql_err)?;
            }
            append(tx, &audit)
        })
        .await
    }

    /// An account by id (deleted ones included).
    pub async fn account(&self, id: String) -> Result<Option<AccountRecord>> {
        self.read(move |c| get_by(c, "id", &id)).await
    }

    /// An account by username (deleted ones included).
    pub async fn account_by_username(&self, username: String) -> Result<Option<AccountRecord>> {
        self.read(move |c| get_by(c, "username", &username)).await
    }

    /// Whether an account with the admin role exists and is active.
    pub async fn has_active_admin(&self) -> Result<bool> {
        self.read(|c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM accounts a JOIN account_roles r ON r.account_id = a.id
                 WHERE r.role = ?1 AND a.status = 1)",
                [ADMIN_ROLE],
                |r| r.get(0),
            )
            .map_err(sql_err)
        })
        .await
    }

    /// Accounts that are not deleted, in id (= creation) order, after
    /// `after_id`, at most `limit`.
    pub async fn list_accounts(
        &self,
        after_id: Option<String>,
        limit: u32,
    ) -> Result<Vec<AccountRecord>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM accounts WHERE status <> 4 AND (?1 IS NULL OR id > ?1)
                 ORDER BY id LIMIT ?2"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
            let rows = stmt
                .query_map(params![after_id, limit], from_row)
                .map_err(sql_err)?;
            rows.map(|r| r.map_err(sql_err).and_then(finish)).collect()
        })
        .await
    }

    /// Accounts whose username or lowercased email starts with `query`
    /// (already lowercase), in `status` (all but deleted when `None`), in id
    /// order after `after_id`, at most `limit`. Both prefixes are index
    /// ranges (the unique username index and `accounts_email_lower`).
    pub async fn search_accounts(
        &self,
        query: Option<String>,
        status: Option<AccountStatus>,
        after_id: Option<String>,
        limit: u32,
    ) -> Result<Vec<AccountRecord>> {
        self.read(move |c| {
            // The end of the prefix range: the query with its last
            // character's successor (U+10FFFF never ends a real name).
            let end = query.as_ref().map(|q| format!("{q}\u{10FFFF}"));
            // With a query, the two prefix ranges are read from their
            // indexes first (a narrow prefix touches only its matches);
            // without, the id order is the primary key's.
            let matching = if query.is_some() {
                "id IN (SELECT id FROM accounts WHERE username >= ?2 AND username < ?3
                        UNION SELECT id FROM accounts WHERE lower(email) >= ?2 AND lower(email) < ?3)"
            } else {
                "?2 IS NULL"
            };
            let sql = format!(
                "SELECT {COLUMNS} FROM accounts
                 WHERE {matching}
                   AND (?1 IS NULL OR status = ?1) AND (?1 IS NOT NULL OR status <> 4)
                   AND (?4 IS NULL OR id > ?4)
                 ORDER BY id LIMIT ?5"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
            let rows = stmt
                .query_map(
                    params![status.map(|s| s as i64), query, end, after_id, limit],
                    from_row,
                )
                .map_err(sql_err)?;
            rows.map(|r| r.map_err(sql_err).and_then(finish)).collect()
        })
        .await
    }

    /// Gives a live account a temporary password: the hash, the
    /// change-required flag, failures forgotten, the token version bumped
    /// (every session and token ends).
    pub async fn reset_password(
        &self,
        account_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            require_live(tx, &account_id)?;
            tx.execute(
                "UPDATE accounts SET password_hash = ?2, failed_logins = 0, locked_until = 0, updated_at = ?3,
                 password_change_required = 1 WHERE id = ?1",
                params![account_id, hash, now],
            )
            .map_err(sql_err)?;
            tx.execute("DELETE FROM login_failures WHERE account_id = ?1", [&account_id])
                .map_err(sql_err)?;
            bump_version(tx, &account_id)?;
            append(tx, &audit)
        })
        .await
    }

    /// Records a failed login for the (account, source) pair and for the
    /// account (the ceiling); prunes idle pairs. Returns the pair's state.
    pub async fn login_failed(&self, f: LoginFailure, audit: AuditEntry) -> Result<SourceFailures> {
        self.write(move |tx| {
            let now = f.now;
            tx.execute(
                "DELETE FROM login_failures WHERE last_failure < ?1 AND locked_until <= ?2",
                params![now.saturating_sub(PAIR_IDLE_SECS), now],
            )
            .map_err(sql_err)?;
            let source: i64 = tx
                .query_row(
                    "INSERT INTO login_failures (account_id, source, failures, locked_until, last_failure)
                     VALUES (?1, ?2, 1, 0, ?3)
                     ON CONFLICT (account_id, source) DO UPDATE
                     SET failures = failures + 1, last_failure = ?3
                     RETURNING failures",
                    params![f.account_id, f.source, now],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            let lock = (f.source_lock_secs)(source);
            let mut locked_until = 0;
            if lock > 0 {
                locked_until = now.saturating_add(lock);
                tx.execute(
                    "UPDATE login_failures SET locked_until = ?3 WHERE account_id = ?1 AND source = ?2",
                    params![f.account_id, f.source, locked_until],
                )
                .map_err(sql_err)?;
            }
            let failures: i64 = tx.query_row(
                "UPDATE accounts SET failed_logins = failed_logins + 1 WHERE id = ?1 RETURNING failed_logins",
                [&f.account_id],
                |r| r.get(0),
            ).map_err(sql_err)?;
            let lock = (f.account_lock_secs)(failures);
            if lock > 0 {
                tx.execute(
                    "UPDATE accounts SET locked_until = ?2 WHERE id = ?1",
                    params![f.account_id, now.saturating_add(lock)],
                ).map_err(sql_err)?;
            }
            append(tx, &audit)?;
            Ok(SourceFailures {
                failures: source,
                locked_until,
            })
        })
        .await
    }

    /// One source's failed logins against an account.
    pub async fn source_failures(
        &self,
        account_id: String,
        source: String,
    ) -> Result<SourceFailures> {
        self.read(move |c| {
            c.query_row(
                "SELECT failures, locked_until FROM login_failures WHERE account_id = ?1 AND source = ?2",
                params![account_id, source],
                |r| {
                    Ok(SourceFailures {
                        failures: r.get(0)?,
                        locked_until: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(sql_err)
            .map(Option::unwrap_or_default)
        })
        .await
    }

    /// Records a successful login atomically: resets the failure count,
    /// stores a re-hash, advances the TOTP step (refusing a replayed step) and
    /// records the token.
    pub async fn login_succeeded(&self, s: LoginSuccess, audit: AuditEntry) -> Result<()> {
        self.write(move |tx| {
            if let Some(step) = s.totp_step {
                let n = tx.execute(
                    "UPDATE accounts SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
                    params![s.account_id, step],
                ).map_err(sql_err)?;
                if n != 1 {
                    return Err(Error::unauthenticated());
                }
            }
            tx.execute(
                "UPDATE accounts SET failed_logins = 0, locked_until = 0, last_login_at = ?2 WHERE id = ?1",
                params![s.account_id, s.now],
            )
            .map_err(sql_err)?;
            tx.execute(
                "DELETE FROM login_failures WHERE account_id = ?1 AND source = ?2",
                params![s.account_id, s.source],
            )
            .map_err(sql_err)?;
            if let Some(h) = &s.new_hash {
                tx.execute(
                    "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                    params![s.account_id, h],
                )
                .map_err(sql_err)?;
            }
            if let Some(t) = &s.token {
                insert_token(tx, t)?;
            }
            if let Some(r) = &s.refresh {
                super::refresh::insert(tx, r)?;
            }
            if let Some((session, replaces)) = &s.session {
                super::oidc::insert_session(tx, session, replaces.as_deref())?;
            }
            append(tx, &audit)
        })
        .await
    }

    /// Replaces an account's profile; returns the updated account.
    pub async fn set_profile(
        &self,
        account_id: String,
        profile: Profile,
        now: i64,
        audit: AuditEntry,
    ) -> Result<AccountRecord> {
        self.write(move |tx| {
            require_live(tx, &account_id)?;
            tx.execute(
                "UPDATE accounts SET email = ?2, email_verified = ?3, display_name = ?4,
                 given_name = ?5, family_name = ?6, updated_at = ?7 WHERE id = ?1",
                params![
                    account_id,
                    profile.email,
                    profile.email_verified,
                    profile.display_name,
                    profile.given_name,
                    profile.family_name,
                    now
                ],
            )
            .map_err(sql_err)?;
            append(tx, &audit)?;
            require(tx, &account_id)
        })
        .await
    }

    /// Replaces a password hash.
    pub async fn set_password(
        &self,
        account_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            require_live(tx, &account_id)?;
            tx.execute(
                "UPDATE accounts SET password_hash = ?2, failed_logins = 0, locked_until = 0, updated_at = ?3,
                 password_change_required = 0 WHERE id = ?1",
                params![account_id, hash, now],
            ).map_err(sql_err)?;
            tx.execute(
                "DELETE FROM login_failures WHERE account_id = ?1",
                [&account_id],
            )
            .map_err(sql_err)?;
            bump_version(tx, &account_id)?;
            append(tx, &audit)
        })
        .await
    }

    /// Changes the status; leaving ACTIVE revokes every live token of the
    /// account. Returns the updated account and the revoked (jti, expiry).
    pub async fn set_status(
        &self,
        account_id: String,
        status: AccountStatus,
        now: i64,
        audit: AuditEntry,
    ) -> Result<(AccountRecord, Vec<(String, i64)>)> {
        self.write(move |tx| {
            let current = require_live(tx, &account_id)?;
            let mut revoked = Vec::new();
            if status != AccountStatus::Active {
                if current.status == AccountStatus::Active {
                    keep_an_admin(tx, &account_id)?;
                }
                revoked = revoke_all(tx, &account_id, status.as_str(), now)?;
                bump_version(tx, &account_id)?;
            }
            tx.execute(
                "UPDATE accounts SET status = ?2, updated_at = ?3 WHERE id = ?1",
                params![account_id, status as i64, now],
            )
            .map_err(sql_err)?;
            append(tx, &audit)?;
            Ok((require(tx, &account_id)?, revoked))
        })
        .await
    }

    /// Stores a pending (unconfirmed) TOTP secret. Refused when TOTP is
    /// already enabled.
    pub async fn set_totp_pending(
        &self,
        account_id: String,
        sealed: Vec<u8>,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            let a = require_live(tx, &account_id)?;
            if a.totp_enabled {
                return Err(Error::precondition(
                    "totp_already_enabled",
                    "TOTP is already enabled for this account; an admin must remove it first",
                ));
            }
            tx.execute(
                "UPDATE accounts SET totp_secret_sealed = ?2, totp_enabled = 0, updated_at = ?3 WHERE id = ?1",
                params![account_id, sealed, now],
            ).map_err(sql_err)?;
            append(tx, &audit)
        })
        .await
    }

    /// Activates the pending TOTP secret, recording `step` as used.
    pub async fn confirm_totp(
        &self,
        account_id: String,
        step: i64,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE accounts SET totp_enabled = 1, totp_last_step = ?2, updated_at = ?3
                 WHERE id = ?1 AND totp_enabled = 0 AND totp_secret_sealed IS NOT NULL AND totp_last_step < ?2",
                params![account_id, step, now],
            ).map_err(sql_err)?;
            if n != 1 {
                return Err(Error::precondition(
                    "totp_not_pending",
                    "no TOTP enrollment is pending for this account (or the code was already used)",
                ));
            }
            append(tx, &audit)
        })
        .await
    }

    /// Removes the TOTP factor. Returns false when none was enrolled.
    pub async fn clear_totp(
        &self,
        account_id: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<bool> {
        self.write(move |tx| {
            let a = require_live(tx, &account_id)?;
            if a.totp_secret_sealed.is_none() {
                return Ok(false);
            }
            tx.execute(
                "UPDATE accounts SET totp_secret_sealed = NULL, totp_enabled = 0, updated_at = ?2 WHERE id = ?1",
                params![account_id, now],
            ).map_err(sql_err)?;
            bump_version(tx, &account_id)?;
            append(tx, &audit)?;
            Ok(true)
        })
        .await
    }

    /// Invalidates every token of an account ("sign out everywhere").
    pub async fn sign_out_everywhere(
        &self,
        account_id: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            require_live(tx, &account_id)?;
            bump_version(tx, &account_id)?;
            touch(tx, &account_id, now)?;
            append(tx, &audit)
        })
        .await
    }

    /// Stores the hash of a system account's new client secret.
    pub async fn set_client_secret(
        &self,
        account_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            let a = require_live(tx, &account_id)?;
            if a.account_type != AccountType::System {
                return Err(Error::precondition(
                    "not_system_account",
                    "client secrets are for system accounts only",
                ));
            }
            tx.execute(
                "UPDATE accounts SET client_secret_hash = ?2, updated_at = ?3 WHERE id = ?1",
                params![account_id, hash, now],
            )
            .map_err(sql_err)?;
            append(tx, &audit)
        })
        .await
    }

    /// Every account's token version (start-up).
    pub async fn token_versions(&self) -> Result<Vec<(String, i64)>> {
        self.read(|c| {
            let mut stmt = c
                .prepare("SELECT id, token_version FROM accounts")
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
        })
        .await
    }

    /// An account's roles, sorted.
    pub async fn roles(&self, account_id: String) -> Result<Vec<String>> {
        self.read(move |c| {
            require(c, &account_id)?;
            roles_of(c, &account_id)
        })
        .await
    }

    /// Replaces an account's roles; refuses to remove the last active admin.
    pub async fn set_roles(
        &self,
        account_id: String,
        roles: Vec<String>,
        now: i64,
        audit: AuditEntry,
    ) -> Result<Vec<String>> {
        self.write(move |tx| {
            let a = require_live(tx, &account_id)?;
            if a.status == AccountStatus::Active && !roles.iter().any(|r| r == ADMIN_ROLE) {
                keep_an_admin(tx, &account_id)?;
            }
            tx.execute(
                "DELETE FROM account_roles WHERE account_id = ?1",
                [&account_id],
            )
            .map_err(sql_err)?;
            for role in &roles {
                tx.execute(
                    "INSERT OR IGNORE INTO account_roles (account_id, role) VALUES (?1, ?2)",
                    params![account_id, role],
                )
                .map_err(sql_err)?;
            }
            touch(tx, &account_id, now)?;
            bump_version(tx, &account_id)?;
            append(tx, &audit)?;
            roles_of(tx, &account_id)
        })
        .await
    }
}
