//! [`Backend`] for the SQLite [`Store`]. The calls are the store's own async
//! methods (one writer, a pool of readers, each on a blocking thread); the
//! config values and the checkpoint, blocking calls used at start-up and
//! shutdown, run here on a blocking thread.

use super::backend::{Backend, StoreFuture, StoreLock};
use super::{DbLock, Store};
use crate::error::{Error, Result};
use crate::model::{
    AccountRecord, AccountStatus, AuditEntry, AuditFilter, AuditRecord, AuthCode, ClientRecord,
    CodeOutcome, Counts, FamilyInfo, LoginFailure, LoginSuccess, NewRefresh, NewToken, OAuthGrant,
    PgCredsRecord, Profile, RefreshKeyRecord, RefreshOutcome, RefreshRecord, SigningKeyRecord,
    SourceFailures, TokenRecord, WebSession,
};

impl Store {
    /// Runs a blocking call of the store on a blocking thread.
    fn off_runtime<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let this = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&this))
                .await
                .map_err(|e| Error::internal(format!("database task: {e}")))?
        })
    }
}

/// Implements trait methods by calling the inherent async method of the same
/// name and arguments.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {$(
        fn $name(&self, $($arg: $ty),*) -> StoreFuture<'_, $out> {
            Box::pin(Store::$name(self, $($arg),*))
        }
    )*};
}

impl Backend for Store {
    forward! {
        create_account(account: AccountRecord, roles: Vec<String>, audit: AuditEntry) -> ();
        account(id: String) -> Option<AccountRecord>;
        account_by_username(username: String) -> Option<AccountRecord>;
        has_active_admin() -> bool;
        search_accounts(query: Option<String>, status: Option<AccountStatus>, after_id: Option<String>, limit: u32)
            -> Vec<AccountRecord>;
        reset_password(account_id: String, hash: String, now: i64, audit: AuditEntry) -> ();
        list_accounts(after_id: Option<String>, limit: u32) -> Vec<AccountRecord>;
        login_failed(f: LoginFailure, audit: AuditEntry) -> SourceFailures;
        source_failures(account_id: String, source: String) -> SourceFailures;
        login_succeeded(s: LoginSuccess, audit: AuditEntry) -> ();
        set_password(account_id: String, hash: String, now: i64, audit: AuditEntry) -> ();
        set_status(account_id: String, status: AccountStatus, now: i64, audit: AuditEntry)
            -> (AccountRecord, Vec<(String, i64)>);
        set_totp_pending(account_id: String, sealed: Vec<u8>, now: i64, audit: AuditEntry) -> ();
        confirm_totp(account_id: String, step: i64, now: i64, audit: AuditEntry) -> ();
        clear_totp(account_id: String, now: i64, audit: AuditEntry) -> bool;
        sign_out_everywhere(account_id: String, now: i64, audit: AuditEntry) -> ();
        set_profile(account_id: String, profile: Profile, now: i64, audit: AuditEntry) -> AccountRecord;
        set_client_secret(account_id: String, hash: String, now: i64, audit: AuditEntry) -> ();
        token_versions() -> Vec<(String, i64)>;
        roles(account_id: String) -> Vec<String>;
        set_roles(account_id: String, roles: Vec<String>, now: i64, audit: AuditEntry) -> Vec<String>;
        insert_token(token: NewToken, audit: AuditEntry) -> ();
        replace_token(old_jti: String, new: NewToken, audit: AuditEntry) -> ();
        token(jti: String) -> Option<TokenRecord>;
        revoke_token(jti: String, reason: String, now: i64, audit: AuditEntry) -> Option<i64>;
        revoke_all_tokens(account_id: String, reason: String, now: i64, audit: AuditEntry) -> usize;
        live_revocations(now: i64) -> Vec<(String, i64)>;
        prune_tokens(before: i64) -> usize;
        refresh_keys() -> Vec<RefreshKeyRecord>;
        insert_refresh_key(key: RefreshKeyRecord, audit: AuditEntry) -> ();
        refresh_token(hash: String) -> Option<RefreshRecord>;
        rotate_refresh(hash: String, current_version: i64, now: i64, grace: i64,
            successor: NewRefresh, access: NewToken, audit: AuditEntry, reuse_audit: AuditEntry)
            -> RefreshOutcome;
        revoke_refresh_family(hash: String, now: i64, audit: AuditEntry) -> Option<Vec<(String, i64)>>;
        end_session(jti: String, family: Option<String>, now: i64, audit: AuditEntry) -> Vec<(String, i64)>;
        prune_refresh_tokens(before: i64) -> usize;
        signing_keys() -> Vec<SigningKeyRecord>;
        insert_signing_key(key: SigningKeyRecord, retire_previous_after: i64, audit: AuditEntry) -> ();
        retire_signing_keys(now: i64) -> Vec<String>;
        revoke_signing_key(kid: String, now: i64, audit: AuditEntry) -> bool;
        pg_creds(account_id: String) -> Option<PgCredsRecord>;
        set_pg_creds(account_id: String, creds: PgCredsRecord, now: i64, audit: AuditEntry) -> ();
        create_client(client: ClientRecord, audit: AuditEntry) -> ();
        client(client_id: String) -> Option<ClientRecord>;
        list_clients(after_id: Option<String>, limit: u32) -> Vec<ClientRecord>;
        update_client(client: ClientRecord, audit: AuditEntry) -> ();
        delete_client(client_id: String, now: i64, audit: AuditEntry) -> ();
        set_client_secret_hash(client_id: String, hash: String, now: i64, audit: AuditEntry) -> ();
        create_web_session(session: WebSession, replaces: Option<String>, audit: Option<AuditEntry>) -> ();
        web_session(id_hash: String) -> Option<WebSession>;
        touch_web_session(id_hash: String, now: i64) -> ();
        end_web_session(sid: String, now: i64, audit: AuditEntry) -> Vec<(String, i64)>;
        account_web_sessions(account_id: String, now: i64) -> Vec<WebSession>;
        consent(account_id: String, client_id: String) -> Option<Vec<String>>;
        set_consent(account_id: String, client_id: String, scopes: Vec<String>, now: i64, audit: AuditEntry) -> ();
        insert_auth_code(code: AuthCode, audit: AuditEntry) -> ();
        take_auth_code(code_hash: String, now: i64, reuse_audit: AuditEntry) -> CodeOutcome;
        issue_grant(grant: OAuthGrant, code_hash: Option<String>, access: NewToken,
            refresh: Option<NewRefresh>, audit: AuditEntry) -> ();
        oauth_grant(family_id: String) -> Option<OAuthGrant>;
        prune_oidc(before: i64) -> usize;
        counts(now: i64) -> Counts;
        account_families(account_id: String, now: i64) -> Vec<FamilyInfo>;
        revoke_account_family(account_id: String, family_id: String, now: i64, audit: AuditEntry)
            -> Option<Vec<(String, i64)>>;
        append_audit(entry: AuditEntry) -> ();
        list_audit(filter: AuditFilter, limit: u32) -> Vec<AuditRecord>;
        ping() -> ();
    }

    fn config_value(&self, key: String) -> StoreFuture<'_, Option<Vec<u8>>> {
        self.off_runtime(move |s| s.config_value(&key))
    }

    fn init_config_value(&self, key: String, value: Vec<u8>) -> StoreFuture<'_, Vec<u8>> {
        self.off_runtime(move |s| s.init_config_value(&key, &value))
    }

    fn checkpoint(&self) -> StoreFuture<'_, ()> {
        self.off_runtime(Store::checkpoint)
    }

    fn lock(&self) -> Result<StoreLock> {
        DbLock::acquire(self.path()).map(StoreLock::new)
    }
}
