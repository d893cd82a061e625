//! Browser sessions: sign-in on the pages (password, then the second factor
//! when the account has one), the session behind a cookie (idle and
//! absolute timeouts, the account's token version), sign-out, and the
//! account's list of sessions.
//!
//! The cookie value is 256 random bits; only its SHA-256 is stored. The
//! session id is rotated when the second factor completes the sign-in.

use serde_json::json;
use zeroize::Zeroizing;

use super::secret_hash;
use crate::error::{Error, Result};
use crate::idm::login::CheckedPassword;
use crate::idm::{Caller, Idm};
use crate::model::{AccountStatus, FamilyInfo, Outcome, SessionStage, WebSession};

/// How long the password step waits for the second factor.
const SECOND_FACTOR_SECS: i64 = 300;
/// Activity is written at most this often (the idle timeout's resolution).
const TOUCH_EVERY_SECS: i64 = 60;
/// The longest User-Agent kept.
const MAX_USER_AGENT: usize = 200;

/// A session just created: the cookie value to hand to the browser (only
/// here, never stored) and the session.
pub struct NewSession {
    /// The cookie value.
    pub cookie: Zeroizing<String>,
    /// The session as stored.
    pub session: WebSession,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("sid", &self.session.sid)
            .finish_non_exhaustive()
    }
}

/// Where a page sign-in stands after the password.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in.
    Done(NewSession),
    /// The password was right; the session waits for the TOTP code.
    SecondFactor(NewSession),
    /// The password (and code) were right, but it is a temporary password:
    /// the session waits for a new one.
    NewPassword(NewSession),
}

/// A sign-in whose password step is too old or whose account changed.
fn sign_in_expired() -> Error {
    Error::new(
        crate::error::ErrorKind::Unauthenticated,
        "sign_in_expired",
        "the sign-in expired; enter your username and password again",
    )
}

impl Idm {
    /// The session waiting for a later sign-in step and its (active)
    /// account; `sign_in_expired` when either is gone.
    async fn pending_sign_in(
        &self,
        cookie: &str,
    ) -> Result<(WebSession, crate::model::AccountRecord)> {
        let pending = self
            .pending_session(cookie)
            .await?
            .ok_or_else(sign_in_expired)?;
        let account = self
            .live_account(&pending.account_id)
            .await
            .map_err(|_| sign_in_expired())?;
        Ok((pending, account))
    }

    fn new_session(
        &self,
        caller: &Caller,
        account_id: &str,
        token_version: i64,
        stage: SessionStage,
        amr: Vec<String>,
        user_agent: Option<&str>,
    ) -> NewSession {
        let now = self.clock.now();
        let random: Zeroizing<[u8; 32]> =
            Zeroizing::new(crate::clock::random_array(self.rng.as_ref()));
        let cookie = Zeroizing::new(crate::crypto::b64url(random.as_ref()));
        let expires_at = match stage {
            SessionStage::SecondFactor => now + SECOND_FACTOR_SECS,
            SessionStage::SignedIn => now.saturating_add(self.sessions.lifetime.secs_i64()),
        };
        let session = WebSession {
            id_hash: secret_hash(&cookie),
            sid: self.new_id(),
            account_id: account_id.to_owned(),
            token_version,
            stage,
            amr,
            auth_time: now,
            created_at: now,
            last_seen: now,
            expires_at,
            ended_at: None,
            peer: caller.peer.clone(),
            user_agent: user_agent.map(|u| u.chars().take(MAX_USER_AGENT).collect()),
        };
        NewSession { cookie, session }
    }

    /// Page sign-in with username and password. Failures are the API
    /// login's: one generic UNAUTHENTICATED answer, recorded, backed off.
    pub async fn web_sign_in(
        &self,
        caller: &Caller,
        username: &str,
        password: Zeroizing<String>,
        user_agent: Option<&str>,
    ) -> Result<SignIn> {
        let checked = self
            .check_password(caller, username, password, None)
            .await?;
        let account = &checked.account;
        if checked.needs_totp {
            let pending = self.new_session(
                caller,
                &account.id,
                account.token_version,
                SessionStage::SecondFactor,
                vec!["pwd".to_owned()],
                user_agent,
            );
            self.store
                .create_web_session(pending.session.clone(), None, None)
                .await?;
            return Ok(SignIn::SecondFactor(pending));
        }
        if account.password_change_required {
            let pending = self.new_session(
                caller,
                &account.id,
                account.token_version,
                SessionStage::SecondFactor,
                vec!["pwd".to_owned()],
                user_agent,
            );
            self.store
                .create_web_session(pending.session.clone(), None, None)
                .await?;
            return Ok(SignIn::NewPassword(pending));
        }
        let new = self.new_session(
            caller,
            &account.id,
            account.token_version,
            SessionStage::SignedIn,
            vec!["pwd".to_owned()],
            user_agent,
        );
        let details = json!({ "session": new.session.sid, "via": "web", "amr": ["pwd"] });
        self.record_sign_in(
            caller,
            username,
            checked,
            None,
            None,
            Some((new.session.clone(), None)),
            details,
        )
        .await?;
        Ok(SignIn::Done(new))
    }

    /// The second step of a page sign-in: the TOTP code for the session that
    /// passed the password. Success replaces that session with a new one (a
    /// new cookie value); a wrong code is a recorded failure.
    pub async fn web_second_factor(
        &self,
        caller: &Caller,
        pending_cookie: &str,
        code: &str,
        user_agent: Option<&str>,
    ) -> Result<SignIn> {
        let (pending, account) = self.pending_sign_in(pending_cookie).await?;
        if account.token_version != pending.token_version || !account.totp_enabled {
            return Err(sign_in_expired());
        }
        if code.len() > 16 {
            return Err(Error::invalid("field_too_long", "the code is too long"));
        }
        let step = self
            .check_totp(caller, &account, &account.username, code)
            .await?;
        let amr = vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
        let change = account.password_change_required;
        let new = self.new_session(
            caller,
            &account.id,
            account.token_version,
            if change {
                SessionStage::SecondFactor
            } else {
                SessionStage::SignedIn
            },
            amr.clone(),
            user_agent,
        );
        let username = account.username.clone();
        let details = json!({ "session": new.session.sid, "via": "web", "amr": amr });
        let checked = CheckedPassword {
            source: crate::idm::login::login_source(caller),
            account,
            totp_step: Some(step),
            new_hash: None,
            needs_totp: false,
        };
        self.record_sign_in(
            caller,
            &username,
            checked,
            None,
            None,
            Some((new.session.clone(), Some(pending.id_hash))),
            details,
        )
        .await?;
        Ok(if change {
            SignIn::NewPassword(new)
        } else {
            SignIn::Done(new)
        })
    }

    /// The last step of a sign-in with a temporary password: the new
    /// password (the usual rules) replaces it, which ends every other
    /// session and token, and the browser is signed in with a new session.
    pub async fn web_new_password(
        &self,
        caller: &Caller,
        pending_cookie: &str,
        new_password: Zeroizing<String>,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let (pending, account) = self.pending_sign_in(pending_cookie).await?;
        let factor_done = !account.totp_enabled || pending.amr.iter().any(|m| m == "otp");
        if !account.password_change_required
            || account.token_version != pending.token_version
            || !factor_done
        {
            return Err(sign_in_expired());
        }
        crate::idm::credentials::check_new_password(&new_password)?;
        let hash = self.hasher.hash(new_password).await?;
        let mut audit = self.audit(
            "password_change",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "from_temporary": true }),
        );
        audit.actor_id = Some(account.id.clone());
        self.store
            .set_password(account.id.clone(), hash, self.clock.now(), audit)
            .await?;
        self.sync_version(&account.id).await?;
        let account = self.live_account(&account.id).await?;
        let new = self.new_session(
            caller,
            &account.id,
            account.token_version,
            SessionStage::SignedIn,
            pending.amr.clone(),
            user_agent,
        );
        let mut signed_in = self.audit(
            "login_success",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({ "session": new.session.sid, "via": "web", "amr": pending.amr }),
        );
        signed_in.actor_id = Some(account.id.clone());
        self.store
            .create_web_session(new.session.clone(), Some(pending.id_hash), Some(signed_in))
            .await?;
        Ok(new)
    }

    async fn session_by_cookie(
        &self,
        cookie: &str,
        stage: SessionStage,
    ) -> Result<Option<WebSession>> {
        if cookie.is_empty() || cookie.len() > 128 {
            return Ok(None);
        }
        let Some(s) = self.store.web_session(secret_hash(cookie)).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let idle_until = s
            .last_seen
            .saturating_add(self.sessions.idle_timeout.secs_i64());
        if s.stage != stage || s.ended_at.is_some() || s.expires_at <= now || idle_until <= now {
            return Ok(None);
        }
        Ok(Some(s))
    }

    /// The session that passed the password and waits for the second factor.
    pub async fn pending_session(&self, cookie: &str) -> Result<Option<WebSession>> {
        self.session_by_cookie(cookie, SessionStage::SecondFactor)
            .await
    }

    /// The signed-in session behind a cookie value: not ended, within its
    /// idle and absolute timeouts, its account active and its token version
    /// unchanged (a password change, suspension or sign-out-everywhere ends
    /// every session). Records activity.
    pub async fn web_session(&self, cookie: &str) -> Result<Option<WebSession>> {
        let Some(s) = self
            .session_by_cookie(cookie, SessionStage::SignedIn)
            .await?
        else {
            return Ok(None);
        };
        match self.store.account(s.account_id.clone()).await? {
            Some(a) if a.status == AccountStatus::Active && a.token_version == s.token_version => {}
            _ => return Ok(None),
        }
        let now = self.clock.now();
        if now - s.last_seen >= TOUCH_EVERY_SECS {
            self.store.touch_web_session(s.id_hash.clone(), now).await?;
        }
        Ok(Some(s))
    }

    /// Ends a session and every grant issued from it (their refresh and
    /// access tokens). Audited as `logout`.
    pub async fn web_sign_out(&self, caller: &Caller, session: &WebSession) -> Result<()> {
        let mut audit = self.audit(
            "logout",
            caller,
            Some(&session.account_id),
            Outcome::Success,
            json!({ "session": session.sid, "via": "web" }),
        );
        audit.actor_id = Some(session.account_id.clone());
        let revoked = self
            .store
            .end_web_session(session.sid.clone(), self.clock.now(), audit)
            .await?;
        self.mirror_revocations(revoked);
        Ok(())
    }

    /// The signed-in sessions of the session's own account, newest first.
    pub async fn own_web_sessions(&self, session: &WebSession) -> Result<Vec<WebSession>> {
        self.live_web_sessions(&session.account_id).await
    }

    /// An account's sessions that still work: not ended, not expired, its
    /// current token version, used within the idle timeout.
    async fn live_web_sessions(&self, account_id: &str) -> Result<Vec<WebSession>> {
        let now = self.clock.now();
        let idle = self.sessions.idle_timeout.secs_i64();
        let mut sessions = self
            .store
            .account_web_sessions(account_id.to_owned(), now)
            .await?;
        sessions.retain(|s| s.last_seen.saturating_add(idle) > now);
        Ok(sessions)
    }

    /// Ends another session of the same account (from the account page).
    /// NOT_FOUND when `sid` is not a live session of this account.
    pub async fn end_own_web_session(
        &self,
        caller: &Caller,
        session: &WebSession,
        sid: &str,
    ) -> Result<()> {
        let target = self
            .own_web_sessions(session)
            .await?
            .into_iter()
            .find(|s| s.sid == sid)
            .ok_or_else(|| Error::not_found("session"))?;
        self.web_sign_out(caller, &target).await
    }

    /// The account's live refresh-token families: its API sign-ins and the
    /// applications it granted access, newest first.
    pub async fn own_families(&self, session: &WebSession) -> Result<Vec<FamilyInfo>> {
        self.store
            .account_families(session.account_id.clone(), self.clock.now())
            .await
    }

    /// Revokes one of the account's families (an API sign-in, or an
    /// application's access); NOT_FOUND when it is not the account's.
    /// Audited as `refresh_family_revoke`.
    pub async fn revoke_own_family(
        &self,
        caller: &Caller,
        session: &WebSession,
        family_id: &str,
    ) -> Result<()> {
        if family_id.is_empty() || family_id.len() > 64 {
            return Err(Error::not_found("session"));
        }
        let mut audit = self.audit(
            "refresh_family_revoke",
            caller,
            Some(&session.account_id),
            Outcome::Success,
            json!({ "family": family_id, "via": "web" }),
        );
        audit.actor_id = Some(session.account_id.clone());
        let revoked = self
            .store
            .revoke_account_family(
                session.account_id.clone(),
                family_id.to_owned(),
                self.clock.now(),
                audit,
            )
            .await?
            .ok_or_else(|| Error::not_found("session"))?;
        self.mirror_revocations(revoked);
        Ok(())
    }

    /// ListSessions: an account's browser sessions and refresh families
    /// (self or admin).
    pub async fn account_sessions(
        &self,
        caller: &Caller,
        account_id: &str,
    ) -> Result<(Vec<WebSession>, Vec<FamilyInfo>)> {
        caller.self_or_admin(account_id)?;
        let sessions = self.live_web_sessions(account_id).await?;
        let families = self
            .store
            .account_families(account_id.to_owned(), self.clock.now())
            .await?;
        Ok((sessions, families))
    }

    /// The caller a page acts as: the session's account with its current
    /// roles, so pages call the same domain operations, with the same
    /// permission checks and audit, as the API.
    pub async fn session_caller(
        &self,
        session: &WebSession,
        peer: Option<String>,
    ) -> Result<Caller> {
        let account = self.live_account(&session.account_id).await?;
        let roles = self.store.roles(account.id.clone()).await?;
        Ok(Caller {
            principal: Some(crate::idm::Principal {
                account_id: account.id,
                roles,
                jti: String::new(),
                expires_at: session.expires_at,
                typ: account.account_type.as_str().to_owned(),
            }),
            peer,
        })
    }

    /// 32 bytes from the injected random source (cookie values of the
    /// pages).
    pub fn random_bytes(&self) -> [u8; 32] {
        crate::clock::random_array(self.rng.as_ref())
    }

    /// A key for the pages (e.g. CSRF tokens), derived from the master key
    /// for `context`: the same on every replica, never stored.
    pub fn page_key(&self, context: &str) -> Zeroizing<[u8; 32]> {
        use hmac::{Hmac, Mac};
        let mut out = Zeroizing::new([0u8; 32]);
        if let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(self.key.as_bytes()) {
            mac.update(b"mcias page key: ");
            mac.update(context.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }
}
