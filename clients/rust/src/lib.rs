//! Async Rust client for MCIAS, the identity and access service.
//!
//! [`Client`] wraps the generated tonic clients (from the `mcias-proto` crate,
//! re-exported as [`pb`]) over one TLS channel. It holds the current
//! token (replaced by [`Client::login`] and [`Client::renew`], dropped by
//! [`Client::logout`]); clones share the channel and the token, so one client
//! can serve many tasks at once. Every failure is an [`Error`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), mcias_client::Error> {
//! use mcias_client::{Client, pb::AccountType};
//!
//! let client = Client::new("localhost:8443", Some("mcias-dev/tls/ca.pem".as_ref()), None)?;
//! client.login("admin", &std::fs::read_to_string("mcias-dev/admin-password").unwrap(), "").await?;
//! match client.create_account("alice", AccountType::Human, "correct horse battery").await {
//!     Ok(account) => println!("created {}", account.id),
//!     Err(mcias_client::Error::AlreadyExists(msg)) => println!("exists: {msg}"),
//!     Err(e) => return Err(e),
//! }
//! for account in client.list_accounts(0).await? {
//!     println!("{} {:?}", account.username, account.status());
//! }
//! # Ok(()) }
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// The generated protobuf messages and tonic clients (`mcias.v1`).
pub use mcias_proto as pb;

use pb::account_service_client::AccountServiceClient;
use pb::admin_service_client::AdminServiceClient;
use pb::auth_service_client::AuthServiceClient;
use pb::token_service_client::TokenServiceClient;

/// A failed call, classified by what the caller can do about it. Each
/// variant carries the server's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No token, an invalid or revoked token, or a failed login.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The token lacks the permission the call requires.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The named account, token or credentials do not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request was refused as malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The account (username) already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// Too many requests (RESOURCE_EXHAUSTED); retry later.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The server cannot be reached or is shutting down.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Any other failure (FAILED_PRECONDITION, INTERNAL, ...).
    #[error("server error {code:?}: {message}")]
    Server {
        /// The gRPC code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
    /// The client could not be set up (bad address or CA certificate).
    #[error("client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The canonical gRPC code name, for example `ALREADY_EXISTS`
    /// (`CONFIG` for [`Error::Config`]).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::PermissionDenied(_) => "PERMISSION_DENIED",
            Error::NotFound(_) => "NOT_FOUND",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::AlreadyExists(_) => "ALREADY_EXISTS",
            Error::RateLimited(_) => "RESOURCE_EXHAUSTED",
            Error::Unavailable(_) => "UNAVAILABLE",
            Error::Server { code, .. } => code_name(*code),
            Error::Config(_) => "CONFIG",
        }
    }

    /// The server's message.
    pub fn message(&self) -> &str {
        match self {
            Error::Unauthenticated(m)
            | Error::PermissionDenied(m)
            | Error::NotFound(m)
            | Error::InvalidArgument(m)
            | Error::AlreadyExists(m)
            | Error::RateLimited(m)
            | Error::Unavailable(m)
            | Error::Config(m) => m,
            Error::Server { message, .. } => message,
        }
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl From<tonic::Status> for Error {
    fn from(s: tonic::Status) -> Self {
        let m = s.message().to_owned();
        match s.code() {
            tonic::Code::Unauthenticated => Error::Unauthenticated(m),
            tonic::Code::PermissionDenied => Error::PermissionDenied(m),
            tonic::Code::NotFound => Error::NotFound(m),
            tonic::Code::InvalidArgument => Error::InvalidArgument(m),
            tonic::Code::AlreadyExists => Error::AlreadyExists(m),
            tonic::Code::ResourceExhausted => Error::RateLimited(m),
            tonic::Code::Unavailable => Error::Unavailable(m),
            code => Error::Server { code, message: m },
        }
    }
}

/// A response that lacks a field the server always sets.
fn missing(what: &str) -> Error {
    Error::Server {
        code: tonic::Code::Internal,
        message: format!("response without {what}"),
    }
}

/// The result of every client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Filters for [`Client::list_audit_events`]; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events whose actor or target is this account id.
    pub account_id: String,
    /// Only events of this type, for example `login_failure`.
    pub event_type: String,
    /// Only events at or after this time.
    pub since: Option<prost_types::Timestamp>,
    /// The page size fetched per call (0: the server's default).
    pub page_size: i32,
}

/// An MCIAS client over gRPC with TLS. Cheap to clone; clones share the
/// channel and the held token.
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
    token: Arc<RwLock<String>>,
}

impl Client {
    /// A client for `server` (`host:port` or `https://host:port`), trusting
    /// the PEM CA certificate `ca_cert` or else the system roots, starting
    /// with `token`. The connection is made on first use; call this inside a
    /// Tokio runtime.
    pub fn new(server: &str, ca_cert: Option<&Path>, token: Option<String>) -> Result<Self> {
        let url = if server.starts_with("https://") || server.starts_with("http://") {
            server.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", server.trim_end_matches('/'))
        };
        let mut tls = ClientTlsConfig::new();
        tls = match ca_cert {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                tls.ca_certificate(Certificate::from_pem(pem))
            }
            None => tls.with_native_roots(),
        };
        let channel = Endpoint::from_shared(url)
            .map_err(|e| Error::Config(e.to_string()))?
            .tls_config(tls)
            .map_err(|e| Error::Config(e.to_string()))?
            .connect_lazy();
        Ok(Self {
            channel,
            token: Arc::new(RwLock::new(token.unwrap_or_default())),
        })
    }

    /// The token the client currently sends (empty when none).
    pub fn token(&self) -> String {
        self.token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the token the client sends (`None` sends none).
    pub fn set_token(&self, token: Option<String>) {
        *self.token.write().unwrap_or_else(PoisonError::into_inner) = token.unwrap_or_default();
    }

    fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        let token = self.token();
        if !token.is_empty()
            && let Ok(v) = format!("Bearer {token}").parse()
        {
            req.metadata_mut().insert("authorization", v);
        }
        req
    }

    fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel.clone())
    }
    fn tokens(&self) -> TokenServiceClient<Channel> {
        TokenServiceClient::new(self.channel.clone())
    }
    fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel.clone())
    }
    fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel.clone())
    }

    /// Exchanges credentials for a token, which the client then holds.
    /// `totp_code` is empty unless the account has TOTP enrolled.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp_code: &str,
    ) -> Result<pb::LoginResponse> {
        let res = self
            .auth()
            .login(self.req(pb::LoginRequest {
                username: username.to_owned(),
                password: password.to_owned(),
                totp_code: totp_code.to_owned(),
            }))
            .await?
            .into_inner();
        self.set_token(Some(res.token.clone()));
        Ok(res)
    }

    /// Revokes the held token and forgets it.
    pub async fn logout(&self) -> Result<()> {
        self.auth().logout(self.req(pb::LogoutRequest {})).await?;
        self.set_token(None);
        Ok(())
    }

    /// Replaces the held token with a fresh one; the old one is revoked.
    pub async fn renew(&self) -> Result<pb::RenewTokenResponse> {
        let res = self
            .auth()
            .renew_token(self.req(pb::RenewTokenRequest {}))
            .await?
            .into_inner();
        self.set_token(Some(res.token.clone()));
        Ok(res)
    }

    /// Checks any token. An invalid token is not an error: `valid` is false.
    pub async fn validate(&self, token: &str) -> Result<pb::ValidateTokenResponse> {
        Ok(self
            .tokens()
            .validate_token(self.req(pb::ValidateTokenRequest {
                token: token.to_owned(),
            }))
            .await?
            .into_inner())
    }

    /// The JWKs that verify tokens.
    pub async fn public_keys(&self) -> Result<Vec<pb::Jwk>> {
        Ok(self
            .tokens()
            .list_public_keys(self.req(pb::ListPublicKeysRequest {}))
            .await?
            .into_inner()
            .keys)
    }

    /// The server's status, `SERVING` when it can serve.
    pub async fn health(&self) -> Result<String> {
        Ok(self
            .admin()
            .health(self.req(pb::HealthRequest {}))
            .await?
            .into_inner()
            .status)
    }

    /// Creates an account (admin). `password` is required for human
    /// accounts and must be empty for system accounts.
    pub async fn create_account(
        &self,
        username: &str,
        account_type: pb::AccountType,
        password: &str,
    ) -> Result<pb::Account> {
        let res = self
            .accounts()
            .create_account(self.req(pb::CreateAccountRequest {
                username: username.to_owned(),
                account_type: account_type.into(),
                password: password.to_owned(),
            }))
            .await?
            .into_inner();
        res.account.ok_or_else(|| missing("account"))
    }

    /// Every account that is not deleted, fetched page by page with
    /// `page_size` per call (0: the server's default) (admin).
    pub async fn list_accounts(&self, page_size: i32) -> Result<Vec<pb::Account>> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let res = self
                .accounts()
                .list_accounts(self.req(pb::ListAccountsRequest {
                    page_size,
                    page_token,
                }))
                .await?
                .into_inner();
            out.extend(res.accounts);
            if res.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = res.next_page_token;
        }
    }

    /// One account, deleted ones included (admin).
    pub async fn get_account(&self, id: &str) -> Result<pb::Account> {
        self.accounts()
            .get_account(self.req(pb::GetAccountRequest { id: id.to_owned() }))
            .await?
            .into_inner()
            .account
            .ok_or_else(|| missing("account"))
    }

    /// Sets an account's status (admin). Leaving ACTIVE revokes its tokens.
    pub async fn update_account(&self, id: &str, status: pb::AccountStatus) -> Result<pb::Account> {
        self.accounts()
            .update_account(self.req(pb::UpdateAccountRequest {
                id: id.to_owned(),
                status: status.into(),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".to_owned()],
                }),
            }))
            .await?
            .into_inner()
            .account
            .ok_or_else(|| missing("account"))
    }

    /// Soft-deletes an account and revokes its tokens (admin).
    pub async fn delete_account(&self, id: &str) -> Result<()> {
        self.accounts()
            .delete_account(self.req(pb::DeleteAccountRequest { id: id.to_owned() }))
            .await?;
        Ok(())
    }

    /// An account's roles, sorted (admin).
    pub async fn get_roles(&self, account_id: &str) -> Result<Vec<String>> {
        Ok(self
            .accounts()
            .get_roles(self.req(pb::GetRolesRequest {
                account_id: account_id.to_owned(),
            }))
            .await?
            .into_inner()
            .roles)
    }

    /// Replaces an account's roles and returns them sorted (admin).
    pub async fn set_roles(&self, account_id: &str, roles: &[String]) -> Result<Vec<String>> {
        Ok(self
            .accounts()
            .set_roles(self.req(pb::SetRolesRequest {
                account_id: account_id.to_owned(),
                roles: roles.to_vec(),
            }))
            .await?
            .into_inner()
            .roles)
    }

    /// Issues a token for a system account (admin); the client keeps its own.
    pub async fn issue_service_token(
        &self,
        account_id: &str,
    ) -> Result<pb::IssueServiceTokenResponse> {
        Ok(self
            .tokens()
            .issue_service_token(self.req(pb::IssueServiceTokenRequest {
                account_id: account_id.to_owned(),
            }))
            .await?
            .into_inner())
    }

    /// Revokes a token by its jti (admin).
    pub async fn revoke_token(&self, jti: &str, reason: &str) -> Result<()> {
        self.tokens()
            .revoke_token(self.req(pb::RevokeTokenRequest {
                jti: jti.to_owned(),
                reason: reason.to_owned(),
            }))
            .await?;
        Ok(())
    }

    /// The PostgreSQL credentials stored for an account, password included
    /// (the account itself or an admin).
    pub async fn get_pg_creds(&self, account_id: &str) -> Result<pb::PgCreds> {
        self.accounts()
            .get_pg_creds(self.req(pb::GetPgCredsRequest {
                account_id: account_id.to_owned(),
            }))
            .await?
            .into_inner()
            .creds
            .ok_or_else(|| missing("credentials"))
    }

    /// Stores PostgreSQL credentials for an account (the account itself or
    /// an admin); the password is sealed at rest.
    pub async fn set_pg_creds(&self, account_id: &str, creds: &pb::PgCreds) -> Result<()> {
        self.accounts()
            .set_pg_creds(self.req(pb::SetPgCredsRequest {
                account_id: account_id.to_owned(),
                host: creds.host.clone(),
                port: creds.port,
                database: creds.database.clone(),
                username: creds.username.clone(),
                password: creds.password.clone(),
            }))
            .await?;
        Ok(())
    }

    /// Matching audit events, newest first, fetched page by page (admin).
    pub async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Vec<pb::AuditEvent>> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let res = self
                .admin()
                .list_audit_events(self.req(pb::ListAuditEventsRequest {
                    account_id: filter.account_id.clone(),
                    event_type: filter.event_type.clone(),
                    since: filter.since,
                    page_size: filter.page_size,
                    page_token,
                }))
                .await?
                .into_inner();
            out.extend(res.events);
            if res.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = res.next_page_token;
        }
    }
}
