//! Command-line definitions, shared by the binaries and man-page generation.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `mciassrv`: the MCIAS identity server.
#[derive(Debug, Parser)]
#[command(name = "mciassrv", version, about = "MCIAS identity and access server")]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerCli {
    /// Path of the TOML configuration file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Run mode.
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
}

/// `mciassrv` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Zero-setup development server: creates DIR with a config, a master
    /// keyfile, a development CA, a database and an `admin` account.
    Dev {
        /// The data directory (created when missing, reused otherwise).
        #[arg(long, value_name = "DIR", default_value = crate::dev::DEFAULT_DIR)]
        data_dir: PathBuf,
        /// Listen address (default 127.0.0.1:8443, or the one in DIR's config).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Prints the OpenAPI 3 document of the REST/JSON surface (as served at
    /// /openapi.json) and exits.
    Openapi,
}

/// `mciasdb`: offline database maintenance.
#[derive(Debug, Parser)]
#[command(name = "mciasdb", version, about = "MCIAS offline database tool")]
pub struct DbCli {
    /// Path of the server's TOML configuration file (for the database path
    /// and the master key).
    #[arg(long, value_name = "PATH", env = "MCIAS_CONFIG")]
    pub config: PathBuf,
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
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}
