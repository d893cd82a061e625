//! `mciasctl`: command-line definitions of the admin and user gRPC client.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::args::{AccountRole, EventFilter, PgTarget};

/// The server used when neither `--server` nor `MCIAS_SERVER` is given.
pub const DEFAULT_SERVER: &str = "https://localhost:8443";

/// `mciasctl`: talks to an MCIAS server over gRPC.
#[derive(Debug, Parser)]
#[command(
    name = "mciasctl",
    version,
    about = "MCIAS admin and user command-line client",
    long_about = "mciasctl talks to an MCIAS server over gRPC and TLS. \
        It logs in (with a password or a client secret) and keeps the session \
        going with refresh tokens, manages accounts, roles, tokens, client \
        secrets, signing keys, TOTP, stored credentials and passwords, and \
        reads the audit log.",
    after_help = "Exit status: 0 success, 1 the server refused (its message is printed), \
        2 usage error, 3 connection or TLS problem."
)]
pub struct CtlCli {
    /// The server's URL, e.g. https://mcias.example.com:8443.
    #[arg(long, global = true, value_name = "URL", env = "MCIAS_SERVER")]
    pub server: Option<String>,
    /// A PEM file with the CA certificate(s) that sign the server's
    /// certificate (default: the system's trust store).
    #[arg(long, global = true, value_name = "FILE", env = "MCIAS_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// The access token to send (default: MCIAS_TOKEN, then the token file).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "MCIAS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Where `login` stores the token and other commands read it (default:
    /// $XDG_CONFIG_HOME/mcias/token or ~/.config/mcias/token).
    #[arg(long, global = true, value_name = "FILE", env = "MCIAS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Output format: aligned tables for people, or one JSON object per line
    /// for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

pub use crate::args::Output;

/// `mciasctl` commands.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Logs in and stores the access token and the refresh token in the
    /// token file (mode 0600); with --client-credentials, logs a system
    /// account in with its client secret.
    Login(LoginArgs),
    /// Revokes the current token (and the stored refresh token's family) and
    /// removes the token file; with --everywhere, invalidates every token of
    /// the account.
    Logout(LogoutArgs),
    /// Shows who the current token belongs to (ValidateToken).
    Whoami,
    /// Reports whether the server can serve.
    Health,
    /// Manages accounts (admin).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manages an account's roles (admin).
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manages applications: OAuth clients (admin).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Issues, renews, revokes and validates tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manages the TOTP second factor.
    #[command(subcommand)]
    Totp(TotpCommand),
    /// Reads and stores PostgreSQL credentials kept for an account.
    #[command(subcommand)]
    Pgcreds(PgcredsCommand),
    /// Reads the audit log (admin).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Changes your own password.
    #[command(subcommand)]
    Password(PasswordCommand),
    /// Rotates or revokes the token signing key; rotates the refresh-token
    /// key (admin).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Prints a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// GNU Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The username (prompted when omitted).
    #[arg(conflicts_with = "client_credentials")]
    pub username: Option<String>,
    /// Read the password from the first line of standard input, and a TOTP
    /// code from the second line when there is one.
    #[arg(long, conflicts_with = "client_credentials")]
    pub password_stdin: bool,
    /// Ask for a TOTP code up front (otherwise it is asked for only after a
    /// refused login on a terminal).
    #[arg(long, conflicts_with = "client_credentials")]
    pub totp: bool,
    /// Log a system account in with its client secret (the OAuth 2.0
    /// client_credentials grant) instead of a password; no refresh token is
    /// issued.
    #[arg(long, requires = "client_id")]
    pub client_credentials: bool,
    /// The system account's username or id, with --client-credentials.
    #[arg(long, value_name = "ID", requires = "client_credentials")]
    pub client_id: Option<String>,
    /// Read the client secret from the first line of standard input (it is
    /// otherwise prompted without echo; it is never taken as an argument).
    #[arg(long, requires = "client_credentials")]
    pub secret_stdin: bool,
}

/// `logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Invalidate every access and refresh token of the account, on every
    /// device, not just the current token.
    #[arg(long)]
    pub everywhere: bool,
    /// With --everywhere: another account (id or username; admin). Without
    /// it, your own account, and the token file is removed.
    #[arg(requires = "everywhere")]
    pub account: Option<String>,
}

/// A token type hint for introspection and revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenHint {
    /// An access token (a JWT).
    Access,
    /// A refresh token.
    Refresh,
}

impl From<TokenHint> for mcias_client::TokenHint {
    fn from(h: TokenHint) -> Self {
        match h {
            TokenHint::Access => Self::Access,
            TokenHint::Refresh => Self::Refresh,
        }
    }
}

/// Account lifecycle states that can be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SettableStatus {
    /// May authenticate.
    Active,
    /// Disabled; tokens revoked.
    Inactive,
    /// Suspended; tokens revoked.
    Suspended,
}

/// Account kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A person with a password.
    Human,
    /// A service that uses service tokens.
    System,
}

/// `account ...`. ACCOUNT is an account id or a username.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Creates an account; a human account's password is prompted twice or
    /// read with --password-stdin.
    Create {
        /// The username.
        username: String,
        /// Human or system.
        #[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = Kind::Human)]
        kind: Kind,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists accounts that are not deleted.
    List {
        /// Accounts per request (the listing fetches every page).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=500))]
        page_size: i32,
    },
    /// Shows one account.
    Get {
        /// Account id or username.
        account: String,
    },
    /// Changes an account's status.
    Update {
        /// Account id or username.
        account: String,
        /// The new status.
        #[arg(long, value_enum)]
        status: SettableStatus,
    },
    /// Changes an account's profile: the account itself (pass its id) or an
    /// admin. An empty value clears a field; a new email clears
    /// email_verified unless --email-verified is given (admins only).
    Profile {
        /// Account id or username (a username needs an admin).
        account: String,
        /// Email address (one '@', no spaces, at most 254 bytes).
        #[arg(long)]
        email: Option<String>,
        /// Marks the email as verified or not (admins only).
        #[arg(long, value_name = "BOOL")]
        email_verified: Option<bool>,
        /// Full name for display (at most 100 characters).
        #[arg(long)]
        display_name: Option<String>,
        /// Given name (at most 100 characters).
        #[arg(long)]
        given_name: Option<String>,
        /// Family name (at most 100 characters).
        #[arg(long)]
        family_name: Option<String>,
    },
    /// Sets a new client secret for a system account and prints it; it is
    /// shown this once and cannot be read again.
    ClientSecret {
        /// Account id or username of a system account.
        account: String,
    },
    /// Suspends an account and revokes its tokens.
    Suspend {
        /// Account id or username.
        account: String,
    },
    /// Deletes an account (soft delete; its tokens are revoked).
    Delete {
        /// Account id or username.
        account: String,
    },
}

/// Client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientKind {
    /// A server-side application that keeps a secret.
    Confidential,
    /// A native or browser application without a secret (PKCE).
    Public,
}

/// OAuth grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Grant {
    /// The authorization code grant.
    AuthorizationCode,
    /// Refresh tokens (needs authorization-code).
    RefreshToken,
    /// The client credentials grant (confidential clients only).
    ClientCredentials,
}

/// ID-token signing algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdTokenAlg {
    /// Ed25519.
    #[value(name = "EdDSA", alias = "eddsa")]
    EdDsa,
    /// RSA with SHA-256.
    #[value(name = "RS256", alias = "rs256")]
    Rs256,
}

/// The settings of an application; on update, only those given change.
#[derive(Debug, Clone, Args)]
pub struct ClientSettings {
    /// Display name (1 to 100 characters).
    #[arg(long)]
    pub name: Option<String>,
    /// A redirect URI, matched exactly: https, or http on 127.0.0.1, [::1]
    /// or localhost (any port). Repeat for more.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI (same rules). Repeat for more.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// An allowed grant. Repeat for more.
    #[arg(long = "grant", value_name = "GRANT", value_enum)]
    pub grants: Vec<Grant>,
    /// An allowed scope. Repeat for more.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// The access tokens' audience (empty: the client id).
    #[arg(long)]
    pub audience: Option<String>,
    /// Access-token lifetime in seconds (60 to 86400; 0: the server's default).
    #[arg(long, value_name = "SECONDS")]
    pub access_token_ttl: Option<u32>,
    /// Refresh-token lifetime in seconds (0: the server's default).
    #[arg(long, value_name = "SECONDS")]
    pub refresh_token_ttl: Option<u32>,
    /// Whether the application skips the consent screen.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub first_party: Option<bool>,
    /// The ID-token signing algorithm.
    #[arg(long, value_enum)]
    pub id_token_alg: Option<IdTokenAlg>,
}

/// `client ...`: applications (OAuth clients).
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Registers an application; a confidential client's secret is printed
    /// this once and cannot be read again.
    Create {
        /// The client id (3 to 64 of a-z, 0-9, '.', '_', '-'); generated when
        /// omitted.
        client_id: Option<String>,
        /// Confidential or public.
        #[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = ClientKind::Confidential)]
        kind: ClientKind,
        /// The application's settings.
        #[command(flatten)]
        settings: ClientSettings,
    },
    /// Lists applications that are not deleted.
    List {
        /// Applications per request (the listing fetches every page).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=500))]
        page_size: i32,
    },
    /// Shows one application (never its secret).
    Get {
        /// The client id.
        client_id: String,
    },
    /// Changes the settings given; lists given replace the stored ones.
    Update {
        /// The client id.
        client_id: String,
        /// The application's settings.
        #[command(flatten)]
        settings: ClientSettings,
    },
    /// Deletes an application (soft delete: its id stays reserved).
    Delete {
        /// The client id.
        client_id: String,
    },
    /// Sets a new secret for a confidential application and prints it; it
    /// is shown this once and the previous one stops working.
    RotateSecret {
        /// The client id.
        client_id: String,
    },
}

/// `role ...`.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Shows an account's roles.
    Get {
        /// Account id or username.
        account: String,
    },
    /// Replaces an account's roles (none given: removes all).
    Set {
        /// Account id or username.
        account: String,
        /// The complete new set of roles.
        roles: Vec<String>,
    },
    /// Adds a role.
    Grant(AccountRole),
    /// Removes a role.
    Revoke(AccountRole),
}

/// `token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issues a service token for a system account (printed once).
    Issue {
        /// Account id or username of a system account.
        account: String,
    },
    /// Replaces the current token with a fresh one (the old one is revoked)
    /// and stores it in the token file.
    Renew,
    /// Revokes a token by its id (jti).
    Revoke {
        /// The token id.
        jti: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "revoked with mciasctl")]
        reason: String,
    },
    /// Validates a token read from standard input (default: the current
    /// token); exit status 1 when it is not valid.
    Validate {
        /// Read the token to validate from standard input.
        #[arg(long)]
        stdin: bool,
    },
    /// Lists the Ed25519 public keys that verify access tokens (JWK Set),
    /// including a rotated key published ahead of signing; the RSA keys for
    /// ID tokens are in `/.well-known/jwks.json`.
    Keys,
    /// Exchanges the stored refresh token for a new access token and refresh
    /// token and stores both in the token file (the old refresh token is
    /// used up).
    Refresh {
        /// Read the refresh token from standard input instead of the token
        /// file; the new tokens are then printed, not stored.
        #[arg(long)]
        refresh_token_stdin: bool,
    },
    /// Describes an access or refresh token (active, subject, roles, expiry);
    /// exit status 1 when it is not active.
    Introspect {
        /// The token, or `-` to read it from standard input (preferred: an
        /// argument stays in the shell history and the process list).
        // Not named `token`: that id is the global --token.
        #[arg(value_name = "TOKEN|-")]
        value: String,
        /// What kind of token it is, as a hint to the server.
        #[arg(long, value_enum)]
        hint: Option<TokenHint>,
    },
    /// Revokes a token given its value: an access token, or a refresh token
    /// together with its whole family. Unknown tokens are not an error.
    RevokeValue {
        /// The token; read from standard input when omitted or `-`
        /// (preferred: an argument stays in the shell history and the
        /// process list).
        #[arg(value_name = "TOKEN|-")]
        value: Option<String>,
        /// What kind of token it is, as a hint to the server.
        #[arg(long, value_enum)]
        hint: Option<TokenHint>,
    },
}

/// `key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Rotates the signing keys: a new Ed25519 key (access tokens) and a new
    /// RSA key (ID tokens), published at once and signing once
    /// `tokens.signing_key_lead` (5m by default) has passed; earlier keys
    /// keep verifying the tokens they signed until those expire. Prints the
    /// new Ed25519 key's id.
    Rotate,
    /// Makes a new secret the one that protects new refresh tokens at rest;
    /// refresh tokens made under earlier secrets keep working.
    RotateRefresh,
    /// Retires a signing key, Ed25519 or RSA, at once (a compromised key):
    /// tokens it signed stop validating and it leaves the JWKS. Revoking the
    /// active key, or the one that signs while a rotated key waits, first
    /// rotates a new one in, signing at once, and names it.
    Revoke {
        /// The key's id (`kid`), as `mciasctl token keys` or the JWKS lists
        /// it (a kid may begin with '-').
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// `totp ...`.
#[derive(Debug, Subcommand)]
pub enum TotpCommand {
    /// Starts enrollment: prints the otpauth URI, a QR code and the secret.
    Enroll,
    /// Activates the pending enrollment with a current code.
    Confirm {
        /// The 6-digit code from the authenticator.
        code: String,
    },
    /// Removes an account's TOTP factor (admin).
    Remove {
        /// Account id or username.
        account: String,
    },
}

/// `pgcreds ...`.
#[derive(Debug, Subcommand)]
pub enum PgcredsCommand {
    /// Prints the stored credentials, password included.
    Get {
        /// Account id or username.
        account: String,
    },
    /// Stores credentials; the password is prompted or read with
    /// --password-stdin, never given as an argument.
    Set {
        /// The account and where the credentials point.
        #[command(flatten)]
        target: PgTarget,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Lists events, newest first (with --follow: prints new events as they
    /// arrive, oldest first).
    List {
        /// Only events whose actor or target is this account id.
        #[arg(long)]
        account: Option<String>,
        /// By event type and time.
        #[command(flatten)]
        filter: EventFilter,
        /// At most this many events.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=500))]
        limit: i32,
        /// Keep polling and print new events until interrupted.
        #[arg(long)]
        follow: bool,
        /// Seconds between polls with --follow.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
        interval: u64,
    },
}

/// `password ...`.
#[derive(Debug, Subcommand)]
pub enum PasswordCommand {
    /// Changes your password: the current one, then the new one twice, are
    /// prompted (or read as two lines with --password-stdin).
    Change {
        /// Read the current password (line 1) and the new one (line 2) from
        /// standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}
