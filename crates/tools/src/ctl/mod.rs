//! `mciasctl`: a client of a running server through `mcias-client` (the
//! Rust client library users get), one module per noun of its command
//! line, printing tables or JSON lines and exiting 0/1/2/3
//! ([`crate::exit`]). `cli` holds the clap definitions.

mod account;
mod audit;
mod cli;
mod client;
mod key;
mod pgcreds;
mod role;
mod session;
mod token;
mod tokenfile;
mod totp;

pub use cli::*;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::CommandFactory;
use serde_json::json;
use zeroize::Zeroizing;

use crate::exit;
use crate::output::Printer;
use crate::prompt;
use mcias_client::{Client, ConnectOptions};

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
pub enum Fail {
    /// The server answered with an error (exit 1; 3 when it is unavailable
    /// or the client could not be set up).
    Server(mcias_client::Error),
    /// Something was refused or failed locally after the call (exit 1).
    Refused(String),
    /// Bad arguments or input (exit 2).
    Usage(String),
    /// No connection, TLS failure or an unreachable server (exit 3).
    Connect(String),
}

impl Fail {
    /// The process exit status.
    pub fn exit_code(&self) -> u8 {
        use mcias_client::Error as E;
        match self {
            Self::Server(E::Unavailable(_) | E::Config(_)) | Self::Connect(_) => exit::CONNECT,
            Self::Server(_) | Self::Refused(_) => exit::REFUSED,
            Self::Usage(_) => exit::USAGE,
        }
    }

    fn describe(&self) -> (String, String) {
        match self {
            Self::Server(mcias_client::Error::Config(m)) | Self::Connect(m) => {
                ("UNAVAILABLE".to_owned(), m.clone())
            }
            Self::Server(e) => (e.code().to_owned(), e.message().to_owned()),
            Self::Refused(m) => ("REFUSED".to_owned(), m.clone()),
            Self::Usage(m) => ("USAGE".to_owned(), m.clone()),
        }
    }
}

impl From<mcias_client::Error> for Fail {
    fn from(e: mcias_client::Error) -> Self {
        Self::Server(e)
    }
}

type R<T> = std::result::Result<T, Fail>;

/// Runs `mciasctl` and returns its exit status.
pub fn main(cli: CtlCli) -> ExitCode {
    let out = cli.output;
    exit::block_on("mciasctl", async move {
        match run(cli).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(fail) => {
                let (code, message) = fail.describe();
                match out {
                    Output::Json => eprintln!(
                        "{}",
                        json!({ "error": { "code": code, "message": message }, "exit": fail.exit_code() })
                    ),
                    Output::Table => eprintln!("mciasctl: {message} ({code})"),
                }
                ExitCode::from(fail.exit_code())
            }
        }
    })
}

/// The global options.
struct Globals {
    server: Option<String>,
    ca_cert: Option<PathBuf>,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

/// What every command works with: the global options and the printer.
struct Ctx {
    cli: Globals,
    p: Printer,
}

impl Ctx {
    /// The token: --token / MCIAS_TOKEN, else the token file.
    fn token(&self) -> R<Zeroizing<String>> {
        if let Some(t) = self.cli.token.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Zeroizing::new(t.trim().to_owned()));
        }
        let path = self.token_file()?;
        match self.stored()? {
            Some(s) => Ok(s.access),
            None => Err(Fail::Usage(format!(
                "not logged in: run `mciasctl login`, or give --token or MCIAS_TOKEN (no token in {})",
                path.display()
            ))),
        }
    }

    /// Whether the access token comes from the token file (no --token or
    /// MCIAS_TOKEN).
    fn token_from_file(&self) -> bool {
        self.cli.token.as_deref().is_none_or(str::is_empty)
    }

    /// A client connected to the server, holding no token (for the calls
    /// that need none).
    async fn client(&self) -> R<Client> {
        let url = self
            .cli
            .server
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let uri: http::Uri = url
            .parse()
            .map_err(|e| Fail::Usage(format!("--server {url:?} is not a URL: {e}")))?;
        if uri.host().is_none() {
            return Err(Fail::Usage(format!("--server {url:?} has no host")));
        }
        if !matches!(uri.scheme_str(), Some("https" | "http")) {
            return Err(Fail::Usage(format!(
                "--server {url:?} must start with https:// (or http:// for a plaintext loopback server)"
            )));
        }
        let options = ConnectOptions {
            connect_timeout: Some(Duration::from_secs(10)),
            timeout: Some(Duration::from_secs(60)),
        };
        Ok(Client::connect(&url, self.cli.ca_cert.as_deref(), None, &options).await?)
    }

    /// A connected client holding the caller's token.
    async fn authed(&self) -> R<Client> {
        let client = self.client().await?;
        let token = self.token()?;
        if http::HeaderValue::from_str(&format!("Bearer {}", token.as_str())).is_err() {
            return Err(Fail::Usage(
                "the token contains characters a header cannot carry".into(),
            ));
        }
        Ok(client.with_token(Some(token.to_string())))
    }
}

/// One secret: the first line of standard input, or prompted without echo.
fn read_secret(stdin: bool, prompt_text: &str, what: &str) -> R<Zeroizing<String>> {
    let secret = if stdin {
        prompt::stdin_lines(1)
            .map_err(Fail::Usage)?
            .pop()
            .unwrap_or_default()
    } else {
        prompt::secret(prompt_text).map_err(Fail::Usage)?
    };
    let trimmed = Zeroizing::new(secret.trim().to_owned());
    if trimmed.is_empty() {
        let place = if stdin {
            "on standard input"
        } else {
            "entered"
        };
        return Err(Fail::Usage(format!("no {what} {place}")));
    }
    Ok(trimmed)
}

/// A new password: one line of standard input, or prompted twice.
fn new_password(stdin: bool, what: &str) -> R<Zeroizing<String>> {
    if stdin {
        let mut lines = prompt::stdin_lines(1).map_err(Fail::Usage)?;
        return lines
            .pop()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Fail::Usage("no password on standard input".into()));
    }
    prompt::new_secret(what).map_err(Fail::Usage)
}

fn looks_like_id(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// An account id from an id or a username (looked up with ListAccounts).
async fn resolve(client: &Client, account: &str) -> R<String> {
    if looks_like_id(account) {
        return Ok(account.to_owned());
    }
    Ok(client.find_account_by_username(account, 500).await?.id)
}

async fn run(cli: CtlCli) -> R<()> {
    let CtlCli {
        server,
        ca_cert,
        token,
        token_file,
        output,
        command,
    } = cli;
    let cx = Ctx {
        cli: Globals {
            server,
            ca_cert,
            token,
            token_file,
        },
        p: Printer::new(output),
    };
    match command {
        CtlCommand::Login(args) => session::login(&cx, args).await,
        CtlCommand::Logout(args) => session::logout(&cx, args).await,
        CtlCommand::Whoami => {
            let token = cx.token()?;
            session::validate(&cx, &token).await
        }
        CtlCommand::Health => session::health(&cx).await,
        CtlCommand::Account(c) => account::run(&cx, c).await,
        CtlCommand::Role(c) => role::run(&cx, c).await,
        CtlCommand::Client(c) => client::run(&cx, c).await,
        CtlCommand::Token(c) => token::run(&cx, c).await,
        CtlCommand::Totp(c) => totp::run(&cx, c).await,
        CtlCommand::Pgcreds(c) => pgcreds::run(&cx, c).await,
        CtlCommand::Audit(c) => audit::run(&cx, c).await,
        CtlCommand::Password(c) => session::password(&cx, c).await,
        CtlCommand::Key(c) => key::run(&cx, c).await,
        CtlCommand::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut CtlCli::command(), "mciasctl", &mut script);
            crate::output::write_stdout_bytes(&script);
            Ok(())
        }
    }
}
