//! The command-line definition of `mciassrv`, shared by the binary and the
//! man-page generator (`crates/mangen`).

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
        /// The URL clients reach the server at, which is also the token
        /// issuer (default https://localhost:PORT for a loopback address,
        /// else https://ADDR:PORT; derived again on every start).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Prints the OpenAPI 3 document of the REST/JSON surface (as served at
    /// /openapi.json) and exits.
    Openapi,
}
