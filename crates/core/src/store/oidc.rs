//! The OpenID Connect provider's records: browser sessions (by the hash of
//! the cookie value), remembered consents, authorization codes (by the hash
//! of the code, single use) and the grants that bind a refresh-token family
//! to an application and a browser session.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::append;
use super::refresh::{insert as insert_refresh, revoke_family};
use super::tokens::insert_token;
use super::{Store, sql_err};
use crate::error::{Error, Result};
use crate::model::{
    AuditEntry, AuthCode, CodeOutcome, Counts, FamilyInfo, NewRefresh, NewToken, OAuthGrant,
    SessionStage, WebSession,
};

fn to_json(v: &[String]) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(format!("list column: {e}")))
}

fn from_json(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| Error::internal(format!("stored list: {e}")))
}

const SESSION_COLUMNS: &str = "id_hash, sid, account_id, token_version, stage, amr, auth_time, \
     created_at, last_seen, expires_at, ended_at, peer, user_agent";

type RawSession = (WebSession, i64, String);

fn session_row(r: &Row<'_>) -> rusqlite::Result<RawSession> {
    Ok((
        WebSession {
            id_hash: r.get(0)?,
            sid: r.get(1)?,
            account_id: r.get(2)?,
            token_version: r.get(3)?,
            stage: SessionStage::SignedIn,
            amr: Vec::new(),
            auth_time: r.get(6)?,
            created_at: r.get(7)?,
            last_seen: r.get(8)?,
            expires_at: r.get(9)?,
            ended_at: r.get(10)?,
            peer: r.get(11)?,
            user_agent: r.get(12)?,
        },
        r.get(4)?,
        r.get(5)?,
    ))
}

fn finish_session((mut s, stage, amr): RawSession) -> Result<WebSession> {
    s.stage = SessionStage::from_i64(stage)?;
    s.amr = from_json(&amr)?;
    Ok(s)
}

const CODE_COLUMNS: &str = "code_hash, client_id, account_id, redirect_uri, scope, nonce, \
     code_challenge, sid, auth_time, amr, created_at, expires_at, used_at, family_id";

fn code_row(r: &Row<'_>) -> rusqlite::Result<(AuthCode, String)> {
    Ok((
        AuthCode {
            code_hash: r.get(0)?,
            client_id: r.get(1)?,
            account_id: r.get(2)?,
            redirect_uri: r.get(3)?,
            scope: r.get(4)?,
            nonce: r.get(5)?,
            code_challenge: r.get(6)?,
            sid: r.get(7)?,
            auth_time: r.get(8)?,
            amr: Vec::new(),
            created_at: r.get(10)?,
            expires_at: r.get(11)?,
            used_at: r.get(12)?,
            family_id: r.get(13)?,
        },
        r.get(9)?,
    ))
}

fn finish_code((mut c, amr): (AuthCode, String)) -> Result<AuthCode> {
    c.amr = from_json(&amr)?;
    Ok(c)
}

fn grant_row(r: &Row<'_>) -> rusqlite::Result<(OAuthGrant, String)> {
    Ok((
        OAuthGrant {
            family_id: r.get(0)?,
            client_id: r.get(1)?,
            account_id: r.get(2)?,
            scope: r.get(3)?,
            sid: r.get(4)?,
            auth_time: r.get(5)?,
            amr: Vec::new(),
            created_at: r.get(7)?,
        },
        r.get(6)?,
    ))
}

/// Revokes every grant issued from browser session `sid`.
fn revoke_session_grants(c: &Connection, sid: &str, now: i64) -> Result<Vec<(String, i64)>> {
    let families: Vec<String> = {
        let mut stmt = c
            .prepare_cached("SELECT family_id FROM oauth_grants WHERE sid = ?1")
            .map_err(sql_err)?;
        let rows = stmt.query_map([sid], |r| r.get(0)).map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)?
    };
    let mut revoked = Vec::new();
    for f in families {
        revoked.extend(revoke_family(c, &f, now, "session_end")?);
    }
    Ok(revoked)
}

/// Inserts a session, deleting the one it replaces.
pub(super) fn insert_session(
    tx: &Connection,
    session: &WebSession,
    replaces: Option<&str>,
) -> Result<()> {
    if let Some(old) = replaces {
        tx.execute("DELETE FROM web_sessions WHERE id_hash = ?1", [old])
            .map_err(sql_err)?;
    }
    tx.execute(
        &format!(
            "INSERT INTO web_sessions ({SESSION_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            session.id_hash,
            session.sid,
            session.account_id,
            session.token_version,
            session.stage as i64,
            to_json(&session.amr)?,
            session.auth_time,
            session.created_at,
            session.last_seen,
            session.expires_at,
            session.ended_at,
            session.peer,
            session.user_agent,
        ],
    )
    .map_err(sql_err)?;
    Ok(())
}

impl Store {
    /// Records a browser session, removing the one it replaces (the
    /// pre-second-factor session at sign-in: the id is rotated).
    pub async fn create_web_session(
        &self,
        session: WebSession,
        replaces: Option<String>,
        audit: Option<AuditEntry>,
    ) -> Result<()> {
        self.write(move |tx| {
            insert_session(tx, &session, replaces.as_deref())?;
            if let Some(a) = audit {
                append(tx, &a)?;
            }
            Ok(())
        })
        .await
    }

    /// A browser session by the hash of its cookie value (ended ones too).
    pub async fn web_session(&self, id_hash: String) -> Result<Option<WebSession>> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM web_sessions WHERE id_hash = ?1"),
                [id_hash],
                session_row,
            )
            .optional()
            .map_err(sql_err)?
            .map(finish_session)
            .transpose()
        })
        .await
    }

    /// Records activity on a session (the idle timeout counts from here).
    pub async fn touch_web_session(&self, id_hash: String, now: i64) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE web_sessions SET last_seen = ?2 WHERE id_hash = ?1 AND ended_at IS NULL",
                params![id_hash, now],
            )
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    /// Ends a browser session (by its public `sid`) and revokes every grant
    /// issued from it; returns the access tokens revoked (jti, expiry).
    /// Ending an ended or unknown session changes nothing.
    pub async fn end_web_session(
        &self,
        sid: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<Vec<(String, i64)>> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE web_sessions SET ended_at = ?2 WHERE sid = ?1 AND ended_at IS NULL",
                    params![sid, now],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Ok(Vec::new());
            }
            let revoked = revoke_session_grants(tx, &sid, now)?;
            append(tx, &audit)?;
            Ok(revoked)
        })
        .await
    }

    /// An account's sessions that have not ended or expired, newest first.
    pub async fn account_web_sessions(
        &self,
        account_id: String,
        now: i64,
    ) -> Result<Vec<WebSession>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM web_sessions
                     WHERE account_id = ?1 AND ended_at IS NULL AND expires_at > ?2 AND stage = 2
                       AND token_version = (SELECT token_version FROM accounts WHERE id = ?1)
                     ORDER BY created_at DESC LIMIT 100"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![account_id, now], session_row)
                .map_err(sql_err)?;
            rows.map(|r| r.map_err(sql_err).and_then(finish_session))
                .collect()
        })
        .await
    }

    /// The scopes an account consented to for an application, if it asked
    /// for its decision to be remembered.
    pub async fn consent(
        &self,
        account_id: String,
        client_id: String,
    ) -> Result<Option<Vec<String>>> {
        self.read(move |c| {
            c.query_row(
                "SELECT scopes FROM oauth_consents WHERE account_id = ?1 AND client_id = ?2",
                params![account_id, client_id],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(sql_err)?
            .map(|s| from_json(&s))
            .transpose()
        })
        .await
    }

    /// Remembers consent (replacing what was remembered before).
    pub async fn set_consent(
        &self,
        account_id: String,
        client_id: String,
        scopes: Vec<String>,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO oauth_consents (account_id, client_id, scopes, granted_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = ?3, granted_at = ?4",
                params![account_id, client_id, to_json(&scopes)?, now],
            )
            .map_err(sql_err)?;
            append(tx, &audit)
        })
        .await
    }

    /// Records an authorization code.
    pub async fn insert_auth_code(&self, code: AuthCode, audit: AuditEntry) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO auth_codes ({CODE_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    code.code_hash,
                    code.client_id,
                    code.account_id,
                    code.redirect_uri,
                    code.scope,
                    code.nonce,
                    code.code_challenge,
                    code.sid,
                    code.auth_time,
                    to_json(&code.amr)?,
                    code.created_at,
                    code.expires_at,
                    code.used_at,
                    code.family_id,
                ],
            )
            .map_err(sql_err)?;
            append(tx, &audit)
        })
        .await
    }

    /// Uses up an authorization code, in one transaction: a fresh one is
    /// marked used; a used one revokes the grant it was exchanged for and
    /// records `reuse_audit`.
    pub async fn take_auth_code(
        &self,
        code_hash: String,
        now: i64,
        reuse_audit: AuditEntry,
    ) -> Result<CodeOutcome> {
        self.write(move |tx| {
            let code = tx
                .query_row(
                    &format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_hash = ?1"),
                    [&code_hash],
                    code_row,
                )
                .optional()
                .map_err(sql_err)?
                .map(finish_code)
                .transpose()?;
            let Some(code) = code else {
                return Ok(CodeOutcome::Invalid);
            };
            if code.used_at.is_some() {
                let revoked = match &code.family_id {
                    Some(f) => revoke_family(tx, f, now, "code_reuse")?,
                    None => Vec::new(),
                };
                append(tx, &reuse_audit)?;
                return Ok(CodeOutcome::Reused(code, revoked));
            }
            if code.expires_at < now {
                return Ok(CodeOutcome::Invalid);
            }
            tx.execute(
                "UPDATE auth_codes SET used_at = ?2 WHERE code_hash = ?1",
                params![code_hash, now],
            )
            .map_err(sql_err)?;
            Ok(CodeOutcome::Fresh(code))
        })
        .await
    }

    /// Records what an application was issued in one transaction: the
    /// grant, its first access token, its refresh token (if any), and on
    /// the code it was exchanged for (if any) the grant's family.
    pub async fn issue_grant(
        &self,
        grant: OAuthGrant,
        code_hash: Option<String>,
        access: NewToken,
        refresh: Option<NewRefresh>,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO oauth_grants (family_id, client_id, account_id, scope, sid, auth_time, amr, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    grant.family_id,
                    grant.client_id,
                    grant.account_id,
                    grant.scope,
                    grant.sid,
                    grant.auth_time,
                    to_json(&grant.amr)?,
                    grant.created_at,
                ],
            )
            .map_err(sql_err)?;
            insert_token(tx, &access)?;
            if let Some(r) = &refresh {
                insert_refresh(tx, r)?;
            }
            if let Some(h) = code_hash {
                tx.execute(
                    "UPDATE auth_codes SET family_id = ?2 WHERE code_hash = ?1",
                    params![h, grant.family_id],
                )
                .map_err(sql_err)?;
            }
            append(tx, &audit)
        })
        .await
    }

    /// The grant behind a refresh-token family, if it was issued to an
    /// application.
    pub async fn oauth_grant(&self, family_id: String) -> Result<Option<OAuthGrant>> {
        self.read(move |c| {
            c.query_row(
                "SELECT family_id, client_id, account_id, scope, sid, auth_time, amr, created_at
                 FROM oauth_grants WHERE family_id = ?1",
                [family_id],
                grant_row,
            )
            .optional()
            .map_err(sql_err)?
            .map(|(mut g, amr)| {
                g.amr = from_json(&amr)?;
                Ok(g)
            })
            .transpose()
        })
        .await
    }

    /// An account's live refresh-token families (those with an unused,
    /// unrevoked, unexpired token), newest first, at most 100.
    pub async fn account_families(&self, account_id: String, now: i64) -> Result<Vec<FamilyInfo>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT r.family_id, g.client_id, g.scope,
                            (SELECT MIN(issued_at) FROM refresh_tokens f WHERE f.family_id = r.family_id),
                            r.issued_at, r.expires_at
                     FROM refresh_tokens r LEFT JOIN oauth_grants g ON g.family_id = r.family_id
                     WHERE r.account_id = ?1 AND r.used_at IS NULL AND r.revoked_at IS NULL
                       AND r.expires_at > ?2
                       AND r.token_version = (SELECT token_version FROM accounts WHERE id = ?1)
                     ORDER BY r.issued_at DESC LIMIT 100",
                )
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![account_id, now], |r| {
                    Ok(FamilyInfo {
                        family_id: r.get(0)?,
                        client_id: r.get(1)?,
                        scope: r.get(2)?,
                        created_at: r.get(3)?,
                        last_used: r.get(4)?,
                        expires_at: r.get(5)?,
                    })
                })
                .map_err(sql_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
        })
        .await
    }

    /// Revokes a family of `account_id` (its refresh tokens and access
    /// tokens) with `audit`; the access tokens revoked, or `None` when the
    /// family is not the account's.
    pub async fn revoke_account_family(
        &self,
        account_id: String,
        family_id: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<Option<Vec<(String, i64)>>> {
        self.write(move |tx| {
            let owned: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = ?1 AND account_id = ?2)",
                    params![family_id, account_id],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            if !owned {
                return Ok(None);
            }
            let revoked = revoke_family(tx, &family_id, now, "revoked by owner")?;
            append(tx, &audit)?;
            Ok(Some(revoked))
        })
        .await
    }

    /// The overview's counts.
    pub async fn counts(&self, now: i64) -> Result<Counts> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT status, COUNT(*) FROM accounts GROUP BY status ORDER BY status",
                )
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql_err)?;
            let mut accounts = Vec::new();
            for row in rows {
                let (s, n) = row.map_err(sql_err)?;
                accounts.push((crate::model::AccountStatus::from_i64(s)?, n));
            }
            let clients = c
                .query_row(
                    "SELECT COUNT(*) FROM oauth_clients WHERE deleted_at IS NULL",
                    [],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            let sessions = c
                .query_row(
                    "SELECT COUNT(*) FROM web_sessions s JOIN accounts a ON a.id = s.account_id
                     WHERE s.stage = 2 AND s.ended_at IS NULL AND s.expires_at > ?1
                       AND s.token_version = a.token_version AND a.status = 1",
                    [now],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            Ok(Counts {
                accounts,
                clients,
                sessions,
            })
        })
        .await
    }

    /// Deletes codes and ended or expired sessions older than `before`.
    pub async fn prune_oidc(&self, before: i64) -> Result<usize> {
        self.write(move |tx| {
            let codes = tx
                .execute("DELETE FROM auth_codes WHERE expires_at < ?1", [before])
                .map_err(sql_err)?;
            let sessions = tx
                .execute(
                    "DELETE FROM web_sessions WHERE expires_at < ?1 OR ended_at < ?1",
                    [before],
                )
                .map_err(sql_err)?;
            Ok(codes + sessions)
        })
        .await
    }
}
