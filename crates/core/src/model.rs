//! The domain's vocabulary: accounts, tokens, keys, credentials and audit
//! records. `idm` speaks them to its callers and `store` reads and writes
//! them; neither the wire nor SQLite appears here.

use crate::error::{Error, Result};

/// Human or system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    /// A person.
    Human = 1,
    /// A service.
    System = 2,
}

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// May authenticate.
    Active = 1,
    /// Disabled.
    Inactive = 2,
    /// Suspended.
    Suspended = 3,
    /// Soft-deleted.
    Deleted = 4,
}

impl AccountType {
    /// From the stored integer.
    pub fn from_i64(v: i64) -> Result<Self> {
        match v {
            1 => Ok(Self::Human),
            2 => Ok(Self::System),
            _ => Err(Error::internal(format!(
                "stored account_type {v} is invalid"
            ))),
        }
    }
    /// `human` or `system`, as in the `typ` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::System => "system",
        }
    }
}

impl AccountStatus {
    /// From the stored integer.
    pub fn from_i64(v: i64) -> Result<Self> {
        match v {
            1 => Ok(Self::Active),
            2 => Ok(Self::Inactive),
            3 => Ok(Self::Suspended),
            4 => Ok(Self::Deleted),
            _ => Err(Error::internal(format!("stored status {v} is invalid"))),
        }
    }
    /// Lowercase name for logs and audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }
}

/// An account row. Deliberately not `Debug`: it holds the password hash and
/// the sealed TOTP secret.
#[derive(Clone)]
pub struct AccountRecord {
    /// UUID (v7, so ordering by id is ordering by creation).
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// Human or system.
    pub account_type: AccountType,
    /// Lifecycle state.
    pub status: AccountStatus,
    /// Argon2id PHC string, when the account has a password.
    pub password_hash: Option<String>,
    /// Sealed TOTP secret (pending or enabled).
    pub totp_secret_sealed: Option<Vec<u8>>,
    /// Whether the TOTP secret is confirmed.
    pub totp_enabled: bool,
    /// The last TOTP step accepted (replay protection).
    pub totp_last_step: i64,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// Logins refused until this time.
    pub locked_until: i64,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Bumped to invalidate every token of the account.
    pub token_version: i64,
    /// Argon2id hash of a system account's client secret.
    pub client_secret_hash: Option<String>,
    /// The last successful sign-in.
    pub last_login_at: Option<i64>,
    /// The password is a temporary one: the next sign-in must change it.
    pub password_change_required: bool,
    /// The optional profile (OpenID Connect standard claims).
    pub profile: Profile,
}

/// An account's profile; every field is optional (`preferred_username` is
/// the username).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Email address (lowercase domain).
    pub email: Option<String>,
    /// Whether an admin has verified the email address.
    pub email_verified: bool,
    /// Full name for display.
    pub display_name: Option<String>,
    /// Given (first) name.
    pub given_name: Option<String>,
    /// Family (last) name.
    pub family_name: Option<String>,
}

/// What distinguishes access tokens for revocation bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// From Login or RenewToken.
    Session = 1,
    /// From IssueServiceToken.
    Service = 2,
}

/// An issued token to record.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Token id.
    pub jti: String,
    /// Subject account.
    pub account_id: String,
    /// Session or service.
    pub kind: TokenKind,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// The refresh-token family it was issued from.
    pub family_id: Option<String>,
}

/// A recorded token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Token id.
    pub jti: String,
    /// Subject account.
    pub account_id: String,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
    /// The refresh-token family (the session) it was issued from, if any.
    pub family_id: Option<String>,
}

/// A stored signing key (private part sealed).
#[derive(Clone)]
pub struct SigningKeyRecord {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// The algorithm: EdDSA (Ed25519) or RS256 (RSA).
    pub alg: SigningAlg,
    /// The public key: 32 bytes (Ed25519) or a PKCS#1 `RSAPublicKey` (DER).
    pub public_key: Vec<u8>,
    /// Sealed private key: the 32-byte seed (Ed25519) or PKCS#8 DER (RSA).
    pub private_key_sealed: Vec<u8>,
    /// Creation time.
    pub created_at: i64,
    /// Whether it is the newest key of its algorithm, the one that signs
    /// from `active_from` on (at most one per algorithm).
    pub active: bool,
    /// When it starts signing: a rotated key is published in the JWKS at
    /// once but signs only from here on (its creation plus the lead time);
    /// until then the key before it signs.
    pub active_from: i64,
    /// When a superseded key stops verifying.
    pub retire_after: Option<i64>,
}

/// A stored refresh-token secret (sealed).
#[derive(Clone)]
pub struct RefreshKeyRecord {
    /// Short id, the prefix of refresh tokens made under it.
    pub id: String,
    /// Sealed 32-byte HMAC secret.
    pub secret_sealed: Vec<u8>,
    /// Creation time.
    pub created_at: i64,
    /// Whether new refresh tokens use it.
    pub active: bool,
}

/// Stored PostgreSQL credentials (password sealed).
#[derive(Clone)]
pub struct PgCredsRecord {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User.
    pub username: String,
    /// Sealed password.
    pub password_sealed: Vec<u8>,
}

/// `success` or `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It worked.
    Success,
    /// It was refused or failed.
    Failure,
}

impl Outcome {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// An audit event to append. Never holds a secret.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// When.
    pub occurred_at: i64,
    /// What, e.g. `login_success`.
    pub event_type: &'static str,
    /// Who: an account id or `mciasdb`.
    pub actor_id: Option<String>,
    /// Whom or what: an account id or a jti.
    pub target_id: Option<String>,
    /// The client's address.
    pub peer: Option<String>,
    /// Success or failure.
    pub outcome: Outcome,
    /// Non-secret detail.
    pub details: serde_json::Value,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Monotonic id.
    pub id: i64,
    /// When.
    pub occurred_at: i64,
    /// What.
    pub event_type: String,
    /// Who.
    pub actor_id: Option<String>,
    /// Whom.
    pub target_id: Option<String>,
    /// Client address.
    pub peer: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// JSON detail.
    pub details: String,
}

/// Filters for listing audit events (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actor or target equals this.
    pub account_id: Option<String>,
    /// Event type equals this.
    pub event_type: Option<String>,
    /// At or after this time.
    pub since: Option<i64>,
    /// Before this time.
    pub until: Option<i64>,
    /// Ids strictly below this (paging).
    pub before_id: Option<i64>,
}

/// A failed login to record: counted for its source (the client's address)
/// and for the whole account.
#[derive(Debug, Clone)]
pub struct LoginFailure {
    /// Account id.
    pub account_id: String,
    /// The client's address.
    pub source: String,
    /// When.
    pub now: i64,
    /// Lock duration for the source after its n-th failure.
    pub source_lock_secs: fn(i64) -> i64,
    /// Lock duration for the whole account after its n-th failure (the
    /// ceiling; far higher than the source's).
    pub account_lock_secs: fn(i64) -> i64,
}

/// One source's failed logins against one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceFailures {
    /// Failures since the source's last success.
    pub failures: i64,
    /// Until when the source is backed off (0: not).
    pub locked_until: i64,
}

/// A successful login's bookkeeping.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// Account id.
    pub account_id: String,
    /// The client's address (its failures are forgotten).
    pub source: String,
    /// When.
    pub now: i64,
    /// A re-hash under current parameters, when the stored one was outdated.
    pub new_hash: Option<String>,
    /// The TOTP step accepted, when TOTP is enabled.
    pub totp_step: Option<i64>,
    /// The access token issued (API sign-in).
    pub token: Option<NewToken>,
    /// The refresh token issued with it (a new family).
    pub refresh: Option<NewRefresh>,
    /// The browser session signed in (page sign-in), and the id hash of the
    /// session it replaces (the one that waited for the second factor).
    pub session: Option<(WebSession, Option<String>)>,
}

/// A refresh token to record.
#[derive(Debug, Clone)]
pub struct NewRefresh {
    /// HMAC of the token value (hex).
    pub hash: String,
    /// The secret's id.
    pub key_id: String,
    /// The family (one per login or grant).
    pub family_id: String,
    /// The account.
    pub account_id: String,
    /// The account's token version at issue.
    pub token_version: i64,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// The token value sealed, kept only to hand the same successor out again
    /// within the grace window.
    pub sealed: Option<Vec<u8>>,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// HMAC of the value.
    pub hash: String,
    /// Family.
    pub family_id: String,
    /// Account.
    pub account_id: String,
    /// Token version at issue.
    pub token_version: i64,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When it was used up.
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// What happened to a presented refresh token.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// Used up; the successor and the access token were recorded.
    Rotated,
    /// Already used, within the grace window: the sealed successor.
    Replayed {
        /// HMAC of the successor.
        hash: String,
        /// The successor value, sealed.
        sealed: Vec<u8>,
        /// The successor's expiry.
        expires_at: i64,
    },
    /// Already used outside the grace window: the family is revoked, with
    /// the access tokens issued from it (jti, expiry).
    Reused(Vec<(String, i64)>),
    /// Unknown, expired, revoked, or from an older token version.
    Invalid,
}

/// Whether an OAuth client can keep a secret (RFC 6749 section 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// Holds a client secret.
    Confidential = 1,
    /// No secret (native and browser apps, with PKCE).
    Public = 2,
}

impl ClientType {
    /// From the stored integer.
    pub fn from_i64(v: i64) -> Result<Self> {
        match v {
            1 => Ok(Self::Confidential),
            2 => Ok(Self::Public),
            _ => Err(Error::internal(format!(
                "stored client_type {v} is invalid"
            ))),
        }
    }
    /// `confidential` or `public`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }
}

/// An OAuth 2.0 grant a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials`.
    ClientCredentials,
}

impl GrantType {
    /// The RFC 6749 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
    /// From the RFC 6749 name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
}

/// A JWS signing algorithm: of a client's ID tokens, and of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// Ed25519.
    EdDsa = 1,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256 = 2,
}

impl SigningAlg {
    /// From the stored integer.
    pub fn from_i64(v: i64) -> Result<Self> {
        match v {
            1 => Ok(Self::EdDsa),
            2 => Ok(Self::Rs256),
            _ => Err(Error::internal(format!(
                "stored signing alg {v} is invalid"
            ))),
        }
    }
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }
    /// From the JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "EdDSA" => Some(Self::EdDsa),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }
    /// Every algorithm, in the order keys are made.
    pub const ALL: [Self; 2] = [Self::EdDsa, Self::Rs256];
}

/// A registered application (OAuth client). Its secret exists only as an
/// HMAC (`secret_hash`), which `Debug` does not show.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The client identifier.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Exact-match redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact-match post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grants, sorted.
    pub grant_types: Vec<GrantType>,
    /// Allowed scopes, sorted.
    pub scopes: Vec<String>,
    /// Access-token audience; empty for the client id.
    pub audience: String,
    /// Access-token lifetime in seconds; 0 for the server's default.
    pub access_token_ttl: i64,
    /// Refresh-token lifetime in seconds; 0 for the server's default.
    pub refresh_token_ttl: i64,
    /// Skips consent.
    pub first_party: bool,
    /// ID-token signing algorithm.
    pub id_token_alg: SigningAlg,
    /// HMAC (hex, under a refresh secret) of the client secret.
    pub secret_hash: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl std::fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("client_type", &self.client_type)
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("grant_types", &self.grant_types)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("first_party", &self.first_party)
            .field("id_token_alg", &self.id_token_alg)
            .field("has_secret", &self.secret_hash.is_some())
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// How far a browser session has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the second factor is still due.
    SecondFactor = 1,
    /// Signed in.
    SignedIn = 2,
}

impl SessionStage {
    /// From the stored integer.
    pub fn from_i64(v: i64) -> Result<Self> {
        match v {
            1 => Ok(Self::SecondFactor),
            2 => Ok(Self::SignedIn),
            _ => Err(Error::internal(format!(
                "stored session stage {v} is invalid"
            ))),
        }
    }
}

/// A browser session. The cookie value is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// SHA-256 (hex) of the cookie value.
    pub id_hash: String,
    /// The public session id (`sid` in ID tokens).
    pub sid: String,
    /// The account.
    pub account_id: String,
    /// The account's token version at sign-in.
    pub token_version: i64,
    /// Password only, or signed in.
    pub stage: SessionStage,
    /// Authentication methods used (RFC 8176 names).
    pub amr: Vec<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Creation time.
    pub created_at: i64,
    /// Last request seen (for the idle timeout).
    pub last_seen: i64,
    /// Absolute end.
    pub expires_at: i64,
    /// When it was ended (sign-out), if it was.
    pub ended_at: Option<i64>,
    /// The client address at creation.
    pub peer: Option<String>,
    /// The browser's User-Agent at creation (truncated).
    pub user_agent: Option<String>,
}

/// An authorization code, stored by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    /// The application it was issued to.
    pub client_id: String,
    /// The account that authorized it.
    pub account_id: String,
    /// The redirect URI it was sent to (must be presented again).
    pub redirect_uri: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The client's `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// The browser session.
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Issue time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When it was exchanged.
    pub used_at: Option<i64>,
    /// The grant (refresh family) it was exchanged for.
    pub family_id: Option<String>,
}

/// What taking an authorization code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Unused and unexpired: now marked used.
    Fresh(AuthCode),
    /// Used before: the grant it was exchanged for has been revoked (the
    /// access tokens revoked are listed: jti, expiry).
    Reused(AuthCode, Vec<(String, i64)>),
    /// Unknown or expired.
    Invalid,
}

/// A refresh-token family issued to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthGrant {
    /// The refresh family.
    pub family_id: String,
    /// The application.
    pub client_id: String,
    /// The account.
    pub account_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The browser session it came from.
    pub sid: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Creation time.
    pub created_at: i64,
}

/// What the console's overview counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Accounts by status (deleted ones included).
    pub accounts: Vec<(AccountStatus, i64)>,
    /// Registered applications (not deleted).
    pub clients: i64,
    /// Signed-in browser sessions that have not ended or expired.
    pub sessions: i64,
}

/// A live refresh-token family of an account: an API sign-in, or a grant
/// to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyInfo {
    /// The family id.
    pub family_id: String,
    /// The application holding it, when it is a grant.
    pub client_id: Option<String>,
    /// Granted scopes of an application's grant.
    pub scope: Option<String>,
    /// When the family began.
    pub created_at: i64,
    /// When its current refresh token was issued (last use).
    pub last_used: i64,
    /// When its current refresh token expires.
    pub expires_at: i64,
}
