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
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// The generated protobuf messages and tonic clients (`mcias.v1`).
pub use mcias_proto as pb;

use pb::account_service_client::AccountServiceClient;
use pb::admin_service_client::AdminServiceClient;
use pb::auth_service_client::AuthServiceClient;
use pb::client_service_client::ClientServiceClient;
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

/// The endpoint for `server`: `https://` unless the URL says `http://`,
/// TLS with the CA file or the system roots, the host name checked.
fn endpoint(server: &str, ca_cert: Option<&Path>, options: &ConnectOptions) -> Result<Endpoint> {
    let url = if server.starts_with("https://") || server.starts_with("http://") {
        server.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", server.trim_end_matches('/'))
    };
    let mut endpoint = Endpoint::from_shared(url).map_err(|e| Error::Config(e.to_string()))?;
    if let Some(t) = options.connect_timeout {
        endpoint = endpoint.connect_timeout(t);
    }
    if let Some(t) = options.timeout {
        endpoint = endpoint.timeout(t);
    }
    if endpoint.uri().scheme_str() == Some("http") {
        return Ok(endpoint);
    }
    let mut tls = ClientTlsConfig::new();
    if let Some(host) = endpoint.uri().host() {
        tls = tls.domain_name(host.trim_start_matches('[').trim_end_matches(']'));
    }
    tls = match ca_cert {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                Error::Config(format!(
                    "cannot read the CA certificate {}: {e}",
                    path.display()
                ))
            })?;
            tls.ca_certificate(Certificate::from_pem(pem))
        }
        None => tls.with_native_roots(),
    };
    endpoint
        .tls_config(tls)
        .map_err(|e| Error::Config(format!("TLS configuration: {e}")))
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

/// A profile change for [`Client::update_profile`]: `None` leaves a field
/// as it is; an empty string clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// Email address.
    pub email: Option<String>,
    /// Whether the email is verified (admins only).
    pub email_verified: Option<bool>,
    /// Full name for display.
    pub display_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
}

impl ProfileChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How [`Client::connect`] reaches the server.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// How long connecting may take (none: no limit of the client's own).
    pub connect_timeout: Option<Duration>,
    /// How long each call may take (none: no limit of the client's own).
    pub timeout: Option<Duration>,
}

/// The `token_type_hint` of [`Client::introspect`] and
/// [`Client::revoke_token_value`] (RFC 7662 / RFC 7009 spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHint {
    /// An access token (a JWT): `access_token`.
    Access,
    /// A refresh token: `refresh_token`.
    Refresh,
}

impl TokenHint {
    /// The hint as the API spells it.
    pub fn as_api(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
        }
    }
}

fn hint(h: Option<TokenHint>) -> String {
    h.map(TokenHint::as_api).unwrap_or_default().to_owned()
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
        let channel = endpoint(server, ca_cert, &ConnectOptions::default())?.connect_lazy();
        Ok(Self::over(channel, token))
    }

    /// A client for `server` connected now: unlike [`Client::new`], an
    /// unreachable server or a failed TLS handshake is reported here, as
    /// [`Error::Unavailable`] naming the cause. `server` is `host:port`,
    /// `https://host:port`, or `http://host:port` for a plaintext server
    /// (no TLS; for a loopback test server only). The CA file is read as in
    /// [`Client::new`]; `options` bound the connection and every call.
    pub async fn connect(
        server: &str,
        ca_cert: Option<&Path>,
        token: Option<String>,
        options: &ConnectOptions,
    ) -> Result<Self> {
        let endpoint = endpoint(server, ca_cert, options)?;
        let url = endpoint.uri().to_string();
        let channel = endpoint.connect().await.map_err(|e| {
            let mut msg = format!("cannot connect to {}: {e}", url.trim_end_matches('/'));
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            Error::Unavailable(msg)
        })?;
        Ok(Self::over(channel, token))
    }

    fn over(channel: Channel, token: Option<String>) -> Self {
        Self {
            channel,
            token: Arc::new(RwLock::new(token.unwrap_or_default())),
        }
    }

    /// A client over the same connection that holds `token` instead, on
    /// its own: changing either client's token leaves the other's alone.
    pub fn with_token(&self, token: Option<String>) -> Self {
        Self::over(self.channel.clone(), token)
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
    fn apps(&self) -> ClientServiceClient<Channel> {
        ClientServiceClient::new(self.channel.clone())
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
            let res = self.list_accounts_page(page_size, &page_token).await?;
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

    /// Changes an account's profile (the account itself or an admin; only
    /// an admin may set `email_verified`). A new email clears
    /// `email_verified` unless an admin sets it in the same change.
    pub async fn update_profile(
        &self,
        account_id: &str,
        changes: &ProfileChanges,
    ) -> Result<pb::Account> {
        let mut req = pb::UpdateProfileRequest {
            account_id: account_id.to_owned(),
            ..Default::default()
        };
        let mut paths = Vec::new();
        if let Some(v) = &changes.email {
            req.email.clone_from(v);
            paths.push("email".to_owned());
        }
        if let Some(v) = changes.email_verified {
            req.email_verified = v;
            paths.push("email_verified".to_owned());
        }
        if let Some(v) = &changes.display_name {
            req.display_name.clone_from(v);
            paths.push("display_name".to_owned());
        }
        if let Some(v) = &changes.given_name {
            req.given_name.clone_from(v);
            paths.push("given_name".to_owned());
        }
        if let Some(v) = &changes.family_name {
            req.family_name.clone_from(v);
            paths.push("family_name".to_owned());
        }
        req.update_mask = Some(prost_types::FieldMask { paths });
        self.accounts()
            .update_profile(self.req(req))
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
            let res = self.list_audit_events_page(filter, &page_token).await?;
            out.extend(res.events);
            if res.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = res.next_page_token;
        }
    }
    /// Exchanges a refresh token for a new access token and refresh token
    /// (the old refresh token is used up); the client then holds the new
    /// access token. Needs no token.
    pub async fn refresh_token(&self, refresh_token: &str) -> Result<pb::RefreshTokenResponse> {
        let res = self
            .auth()
            .refresh_token(tonic::Request::new(pb::RefreshTokenRequest {
                refresh_token: refresh_token.to_owned(),
            }))
            .await?
            .into_inner();
        self.set_token(Some(res.token.clone()));
        Ok(res)
    }

    /// Logs a system account in with its client secret (the OAuth 2.0
    /// client_credentials grant); the client then holds the token. No
    /// refresh token is issued.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<pb::ClientCredentialsResponse> {
        let res = self
            .auth()
            .client_credentials(tonic::Request::new(pb::ClientCredentialsRequest {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
            }))
            .await?
            .into_inner();
        self.set_token(Some(res.token.clone()));
        Ok(res)
    }

    /// Invalidates every access and refresh token of an account, on every
    /// device: `account_id` empty for the caller's own account, another
    /// account's id for an admin.
    pub async fn sign_out_everywhere(&self, account_id: &str) -> Result<()> {
        self.auth()
            .sign_out_everywhere(self.req(pb::SignOutEverywhereRequest {
                account_id: account_id.to_owned(),
            }))
            .await?;
        Ok(())
    }

    /// Changes the caller's own password.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<()> {
        self.auth()
            .change_password(self.req(pb::ChangePasswordRequest {
                current_password: current.to_owned(),
                new_password: new.to_owned(),
            }))
            .await?;
        Ok(())
    }

    /// Starts TOTP enrollment for the caller: the secret and the otpauth
    /// URI to show (as a QR code) once; [`Client::confirm_totp`] activates
    /// it.
    pub async fn enroll_totp(&self) -> Result<pb::EnrollTotpResponse> {
        Ok(self
            .auth()
            .enroll_totp(self.req(pb::EnrollTotpRequest {}))
            .await?
            .into_inner())
    }

    /// Activates the caller's pending TOTP enrollment with a current code.
    pub async fn confirm_totp(&self, code: &str) -> Result<()> {
        self.auth()
            .confirm_totp(self.req(pb::ConfirmTotpRequest {
                code: code.to_owned(),
            }))
            .await?;
        Ok(())
    }

    /// Removes an account's TOTP factor, pending or enabled (admin).
    pub async fn remove_totp(&self, account_id: &str) -> Result<()> {
        self.auth()
            .remove_totp(self.req(pb::RemoveTotpRequest {
                account_id: account_id.to_owned(),
            }))
            .await?;
        Ok(())
    }

    /// Describes an access or refresh token (RFC 7662). An inactive token is
    /// not an error: `active` is false.
    pub async fn introspect(
        &self,
        token: &str,
        hint: Option<TokenHint>,
    ) -> Result<pb::IntrospectTokenResponse> {
        Ok(self
            .tokens()
            .introspect_token(self.req(pb::IntrospectTokenRequest {
                token: token.to_owned(),
                token_type_hint: self::hint(hint),
            }))
            .await?
            .into_inner())
    }

    /// Revokes a token given its value (RFC 7009): an access token, or a
    /// refresh token together with its whole family. An unknown token is not
    /// an error. Needs no token.
    pub async fn revoke_token_value(&self, token: &str, hint: Option<TokenHint>) -> Result<()> {
        self.tokens()
            .revoke_token_value(tonic::Request::new(pb::RevokeTokenValueRequest {
                token: token.to_owned(),
                token_type_hint: self::hint(hint),
            }))
            .await?;
        Ok(())
    }

    /// Makes a new Ed25519 key the one that signs new tokens and returns
    /// its `kid`; earlier keys keep verifying their tokens (admin).
    pub async fn rotate_signing_key(&self) -> Result<String> {
        Ok(self
            .admin()
            .rotate_signing_key(self.req(pb::RotateSigningKeyRequest {}))
            .await?
            .into_inner()
            .kid)
    }

    /// Retires the signing key `kid` at once (a compromised key): tokens it
    /// signed stop validating and it leaves the JWKS. When it is the active
    /// key a new one is rotated in first; the answer's `new_active_kid`
    /// names it (empty otherwise) (admin).
    pub async fn revoke_signing_key(&self, kid: &str) -> Result<pb::RevokeSigningKeyResponse> {
        Ok(self
            .admin()
            .revoke_signing_key(self.req(pb::RevokeSigningKeyRequest {
                kid: kid.to_owned(),
            }))
            .await?
            .into_inner())
    }

    /// Makes a new secret the one that protects new refresh tokens at rest
    /// and returns its id; earlier refresh tokens keep working (admin).
    pub async fn rotate_refresh_key(&self) -> Result<String> {
        Ok(self
            .admin()
            .rotate_refresh_key(self.req(pb::RotateRefreshKeyRequest {}))
            .await?
            .into_inner()
            .key_id)
    }

    /// Sets a new client secret for a system account and returns it; it
    /// cannot be read again and the previous one stops working (admin).
    pub async fn rotate_client_secret(&self, account_id: &str) -> Result<String> {
        Ok(self
            .accounts()
            .rotate_client_secret(self.req(pb::RotateClientSecretRequest {
                account_id: account_id.to_owned(),
            }))
            .await?
            .into_inner()
            .client_secret)
    }

    /// The account named `username` (case-insensitive), looked up page by
    /// page with `page_size` per call; [`Error::NotFound`] when there is
    /// none (admin).
    pub async fn find_account_by_username(
        &self,
        username: &str,
        page_size: i32,
    ) -> Result<pb::Account> {
        let wanted = username.to_lowercase();
        let mut page_token = String::new();
        loop {
            let page = self.list_accounts_page(page_size, &page_token).await?;
            if let Some(a) = page.accounts.into_iter().find(|a| a.username == wanted) {
                return Ok(a);
            }
            if page.next_page_token.is_empty() {
                return Err(Error::NotFound(format!("no account named {username:?}")));
            }
            page_token = page.next_page_token;
        }
    }

    /// One page of accounts that are not deleted, from `page_token` (empty
    /// for the first page) (admin).
    pub async fn list_accounts_page(
        &self,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListAccountsResponse> {
        Ok(self
            .accounts()
            .list_accounts(self.req(pb::ListAccountsRequest {
                page_size,
                page_token: page_token.to_owned(),
                ..Default::default()
            }))
            .await?
            .into_inner())
    }

    /// One page of matching audit events, newest first, from `page_token`
    /// (empty for the first page); `filter.page_size` events at most
    /// (admin).
    pub async fn list_audit_events_page(
        &self,
        filter: &AuditFilter,
        page_token: &str,
    ) -> Result<pb::ListAuditEventsResponse> {
        Ok(self
            .admin()
            .list_audit_events(self.req(pb::ListAuditEventsRequest {
                account_id: filter.account_id.clone(),
                event_type: filter.event_type.clone(),
                since: filter.since,
                page_size: filter.page_size,
                page_token: page_token.to_owned(),
                ..Default::default()
            }))
            .await?
            .into_inner())
    }

    /// Registers an application (OAuth client) (admin). Returns it and its
    /// secret, which is shown only here (empty for a public client).
    pub async fn create_client(
        &self,
        client: pb::OAuthClient,
    ) -> Result<(pb::OAuthClient, String)> {
        let res = self
            .apps()
            .create_client(self.req(pb::CreateClientRequest {
                client: Some(client),
            }))
            .await?
            .into_inner();
        Ok((
            res.client.ok_or_else(|| missing("client"))?,
            res.client_secret,
        ))
    }

    /// Every application that is not deleted, fetched page by page with
    /// `page_size` per call (0: the server's default) (admin).
    pub async fn list_clients(&self, page_size: i32) -> Result<Vec<pb::OAuthClient>> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let res = self.list_clients_page(page_size, &page_token).await?;
            out.extend(res.clients);
            if res.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = res.next_page_token;
        }
    }

    /// One page of applications, from `page_token` (empty for the first
    /// page) (admin).
    pub async fn list_clients_page(
        &self,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListClientsResponse> {
        Ok(self
            .apps()
            .list_clients(self.req(pb::ListClientsRequest {
                page_size,
                page_token: page_token.to_owned(),
            }))
            .await?
            .into_inner())
    }

    /// One application (admin). It never carries the secret.
    pub async fn get_client(&self, client_id: &str) -> Result<pb::OAuthClient> {
        self.apps()
            .get_client(self.req(pb::GetClientRequest {
                client_id: client_id.to_owned(),
            }))
            .await?
            .into_inner()
            .client
            .ok_or_else(|| missing("client"))
    }

    /// Changes the fields of an application named in `paths` (the
    /// `OAuthClient` field names; empty: all updatable fields) to their
    /// values in `client` (admin).
    pub async fn update_client(
        &self,
        client_id: &str,
        client: pb::OAuthClient,
        paths: Vec<String>,
    ) -> Result<pb::OAuthClient> {
        self.apps()
            .update_client(self.req(pb::UpdateClientRequest {
                client_id: client_id.to_owned(),
                client: Some(client),
                update_mask: Some(prost_types::FieldMask { paths }),
            }))
            .await?
            .into_inner()
            .client
            .ok_or_else(|| missing("client"))
    }

    /// Deletes an application; its id stays reserved (admin).
    pub async fn delete_client(&self, client_id: &str) -> Result<()> {
        self.apps()
            .delete_client(self.req(pb::DeleteClientRequest {
                client_id: client_id.to_owned(),
            }))
            .await?;
        Ok(())
    }

    /// Replaces a confidential application's secret and returns the new
    /// one, once (admin).
    pub async fn rotate_oauth_client_secret(&self, client_id: &str) -> Result<String> {
        Ok(self
            .apps()
            .rotate_secret(self.req(pb::RotateSecretRequest {
                client_id: client_id.to_owned(),
            }))
            .await?
            .into_inner()
            .client_secret)
    }
}
