//! The store's contract, independent of the database behind it: every call
//! `idm` makes, domain-shaped and async. [`super::Store`] (SQLite) implements
//! it; a PostgreSQL backend implements the same trait and passes the same
//! conformance suite (`store::conformance`), and `idm` holds an
//! `Arc<dyn Backend>` so neither it nor the API knows which one it talks to.
//!
//! The rules every backend keeps (the suite checks them):
//! - every write that matters appends its audit event in the same
//!   transaction, and fails as a whole;
//! - sealed values are opaque bytes: a backend never seals or opens;
//! - refresh-token rotation, grace replay and reuse detection happen in one
//!   transaction ([`Backend::rotate_refresh`]);
//! - the last active admin cannot be removed or deactivated (`last_admin`).
//!
//! Futures are boxed by hand ([`StoreFuture`]) so the trait stays
//! dyn-compatible without a macro crate.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use crate::error::Result;
use crate::model::{
    AccountRecord, AccountStatus, AuditEntry, AuditFilter, AuditRecord, AuthCode, ClientRecord,
    CodeOutcome, Counts, FamilyInfo, LoginFailure, LoginSuccess, NewRefresh, NewToken, OAuthGrant,
    PgCredsRecord, Profile, RefreshKeyRecord, RefreshOutcome, RefreshRecord, SigningKeyRecord,
    SourceFailures, TokenRecord, WebSession,
};

/// The future of a store call.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The exclusive database lock of a serving process (or an offline tool);
/// released when dropped.
pub struct StoreLock(Box<dyn Debug + Send + Sync>);

impl StoreLock {
    /// Wraps a backend's guard; dropping the `StoreLock` drops it.
    pub fn new(guard: impl Debug + Send + Sync + 'static) -> Self {
        Self(Box::new(guard))
    }
}

impl Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StoreLock").field(&self.0).finish()
    }
}

/// A store backend: every call of the domain layer on its database.
pub trait Backend: Send + Sync + Debug {
    // --- accounts and roles ---

    /// Creates an account with its roles. A taken username fails with
    /// ALREADY_EXISTS (`username_taken`).
    fn create_account(
        &self,
        account: AccountRecord,
        roles: Vec<String>,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// An account by id (deleted ones included).
    fn account(&self, id: String) -> StoreFuture<'_, Option<AccountRecord>>;

    /// An account by username (deleted ones included).
    fn account_by_username(&self, username: String) -> StoreFuture<'_, Option<AccountRecord>>;

    /// Accounts that are not deleted, in id (= creation) order, after
    /// `after_id`, at most `limit`.
    fn list_accounts(
        &self,
        after_id: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AccountRecord>>;

    /// Accounts whose username or lowercased email starts with `query`
    /// (lowercase), in `status` (all but deleted when `None`), in id order
    /// after `after_id`, at most `limit`; served from indexes.
    fn search_accounts(
        &self,
        query: Option<String>,
        status: Option<AccountStatus>,
        after_id: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AccountRecord>>;

    /// Gives a live account a temporary password (hash, the
    /// change-required flag), forgets its failures and bumps its token
    /// version, with `audit`. Setting a password (`set_password`) clears
    /// the flag.
    fn reset_password(
        &self,
        account_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Whether an active account holds the admin role.
    fn has_active_admin(&self) -> StoreFuture<'_, bool>;

    /// Records a failed login: one more failure for the (account, source)
    /// pair, locked until `now + source_lock_secs(its failures)`, and one more
    /// for the account, locked until `now + account_lock_secs(its failures)`.
    /// Prunes pairs idle for a day and no longer locked. Returns the
    /// source's failures.
    fn login_failed(&self, f: LoginFailure, audit: AuditEntry) -> StoreFuture<'_, SourceFailures>;

    /// One source's failed logins against an account (zero when none).
    fn source_failures(
        &self,
        account_id: String,
        source: String,
    ) -> StoreFuture<'_, SourceFailures>;

    /// Records a successful login atomically: resets the account's failures
    /// and the source's (other sources stay backed off), stores a
    /// re-hash, advances the TOTP step (a replayed step is UNAUTHENTICATED)
    /// and records the token (and refresh token).
    fn login_succeeded(&self, s: LoginSuccess, audit: AuditEntry) -> StoreFuture<'_, ()>;

    /// Replaces a password hash, clears the lockout and bumps the token
    /// version.
    fn set_password(
        &self,
        account_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Changes the status; leaving ACTIVE revokes every live token and bumps
    /// the token version. Returns the updated account and the revoked
    /// (jti, expiry).
    fn set_status(
        &self,
        account_id: String,
        status: AccountStatus,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, (AccountRecord, Vec<(String, i64)>)>;

    /// Stores a pending TOTP secret; FAILED_PRECONDITION
    /// (`totp_already_enabled`) when TOTP is enabled.
    fn set_totp_pending(
        &self,
        account_id: String,
        sealed: Vec<u8>,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Activates the pending TOTP secret, recording `step` as used;
    /// FAILED_PRECONDITION (`totp_not_pending`) otherwise.
    fn confirm_totp(
        &self,
        account_id: String,
        step: i64,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Removes the TOTP factor; false when none was enrolled.
    fn clear_totp(&self, account_id: String, now: i64, audit: AuditEntry) -> StoreFuture<'_, bool>;

    /// Invalidates every token of an account (bumps its token version).
    fn sign_out_everywhere(
        &self,
        account_id: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Replaces an account's profile (email, names); refused for a deleted
    /// account. Returns the updated account.
    fn set_profile(
        &self,
        account_id: String,
        profile: Profile,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, AccountRecord>;

    /// Stores the hash of a system account's client secret.
    fn set_client_secret(
        &self,
        account_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Every account's token version.
    fn token_versions(&self) -> StoreFuture<'_, Vec<(String, i64)>>;

    /// An account's roles, sorted; NOT_FOUND for an unknown account.
    fn roles(&self, account_id: String) -> StoreFuture<'_, Vec<String>>;

    /// Replaces an account's roles (bumping its token version); refuses to
    /// remove the last active admin. Returns the roles now held, sorted.
    fn set_roles(
        &self,
        account_id: String,
        roles: Vec<String>,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, Vec<String>>;

    // --- access tokens ---

    /// Records an issued token.
    fn insert_token(&self, token: NewToken, audit: AuditEntry) -> StoreFuture<'_, ()>;

    /// Revokes `old_jti` and records `new` in one transaction (renewal);
    /// UNAUTHENTICATED when the old token is revoked or unknown.
    fn replace_token(
        &self,
        old_jti: String,
        new: NewToken,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// One recorded token.
    fn token(&self, jti: String) -> StoreFuture<'_, Option<TokenRecord>>;

    /// Revokes one token; its expiry, or `None` for an unknown token.
    fn revoke_token(
        &self,
        jti: String,
        reason: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, Option<i64>>;

    /// Revokes every live token of an account; how many. NOT_FOUND for an
    /// unknown account.
    fn revoke_all_tokens(
        &self,
        account_id: String,
        reason: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, usize>;

    /// Every revoked token that has not expired at `now`: (jti, expiry).
    fn live_revocations(&self, now: i64) -> StoreFuture<'_, Vec<(String, i64)>>;

    /// Deletes tokens that expired before `before`; how many.
    fn prune_tokens(&self, before: i64) -> StoreFuture<'_, usize>;

    // --- refresh tokens and their secrets ---

    /// Every refresh secret, oldest first.
    fn refresh_keys(&self) -> StoreFuture<'_, Vec<RefreshKeyRecord>>;

    /// Stores a new active refresh secret; the others stay, inactive.
    fn insert_refresh_key(&self, key: RefreshKeyRecord, audit: AuditEntry) -> StoreFuture<'_, ()>;

    /// A refresh token by the HMAC of its value.
    fn refresh_token(&self, hash: String) -> StoreFuture<'_, Option<RefreshRecord>>;

    /// Uses up a refresh token in one transaction: rotation, replay of the
    /// same successor within `grace` seconds, or (outside it) revocation of
    /// the whole family with `reuse_audit`.
    #[allow(clippy::too_many_arguments)]
    fn rotate_refresh(
        &self,
        hash: String,
        current_version: i64,
        now: i64,
        grace: i64,
        successor: NewRefresh,
        access: NewToken,
        audit: AuditEntry,
        reuse_audit: AuditEntry,
    ) -> StoreFuture<'_, RefreshOutcome>;

    /// Logout: revokes the access token `jti` and, when `family` is given,
    /// that refresh-token family (refresh and access tokens), with `audit`,
    /// in one transaction; (jti, expiry) of every access token revoked,
    /// empty for an unknown `jti`.
    fn end_session(
        &self,
        jti: String,
        family: Option<String>,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, Vec<(String, i64)>>;

    /// Revokes the family of a refresh token; the access tokens revoked with
    /// it, or `None` for an unknown token.
    fn revoke_refresh_family(
        &self,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, Option<Vec<(String, i64)>>>;

    /// Deletes refresh tokens that expired before `before`; how many.
    fn prune_refresh_tokens(&self, before: i64) -> StoreFuture<'_, usize>;

    // --- signing keys ---

    /// Every unretired signing key of every algorithm, in the order they
    /// were stored, newest first (not by `created_at` alone: two keys of a
    /// second keep their order).
    fn signing_keys(&self) -> StoreFuture<'_, Vec<SigningKeyRecord>>;

    /// Stores a signing key with its `alg` and `active_from`; when it is
    /// active the previous active key of the same algorithm (at most one
    /// per algorithm) is superseded: no longer active, and verifying until
    /// `retire_previous_after`. Keys of the other algorithm are untouched.
    fn insert_signing_key(
        &self,
        key: SigningKeyRecord,
        retire_previous_after: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Retires superseded keys whose `retire_after` is before `now`; their
    /// kids.
    fn retire_signing_keys(&self, now: i64) -> StoreFuture<'_, Vec<String>>;

    /// Retires the inactive, unretired signing key `kid` now, with `audit`;
    /// false (and nothing recorded) when there is no such key.
    fn revoke_signing_key(&self, kid: String, now: i64, audit: AuditEntry)
    -> StoreFuture<'_, bool>;

    // --- stored database credentials ---

    /// The stored credentials of an account.
    fn pg_creds(&self, account_id: String) -> StoreFuture<'_, Option<PgCredsRecord>>;

    /// Stores (replaces) the credentials of an account.
    fn set_pg_creds(
        &self,
        account_id: String,
        creds: PgCredsRecord,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    // --- applications (OAuth clients) ---

    /// Registers a client. A taken client id, deleted ones included, fails
    /// with ALREADY_EXISTS (`client_id_taken`).
    fn create_client(&self, client: ClientRecord, audit: AuditEntry) -> StoreFuture<'_, ()>;

    /// A client that is not deleted.
    fn client(&self, client_id: String) -> StoreFuture<'_, Option<ClientRecord>>;

    /// Clients that are not deleted, in client-id order, after `after_id`,
    /// at most `limit`.
    fn list_clients(
        &self,
        after_id: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<ClientRecord>>;

    /// Replaces a live client's settings: everything but its id, type,
    /// secret and creation time. NOT_FOUND when unknown or deleted.
    fn update_client(&self, client: ClientRecord, audit: AuditEntry) -> StoreFuture<'_, ()>;

    /// Soft-deletes a live client (its id stays taken) and forgets its
    /// secret. NOT_FOUND when unknown or already deleted.
    fn delete_client(&self, client_id: String, now: i64, audit: AuditEntry) -> StoreFuture<'_, ()>;

    /// Replaces a live client's secret HMAC. NOT_FOUND when unknown or
    /// deleted.
    fn set_client_secret_hash(
        &self,
        client_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    // --- the OpenID Connect provider ---

    /// Records a browser session, deleting the session it replaces (id
    /// rotation at sign-in) and appending `audit` when given, in one write.
    fn create_web_session(
        &self,
        session: WebSession,
        replaces: Option<String>,
        audit: Option<AuditEntry>,
    ) -> StoreFuture<'_, ()>;

    /// A browser session by the hash of its cookie value (ended ones too).
    fn web_session(&self, id_hash: String) -> StoreFuture<'_, Option<WebSession>>;

    /// Records activity on a live session.
    fn touch_web_session(&self, id_hash: String, now: i64) -> StoreFuture<'_, ()>;

    /// Ends a session by `sid` and revokes every grant issued from it (their
    /// refresh tokens and access tokens), with `audit`; the access tokens
    /// revoked. An ended or unknown session: nothing changes, no audit.
    fn end_web_session(
        &self,
        sid: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, Vec<(String, i64)>>;

    /// An account's signed-in sessions that have neither ended nor expired
    /// and carry the account's current token version, newest first (at most
    /// 100).
    fn account_web_sessions(
        &self,
        account_id: String,
        now: i64,
    ) -> StoreFuture<'_, Vec<WebSession>>;

    /// The remembered consent of an account for an application.
    fn consent(
        &self,
        account_id: String,
        client_id: String,
    ) -> StoreFuture<'_, Option<Vec<String>>>;

    /// Remembers consent, replacing an earlier one, with `audit`.
    fn set_consent(
        &self,
        account_id: String,
        client_id: String,
        scopes: Vec<String>,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// Records an authorization code (by its hash) with `audit`.
    fn insert_auth_code(&self, code: AuthCode, audit: AuditEntry) -> StoreFuture<'_, ()>;

    /// Uses up a code in one transaction: fresh → marked used; used before
    /// → the grant it was exchanged for is revoked and `reuse_audit`
    /// appended; unknown or expired → `Invalid`.
    fn take_auth_code(
        &self,
        code_hash: String,
        now: i64,
        reuse_audit: AuditEntry,
    ) -> StoreFuture<'_, CodeOutcome>;

    /// Records a grant with its first access token and refresh token, and
    /// names the grant on the code it came from, with `audit`, in one write.
    fn issue_grant(
        &self,
        grant: OAuthGrant,
        code_hash: Option<String>,
        access: NewToken,
        refresh: Option<NewRefresh>,
        audit: AuditEntry,
    ) -> StoreFuture<'_, ()>;

    /// The grant behind a refresh-token family, when an application holds it.
    fn oauth_grant(&self, family_id: String) -> StoreFuture<'_, Option<OAuthGrant>>;

    /// An account's live refresh-token families (API sign-ins and grants to
    /// applications) of its current token version, newest first, at most
    /// 100.
    fn account_families(&self, account_id: String, now: i64) -> StoreFuture<'_, Vec<FamilyInfo>>;

    /// Revokes one family of `account_id` with `audit`: the access tokens
    /// revoked, or `None` (nothing written) when it is not the account's.
    fn revoke_account_family(
        &self,
        account_id: String,
        family_id: String,
        now: i64,
        audit: AuditEntry,
    ) -> StoreFuture<'_, Option<Vec<(String, i64)>>>;

    /// The console overview's counts: accounts by status, applications,
    /// live browser sessions.
    fn counts(&self, now: i64) -> StoreFuture<'_, Counts>;

    /// Deletes codes that expired and sessions that ended or expired before
    /// `before`; how many rows went.
    fn prune_oidc(&self, before: i64) -> StoreFuture<'_, usize>;

    // --- audit ---

    /// Appends an audit event on its own.
    fn append_audit(&self, entry: AuditEntry) -> StoreFuture<'_, ()>;

    /// Events matching `filter`, newest first, at most `limit`.
    fn list_audit(&self, filter: AuditFilter, limit: u32) -> StoreFuture<'_, Vec<AuditRecord>>;

    // --- server configuration (sealed values such as the key check) ---

    /// A configuration value; `None` when absent.
    fn config_value(&self, key: String) -> StoreFuture<'_, Option<Vec<u8>>>;

    /// Stores a configuration value unless one exists; the value in force
    /// afterwards.
    fn init_config_value(&self, key: String, value: Vec<u8>) -> StoreFuture<'_, Vec<u8>>;

    // --- the database itself ---

    /// A cheap query proving the database answers.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Makes everything written durable in the main database (at shutdown).
    fn checkpoint(&self) -> StoreFuture<'_, ()>;

    /// Takes the exclusive database lock without waiting: FAILED_PRECONDITION
    /// (`database_busy`) while someone else holds it.
    fn lock(&self) -> Result<StoreLock>;
}
