//! `mciasdb`: command-line definitions of the offline database tool.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::args::{AccountRole, EventFilter, PgTarget};

/// `mciasdb`: offline database maintenance.
#[derive(Debug, Parser)]
#[command(
    name = "mciasdb",
    version,
    about = "MCIAS offline database tool",
    long_about = "mciasdb reads the server's configuration, derives the master key and \
        opens the database directly. Commands that write take the database lock and are \
        refused while a server runs; read-only commands (schema verify, account list and \
        get, role list, token list, audit, backup, verify) work at any time. Every change \
        is recorded in the audit log with the actor `mciasdb`.",
    after_help = "Exit status: 0 success, 1 failure or refusal (including a database held \
        by a running server, pending migrations for `schema verify`, and problems found by \
        `verify`), 2 usage error."
)]
pub struct DbCli {
    /// Path of the server's TOML configuration file (for the database path
    /// and the master key).
    #[arg(long, global = true, value_name = "PATH", env = "MCIAS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print listings as JSON, one object per line (NDJSON).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: DbCommand,
}

/// `mciasdb` subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Creates the first admin account; refused when an active admin exists.
    BootstrapAdmin {
        /// The admin's username.
        #[arg(long, value_name = "NAME")]
        username: String,
        /// Read the password from standard input (one line, or two identical
        /// lines).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Database schema migrations.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Accounts.
    #[command(subcommand)]
    Account(DbAccountCommand),
    /// Roles of an account.
    #[command(subcommand)]
    Role(DbRoleCommand),
    /// Issued tokens.
    #[command(subcommand)]
    Token(DbTokenCommand),
    /// Deletes expired rows.
    #[command(subcommand)]
    Prune(PruneCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(DbAuditCommand),
    /// Stored PostgreSQL credentials.
    #[command(subcommand)]
    Pgcreds(DbPgcredsCommand),
    /// Copies the database with SQLite's online backup API (works while the
    /// server runs).
    Backup {
        /// The backup file to create (must not exist).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Replaces the database with a backup, after checking the backup's
    /// integrity and that the master key opens it. The previous database is
    /// kept beside it as `<db>.pre-restore-<time>`.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
    /// Checks integrity, foreign keys, pending migrations and that every
    /// sealed value opens with the master key; exit status 1 on any problem.
    Verify,
    /// Re-seals every secret under a new master key, in one transaction.
    /// Afterwards point `[master_key]` in the configuration at the new key.
    Rekey {
        /// A keyfile with the new key (32 bytes: 64 hex characters, base64
        /// or raw; mode 0600).
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "new_passphrase_env",
            required_unless_present = "new_passphrase_env"
        )]
        new_keyfile: Option<PathBuf>,
        /// The name of an environment variable holding the new passphrase.
        #[arg(long, value_name = "VAR")]
        new_passphrase_env: Option<String>,
    },
}

/// `schema ...`.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Lists applied and pending migrations; exit status 1 when some are
    /// pending.
    Verify,
    /// Applies pending migrations.
    Migrate,
}

/// Account kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbKind {
    /// A person with a password.
    Human,
    /// A service.
    System,
}

/// Statuses settable offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbStatus {
    /// May authenticate.
    Active,
    /// Disabled; tokens revoked.
    Inactive,
    /// Suspended; tokens revoked.
    Suspended,
    /// Soft-deleted; tokens revoked.
    Deleted,
}

/// `account ...`. ACCOUNT is an account id or a username.
#[derive(Debug, Subcommand)]
pub enum DbAccountCommand {
    /// Lists accounts (not deleted ones unless --all).
    List {
        /// Include deleted accounts.
        #[arg(long)]
        all: bool,
    },
    /// Shows one account.
    Get {
        /// Account id or username.
        account: String,
    },
    /// Creates an account; a human account's password is prompted twice or
    /// read with --password-stdin.
    Create {
        /// The username.
        username: String,
        /// Human or system.
        #[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = DbKind::Human)]
        kind: DbKind,
        /// A role to grant (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Read the password from standard input (one line, or two identical
        /// lines).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Sets a password without the current one.
    SetPassword {
        /// Account id or username.
        account: String,
        /// Read the password from standard input (one line, or two identical
        /// lines).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Changes the status; leaving active revokes every token.
    SetStatus {
        /// Account id or username.
        account: String,
        /// The new status.
        #[arg(long, value_enum)]
        status: DbStatus,
    },
    /// Removes the TOTP factor (pending or enabled).
    ResetTotp {
        /// Account id or username.
        account: String,
    },
}

/// `role ...`.
#[derive(Debug, Subcommand)]
pub enum DbRoleCommand {
    /// Lists an account's roles.
    List {
        /// Account id or username.
        account: String,
    },
    /// Adds a role.
    Grant(AccountRole),
    /// Removes a role.
    Revoke(AccountRole),
}

/// `token ...`.
#[derive(Debug, Subcommand)]
pub enum DbTokenCommand {
    /// Lists live tokens (all recorded ones with --all), newest first.
    List {
        /// Only this account's (id or username).
        #[arg(long)]
        account: Option<String>,
        /// Include revoked and expired tokens.
        #[arg(long)]
        all: bool,
    },
    /// Revokes one token by its id (jti).
    Revoke {
        /// The token id.
        jti: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "revoked with mciasdb")]
        reason: String,
    },
    /// Revokes every live token of an account.
    RevokeAll {
        /// Account id or username.
        account: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "revoked with mciasdb")]
        reason: String,
    },
}

/// `prune ...`.
#[derive(Debug, Subcommand)]
pub enum PruneCommand {
    /// Deletes token rows that expired.
    Tokens,
}

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub enum DbAuditCommand {
    /// The most recent events, oldest first.
    Tail {
        /// How many.
        #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        n: u32,
    },
    /// Events matching filters, newest first.
    Query {
        /// Only events whose actor or target is this account (id or
        /// username).
        #[arg(long)]
        account: Option<String>,
        /// By event type and time.
        #[command(flatten)]
        filter: EventFilter,
        /// At most this many events.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
}

/// `pgcreds ...`.
#[derive(Debug, Subcommand)]
pub enum DbPgcredsCommand {
    /// Prints the stored credentials, password included (the read is
    /// audited; a warning goes to standard error).
    Get {
        /// Account id or username.
        account: String,
    },
    /// Stores credentials; the password is prompted twice or read with
    /// --password-stdin, never given as an argument.
    Set {
        /// The account and where the credentials point.
        #[command(flatten)]
        target: PgTarget,
        /// Read the password from standard input (one line, or two identical
        /// lines).
        #[arg(long)]
        password_stdin: bool,
    },
}
