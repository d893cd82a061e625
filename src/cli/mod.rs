//! Command-line definitions, shared by the binaries and man-page generation,
//! and the commands of the operator tools: `ctl` / `ctl_run` (`mciasctl`, a
//! gRPC client) and `db_run` (`mciasdb`, offline, through `idm` and `store`).

pub mod ctl;
pub mod ctl_run;
pub mod db;
pub mod db_run;
pub mod man;
pub mod output;
pub mod prompt;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `mciassrv`: the MCIAS identity server.
#[derive(Debug, Parser)]
#[command(
    name = "mciassrv",
    version,
    about = "MCIAS identity and access server",
    long_about = "mciassrv serves the MCIAS API over gRPC and TLS with the configuration \
        given by --config (see mcias.conf(5)). `mciassrv dev` creates or reuses a \
        development data directory and serves on 127.0.0.1:8443; it prints the admin \
        password once when it creates the admin account."
)]
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

pub use db::{DbCli, DbCommand};
