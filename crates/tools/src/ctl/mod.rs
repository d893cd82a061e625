//! `mciasctl`'s commands: each maps to one or a few RPCs through the
//! generated tonic clients, over TLS, and prints a table or JSON lines.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::CommandFactory;
use serde_json::{Value, json};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Request, Status};
use zeroize::Zeroizing;

use crate::ctl::{
    AccountCommand, AuditCommand, CtlCli, CtlCommand, DEFAULT_SERVER, KeyCommand, Kind, LoginArgs,
    LogoutArgs, Output, PasswordCommand, PgcredsCommand, RoleCommand, SettableStatus, Shell,
    TokenCommand, TokenHint, TotpCommand,
};
use crate::output::{self, Printer};
use crate::prompt;
use mcias_proto::{
    self as pb, account_service_client::AccountServiceClient,
    admin_service_client::AdminServiceClient, auth_service_client::AuthServiceClient,
    token_service_client::TokenServiceClient,
};

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
pub enum Fail {
    /// The server answered with an error (exit 1).
    Server(Status),
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
        match self {
            Self::Server(s) if s.code() == Code::Unavailable => 3,
            Self::Server(_) | Self::Refused(_) => 1,
            Self::Usage(_) => 2,
            Self::Connect(_) => 3,
        }
    }

    fn describe(&self) -> (String, String) {
        match self {
            Self::Server(s) => (code_name(s.code()).to_owned(), s.message().to_owned()),
            Self::Refused(m) => ("REFUSED".to_owned(), m.clone()),
            Self::Usage(m) => ("USAGE".to_owned(), m.clone()),
            Self::Connect(m) => ("UNAVAILABLE".to_owned(), m.clone()),
        }
    }
}

impl From<Status> for Fail {
    fn from(s: Status) -> Self {
        Self::Server(s)
    }
}

/// The canonical name of a gRPC code, as in the gRPC documentation.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

type R<T> = std::result::Result<T, Fail>;

/// Runs `mciasctl` and returns its exit status.
pub fn main(cli: CtlCli) -> ExitCode {
    let out = cli.output;
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mciasctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
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
}

struct Globals {
    server: Option<String>,
    ca_cert: Option<PathBuf>,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

struct Ctx {
    cli: Globals,
    p: Printer,
}

impl Ctx {
    fn token_file(&self) -> R<PathBuf> {
        if let Some(p) = &self.cli.token_file {
            return Ok(p.clone());
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .ok_or_else(|| {
                Fail::Usage("neither HOME nor XDG_CONFIG_HOME is set; give --token-file".into())
            })?;
        Ok(base.join("mcias").join("token"))
    }

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

    /// The token file's contents, if it exists and holds a token.
    fn stored(&self) -> R<Option<Stored>> {
        let path = self.token_file()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Stored::parse(&Zeroizing::new(text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Fail::Usage(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Writes the access token and, when there is one, the refresh token.
    fn store_tokens(&self, access: &str, refresh: Option<&str>) -> R<PathBuf> {
        let path = self.token_file()?;
        let mut contents = Zeroizing::new(access.to_owned());
        if let Some(r) = refresh.filter(|r| !r.is_empty()) {
            contents.push('\n');
            contents.push_str(r);
        }
        write_private(&path, &contents)
            .map_err(|e| Fail::Refused(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    async fn channel(&self) -> R<Channel> {
        let url = self
            .cli
            .server
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let uri: http::Uri = url
            .parse()
            .map_err(|e| Fail::Usage(format!("--server {url:?} is not a URL: {e}")))?;
        let host = uri
            .host()
            .ok_or_else(|| Fail::Usage(format!("--server {url:?} has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let mut endpoint = Channel::from_shared(url.clone())
            .map_err(|e| Fail::Usage(format!("--server {url:?}: {e}")))?
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60));
        match uri.scheme_str() {
            Some("https") => {
                let mut tls = ClientTlsConfig::new().domain_name(host);
                tls = match &self.cli.ca_cert {
                    Some(path) => {
                        let pem = std::fs::read(path).map_err(|e| {
                            Fail::Connect(format!(
                                "cannot read the CA certificate {}: {e}",
                                path.display()
                            ))
                        })?;
                        tls.ca_certificate(Certificate::from_pem(pem))
                    }
                    None => tls.with_native_roots(),
                };
                endpoint = endpoint
                    .tls_config(tls)
                    .map_err(|e| Fail::Connect(format!("TLS configuration: {e}")))?;
            }
            Some("http") => {}
            _ => {
                return Err(Fail::Usage(format!(
                    "--server {url:?} must start with https:// (or http:// for a plaintext loopback server)"
                )));
            }
        }
        endpoint.connect().await.map_err(|e| {
            let mut msg = format!("cannot connect to {url}: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            Fail::Connect(msg)
        })
    }

    fn authed<T>(&self, msg: T) -> R<Request<T>> {
        let token = self.token()?;
        bearer(msg, &token)
    }
}

/// The token file: the access token on the first line and, after a
/// password login, the refresh token on the second.
struct Stored {
    access: Zeroizing<String>,
    refresh: Option<Zeroizing<String>>,
}

impl Stored {
    fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines().map(str::trim);
        let access = lines.next().filter(|l| !l.is_empty())?;
        let refresh = lines
            .next()
            .filter(|l| !l.is_empty())
            .map(|l| Zeroizing::new(l.to_owned()));
        Some(Self {
            access: Zeroizing::new(access.to_owned()),
            refresh,
        })
    }
}

fn bearer<T>(msg: T, token: &str) -> R<Request<T>> {
    let mut r = Request::new(msg);
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| Fail::Usage("the token contains characters a header cannot carry".into()))?;
    r.metadata_mut().insert("authorization", value);
    Ok(r)
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
    }
    let tmp = {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn account_json(a: &pb::Account) -> Value {
    let ty = match pb::AccountType::try_from(a.account_type) {
        Ok(pb::AccountType::Human) => "human",
        Ok(pb::AccountType::System) => "system",
        _ => "unspecified",
    };
    let status = match pb::AccountStatus::try_from(a.status) {
        Ok(pb::AccountStatus::Active) => "active",
        Ok(pb::AccountStatus::Inactive) => "inactive",
        Ok(pb::AccountStatus::Suspended) => "suspended",
        Ok(pb::AccountStatus::Deleted) => "deleted",
        _ => "unspecified",
    };
    json!({
        "id": a.id,
        "username": a.username,
        "type": ty,
        "status": status,
        "totp_enabled": a.totp_enabled,
        "created_at": output::ts(a.created_at.as_ref()),
        "updated_at": output::ts(a.updated_at.as_ref()),
    })
}

const ACCOUNT_COLUMNS: &[&str] = &["id", "username", "type", "status", "totp_enabled"];

fn claims_json(claims: Option<&pb::TokenClaims>) -> Value {
    match claims {
        Some(c) => json!({
            "valid": true,
            "subject": c.subject,
            "roles": c.roles,
            "issuer": c.issuer,
            "issued_at": output::ts(c.issued_at.as_ref()),
            "expires_at": output::ts(c.expires_at.as_ref()),
            "jti": c.jti,
            "token_type": c.token_type,
        }),
        None => json!({ "valid": false }),
    }
}

fn missing(what: &str) -> Fail {
    Fail::Refused(format!("the server's answer lacks the {what}"))
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
        CtlCommand::Login(args) => login(&cx, args).await,
        CtlCommand::Logout(args) => logout(&cx, args).await,
        CtlCommand::Whoami => {
            let token = cx.token()?;
            validate(&cx, &token).await
        }
        CtlCommand::Health => health(&cx).await,
        CtlCommand::Account(c) => account(&cx, c).await,
        CtlCommand::Role(c) => role(&cx, c).await,
        CtlCommand::Token(c) => token_cmd(&cx, c).await,
        CtlCommand::Totp(c) => totp(&cx, c).await,
        CtlCommand::Pgcreds(c) => pgcreds(&cx, c).await,
        CtlCommand::Audit(c) => audit(&cx, c).await,
        CtlCommand::Password(c) => password(&cx, c).await,
        CtlCommand::Key(c) => key(&cx, c).await,
        CtlCommand::Completions { shell } => {
            let mut cmd = CtlCli::command();
            let mut stdout = std::io::stdout();
            match shell {
                Shell::Bash => clap_complete::generate(
                    clap_complete::Shell::Bash,
                    &mut cmd,
                    "mciasctl",
                    &mut stdout,
                ),
                Shell::Zsh => clap_complete::generate(
                    clap_complete::Shell::Zsh,
                    &mut cmd,
                    "mciasctl",
                    &mut stdout,
                ),
                Shell::Fish => clap_complete::generate(
                    clap_complete::Shell::Fish,
                    &mut cmd,
                    "mciasctl",
                    &mut stdout,
                ),
            }
            Ok(())
        }
    }
}

async fn login(cx: &Ctx, args: LoginArgs) -> R<()> {
    if args.client_credentials {
        return login_client(cx, args).await;
    }
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => {
            return Err(Fail::Usage(
                "give the username as an argument with --password-stdin".into(),
            ));
        }
        None => prompt::line("Username: ").map_err(Fail::Usage)?,
    };
    let (password, mut code) = if args.password_stdin {
        let mut lines = prompt::stdin_lines(2).map_err(Fail::Usage)?;
        let code = if lines.len() > 1 {
            lines.pop().unwrap_or_default()
        } else {
            Zeroizing::new(String::new())
        };
        let pw = lines
            .pop()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Fail::Usage("no password on standard input".into()))?;
        (pw, code)
    } else {
        let pw = prompt::secret("Password: ").map_err(Fail::Usage)?;
        let code = if args.totp {
            prompt::secret("TOTP code: ").map_err(Fail::Usage)?
        } else {
            Zeroizing::new(String::new())
        };
        (pw, code)
    };
    let client = AuthServiceClient::new(cx.channel().await?);
    let attempt = |code: Zeroizing<String>| {
        let req = pb::LoginRequest {
            username: username.clone(),
            password: password.to_string(),
            totp_code: code.to_string(),
        };
        let mut c = client.clone();
        async move { c.login(req).await }
    };
    let mut res = attempt(code.clone()).await;
    if matches!(&res, Err(s) if s.code() == Code::Unauthenticated)
        && code.is_empty()
        && !args.password_stdin
        && std::io::stdin().is_terminal()
    {
        eprintln!("Login refused. If the account uses TOTP, enter a code (empty to give up).");
        code = prompt::secret("TOTP code: ").map_err(Fail::Usage)?;
        if !code.is_empty() {
            res = attempt(code).await;
        }
    }
    let answer = res?.into_inner();
    let token = Zeroizing::new(answer.token);
    let refresh = Zeroizing::new(answer.refresh_token);
    let path = cx.store_tokens(&token, Some(&refresh))?;
    let expires = output::ts(answer.expires_at.as_ref());
    let refresh_expires = if refresh.is_empty() {
        Value::Null
    } else {
        Value::String(output::ts(answer.refresh_expires_at.as_ref()))
    };
    let refresh_note = match &refresh_expires {
        Value::String(t) => format!(" (refresh with `mciasctl token refresh` until {t})"),
        _ => String::new(),
    };
    cx.p.ack(
        &format!(
            "logged in as {username}; the token expires at {expires} and is stored in {}{refresh_note}",
            path.display()
        ),
        json!({
            "username": username,
            "expires_at": expires,
            "refresh_expires_at": refresh_expires,
            "token_file": path.display().to_string(),
        }),
    );
    Ok(())
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

/// `login --client-credentials`: a system account and its client secret.
async fn login_client(cx: &Ctx, args: LoginArgs) -> R<()> {
    let client_id = args
        .client_id
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| Fail::Usage("--client-credentials needs --client-id ID".into()))?;
    let secret = read_secret(args.secret_stdin, "Client secret: ", "client secret")?;
    let answer = AuthServiceClient::new(cx.channel().await?)
        .client_credentials(pb::ClientCredentialsRequest {
            client_id: client_id.clone(),
            client_secret: secret.to_string(),
        })
        .await?
        .into_inner();
    let token = Zeroizing::new(answer.token);
    let path = cx.store_tokens(&token, None)?;
    let expires = output::ts(answer.expires_at.as_ref());
    cx.p.ack(
        &format!(
            "logged in as client {client_id}; the token expires at {expires} and is stored in {}",
            path.display()
        ),
        json!({
            "client_id": client_id,
            "expires_at": expires,
            "token_file": path.display().to_string(),
        }),
    );
    Ok(())
}

async fn logout(cx: &Ctx, args: LogoutArgs) -> R<()> {
    if args.everywhere {
        return sign_out_everywhere(cx, args.account).await;
    }
    let ch = cx.channel().await?;
    let stored_refresh = if cx.token_from_file() {
        cx.stored()?.and_then(|s| s.refresh)
    } else {
        None
    };
    let revoked = match AuthServiceClient::new(ch.clone())
        .logout(cx.authed(pb::LogoutRequest {})?)
        .await
    {
        Ok(_) => true,
        // An access token that no longer works (expired or revoked) still
        // leaves a stored refresh token to revoke.
        Err(s) if s.code() == Code::Unauthenticated && stored_refresh.is_some() => false,
        Err(s) => return Err(s.into()),
    };
    let path = cx.token_file()?;
    let mut refresh_revoked = false;
    if cx.token_from_file() {
        // The refresh token kept beside the access token would otherwise
        // outlive the logout: revoke it (and its family) too.
        if let Some(refresh) = stored_refresh {
            TokenServiceClient::new(ch)
                .revoke_token_value(pb::RevokeTokenValueRequest {
                    token: refresh.to_string(),
                    token_type_hint: TokenHint::Refresh.as_api().to_owned(),
                })
                .await?;
            refresh_revoked = true;
        }
        remove_token_file(&path)?;
    }
    let message = match (revoked, refresh_revoked) {
        (true, true) => "logged out; the token and the refresh token are revoked",
        (true, false) => "logged out; the token is revoked",
        _ => "logged out; the token was no longer valid, the refresh token is revoked",
    };
    cx.p.ack(
        message,
        json!({ "revoked": revoked, "refresh_revoked": refresh_revoked }),
    );
    Ok(())
}

fn remove_token_file(path: &std::path::Path) -> R<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Fail::Refused(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

/// `logout --everywhere [ACCOUNT]` (SignOutEverywhere).
async fn sign_out_everywhere(cx: &Ctx, account: Option<String>) -> R<()> {
    let ch = cx.channel().await?;
    let account_id = match &account {
        Some(a) => resolve(cx, &ch, a).await?,
        None => String::new(),
    };
    AuthServiceClient::new(ch)
        .sign_out_everywhere(cx.authed(pb::SignOutEverywhereRequest {
            account_id: account_id.clone(),
        })?)
        .await?;
    if account.is_none() {
        if cx.token_from_file() {
            remove_token_file(&cx.token_file()?)?;
        }
        cx.p.ack(
            "signed out everywhere; every token of your account is invalid",
            json!({ "account_id": Value::Null, "signed_out": true }),
        );
    } else {
        cx.p.ack(
            &format!("signed out {account_id} everywhere; every token of the account is invalid"),
            json!({ "account_id": account_id, "signed_out": true }),
        );
    }
    Ok(())
}

async fn validate(cx: &Ctx, token: &str) -> R<()> {
    let mut client = TokenServiceClient::new(cx.channel().await?);
    let answer = client
        .validate_token(pb::ValidateTokenRequest {
            token: token.to_owned(),
        })
        .await?
        .into_inner();
    let claims = answer.claims.as_ref().filter(|_| answer.valid);
    let v = claims_json(claims);
    if claims.is_none() {
        if cx.p.is_json() {
            cx.p.line(&v);
        }
        return Err(Fail::Refused(
            "the token is not valid (expired, revoked, or not issued by this server)".into(),
        ));
    }
    cx.p.record(
        &v,
        &[
            "valid",
            "subject",
            "roles",
            "token_type",
            "issuer",
            "issued_at",
            "expires_at",
            "jti",
        ],
    );
    Ok(())
}

async fn health(cx: &Ctx) -> R<()> {
    let mut client = AdminServiceClient::new(cx.channel().await?);
    let status = client
        .health(pb::HealthRequest {})
        .await?
        .into_inner()
        .status;
    cx.p.record(&json!({ "status": status }), &["status"]);
    if status != "SERVING" {
        return Err(Fail::Refused(format!("the server reports {status}")));
    }
    Ok(())
}

fn looks_like_id(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// An account id from an id or a username (looked up with ListAccounts).
async fn resolve(cx: &Ctx, ch: &Channel, account: &str) -> R<String> {
    if looks_like_id(account) {
        return Ok(account.to_owned());
    }
    let wanted = account.to_lowercase();
    let mut client = AccountServiceClient::new(ch.clone());
    let mut page_token = String::new();
    loop {
        let page = client
            .list_accounts(cx.authed(pb::ListAccountsRequest {
                page_size: 500,
                page_token: page_token.clone(),
            })?)
            .await?
            .into_inner();
        if let Some(a) = page.accounts.iter().find(|a| a.username == wanted) {
            return Ok(a.id.clone());
        }
        if page.next_page_token.is_empty() {
            return Err(Fail::Server(Status::not_found(format!(
                "no account named {account:?}"
            ))));
        }
        page_token = page.next_page_token;
    }
}

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

async fn account(cx: &Ctx, c: AccountCommand) -> R<()> {
    let ch = cx.channel().await?;
    let mut client = AccountServiceClient::new(ch.clone());
    match c {
        AccountCommand::Create {
            username,
            kind,
            password_stdin,
        } => {
            let (ty, password) = match kind {
                Kind::Human => (
                    pb::AccountType::Human,
                    new_password(password_stdin, "Password")?,
                ),
                Kind::System if password_stdin => {
                    return Err(Fail::Usage(
                        "system accounts have no password; drop --password-stdin".into(),
                    ));
                }
                Kind::System => (pb::AccountType::System, Zeroizing::new(String::new())),
            };
            let a = client
                .create_account(cx.authed(pb::CreateAccountRequest {
                    username,
                    account_type: ty as i32,
                    password: password.to_string(),
                })?)
                .await?
                .into_inner()
                .account
                .ok_or_else(|| missing("account"))?;
            cx.p.rows(ACCOUNT_COLUMNS, &[account_json(&a)]);
        }
        AccountCommand::List { page_size } => {
            let mut rows = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_accounts(cx.authed(pb::ListAccountsRequest {
                        page_size,
                        page_token: page_token.clone(),
                    })?)
                    .await?
                    .into_inner();
                rows.extend(page.accounts.iter().map(account_json));
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            cx.p.rows(ACCOUNT_COLUMNS, &rows);
        }
        AccountCommand::Get { account } => {
            let id = resolve(cx, &ch, &account).await?;
            let a = client
                .get_account(cx.authed(pb::GetAccountRequest { id })?)
                .await?
                .into_inner()
                .account
                .ok_or_else(|| missing("account"))?;
            cx.p.record(
                &account_json(&a),
                &[
                    "id",
                    "username",
                    "type",
                    "status",
                    "totp_enabled",
                    "created_at",
                    "updated_at",
                ],
            );
        }
        AccountCommand::Update { account, status } => {
            let status = match status {
                SettableStatus::Active => pb::AccountStatus::Active,
                SettableStatus::Inactive => pb::AccountStatus::Inactive,
                SettableStatus::Suspended => pb::AccountStatus::Suspended,
            };
            update_status(cx, &ch, &account, status).await?;
        }
        AccountCommand::ClientSecret { account } => {
            let account_id = resolve(cx, &ch, &account).await?;
            let secret = Zeroizing::new(
                client
                    .rotate_client_secret(cx.authed(pb::RotateClientSecretRequest {
                        account_id: account_id.clone(),
                    })?)
                    .await?
                    .into_inner()
                    .client_secret,
            );
            cx.p.record(
                &json!({ "account_id": account_id, "client_secret": secret.as_str() }),
                &["account_id", "client_secret"],
            );
            if !cx.p.is_json() {
                eprintln!(
                    "The secret is shown only this once; the previous one no longer works. \
                     Use it with: mciasctl login --client-credentials --client-id {account_id} --secret-stdin"
                );
            }
        }
        AccountCommand::Suspend { account } => {
            update_status(cx, &ch, &account, pb::AccountStatus::Suspended).await?;
        }
        AccountCommand::Delete { account } => {
            let id = resolve(cx, &ch, &account).await?;
            client
                .delete_account(cx.authed(pb::DeleteAccountRequest { id: id.clone() })?)
                .await?;
            cx.p.ack(
                &format!("deleted account {id}; its tokens are revoked"),
                json!({ "id": id, "status": "deleted" }),
            );
        }
    }
    Ok(())
}

async fn update_status(cx: &Ctx, ch: &Channel, account: &str, status: pb::AccountStatus) -> R<()> {
    let id = resolve(cx, ch, account).await?;
    let a = AccountServiceClient::new(ch.clone())
        .update_account(cx.authed(pb::UpdateAccountRequest {
            id,
            status: status as i32,
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["status".into()],
            }),
        })?)
        .await?
        .into_inner()
        .account
        .ok_or_else(|| missing("account"))?;
    cx.p.rows(ACCOUNT_COLUMNS, &[account_json(&a)]);
    Ok(())
}

/// A change to an account's role list.
type RoleEdit = Box<dyn FnOnce(Vec<String>) -> Vec<String>>;

async fn role(cx: &Ctx, c: RoleCommand) -> R<()> {
    let ch = cx.channel().await?;
    let mut client = AccountServiceClient::new(ch.clone());
    let (account, change): (String, Option<RoleEdit>) = match c {
        RoleCommand::Get { account } => (account, None),
        RoleCommand::Set { account, roles } => (account, Some(Box::new(move |_| roles))),
        RoleCommand::Grant { account, role } => (
            account,
            Some(Box::new(move |mut current: Vec<String>| {
                current.push(role);
                current
            })),
        ),
        RoleCommand::Revoke { account, role } => (
            account,
            Some(Box::new(move |mut current: Vec<String>| {
                current.retain(|r| r != &role);
                current
            })),
        ),
    };
    let account_id = resolve(cx, &ch, &account).await?;
    let current = client
        .get_roles(cx.authed(pb::GetRolesRequest {
            account_id: account_id.clone(),
        })?)
        .await?
        .into_inner()
        .roles;
    let roles = match change {
        None => current,
        Some(f) => {
            client
                .set_roles(cx.authed(pb::SetRolesRequest {
                    account_id: account_id.clone(),
                    roles: f(current),
                })?)
                .await?
                .into_inner()
                .roles
        }
    };
    cx.p.record(
        &json!({ "account_id": account_id, "roles": roles }),
        &["account_id", "roles"],
    );
    Ok(())
}

async fn token_cmd(cx: &Ctx, c: TokenCommand) -> R<()> {
    match c {
        TokenCommand::Issue { account } => {
            let ch = cx.channel().await?;
            let account_id = resolve(cx, &ch, &account).await?;
            let answer = TokenServiceClient::new(ch)
                .issue_service_token(cx.authed(pb::IssueServiceTokenRequest {
                    account_id: account_id.clone(),
                })?)
                .await?
                .into_inner();
            let token = Zeroizing::new(answer.token);
            cx.p.record(
                &json!({
                    "account_id": account_id,
                    "token": token.as_str(),
                    "expires_at": output::ts(answer.expires_at.as_ref()),
                }),
                &["account_id", "expires_at", "token"],
            );
        }
        TokenCommand::Renew => {
            let answer = AuthServiceClient::new(cx.channel().await?)
                .renew_token(cx.authed(pb::RenewTokenRequest {})?)
                .await?
                .into_inner();
            let token = Zeroizing::new(answer.token);
            let expires = output::ts(answer.expires_at.as_ref());
            if cx.token_from_file() {
                let refresh = cx.stored()?.and_then(|s| s.refresh);
                let path = cx.store_tokens(&token, refresh.as_deref().map(String::as_str))?;
                cx.p.ack(
                    &format!(
                        "renewed; the new token expires at {expires} and is stored in {}",
                        path.display()
                    ),
                    json!({ "expires_at": expires, "token_file": path.display().to_string() }),
                );
            } else {
                cx.p.record(
                    &json!({ "expires_at": expires, "token": token.as_str() }),
                    &["expires_at", "token"],
                );
            }
        }
        TokenCommand::Revoke { jti, reason } => {
            TokenServiceClient::new(cx.channel().await?)
                .revoke_token(cx.authed(pb::RevokeTokenRequest {
                    jti: jti.clone(),
                    reason,
                })?)
                .await?;
            cx.p.ack(
                &format!("revoked token {jti}"),
                json!({ "jti": jti, "revoked": true }),
            );
        }
        TokenCommand::Validate { stdin } => {
            let token = if stdin {
                let mut lines = prompt::stdin_lines(1).map_err(Fail::Usage)?;
                lines
                    .pop()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Fail::Usage("no token on standard input".into()))?
            } else {
                cx.token()?
            };
            validate(cx, &token).await?;
        }
        TokenCommand::Keys => {
            let keys = TokenServiceClient::new(cx.channel().await?)
                .list_public_keys(pb::ListPublicKeysRequest {})
                .await?
                .into_inner()
                .keys;
            let rows: Vec<Value> = keys
                .iter()
                .map(|k| {
                    json!({ "kid": k.kid, "kty": k.kty, "crv": k.crv, "alg": k.alg, "use": k.r#use, "x": k.x })
                })
                .collect();
            cx.p.rows(&["kid", "kty", "crv", "alg", "use", "x"], &rows);
        }
        TokenCommand::Refresh {
            refresh_token_stdin,
        } => refresh(cx, refresh_token_stdin).await?,
        TokenCommand::Introspect { value, hint } => {
            let token = if value == "-" {
                read_secret(true, "", "token")?
            } else {
                Zeroizing::new(value)
            };
            introspect(cx, &token, hint).await?;
        }
        TokenCommand::RevokeValue { value, hint } => {
            let token = match value {
                Some(t) if t != "-" => Zeroizing::new(t),
                _ => read_secret(true, "", "token")?,
            };
            TokenServiceClient::new(cx.channel().await?)
                .revoke_token_value(pb::RevokeTokenValueRequest {
                    token: token.to_string(),
                    token_type_hint: hint.map(TokenHint::as_api).unwrap_or_default().to_owned(),
                })
                .await?;
            cx.p.ack(
                "revoked (a refresh token's whole family is revoked; an unknown token is ignored)",
                json!({ "revoked": true }),
            );
        }
    }
    Ok(())
}

/// `token refresh`: RefreshToken with the stored refresh token (or one
/// from standard input).
async fn refresh(cx: &Ctx, from_stdin: bool) -> R<()> {
    let refresh_token = if from_stdin {
        read_secret(true, "", "refresh token")?
    } else {
        let path = cx.token_file()?;
        cx.stored()?.and_then(|s| s.refresh).ok_or_else(|| {
            Fail::Usage(format!(
                "no refresh token in {}: run `mciasctl login` (a password login stores one), or give --refresh-token-stdin",
                path.display()
            ))
        })?
    };
    let answer = AuthServiceClient::new(cx.channel().await?)
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: refresh_token.to_string(),
        })
        .await?
        .into_inner();
    let token = Zeroizing::new(answer.token);
    let next = Zeroizing::new(answer.refresh_token);
    let expires = output::ts(answer.expires_at.as_ref());
    let refresh_expires = output::ts(answer.refresh_expires_at.as_ref());
    if from_stdin {
        // The caller keeps its tokens itself: hand both back.
        cx.p.record(
            &json!({
                "token": token.as_str(),
                "expires_at": expires,
                "refresh_token": next.as_str(),
                "refresh_expires_at": refresh_expires,
            }),
            &["expires_at", "refresh_expires_at", "token", "refresh_token"],
        );
        return Ok(());
    }
    let path = cx.store_tokens(&token, Some(&next))?;
    cx.p.ack(
        &format!(
            "refreshed; the new token expires at {expires}, the refresh token at {refresh_expires}; both are stored in {}",
            path.display()
        ),
        json!({
            "expires_at": expires,
            "refresh_expires_at": refresh_expires,
            "token_file": path.display().to_string(),
        }),
    );
    Ok(())
}

/// `token introspect` (IntrospectToken, RFC 7662).
async fn introspect(cx: &Ctx, token: &str, hint: Option<TokenHint>) -> R<()> {
    let answer = TokenServiceClient::new(cx.channel().await?)
        .introspect_token(cx.authed(pb::IntrospectTokenRequest {
            token: token.to_owned(),
            token_type_hint: hint.map(TokenHint::as_api).unwrap_or_default().to_owned(),
        })?)
        .await?
        .into_inner();
    if !answer.active {
        if cx.p.is_json() {
            cx.p.line(&json!({ "active": false }));
        }
        return Err(Fail::Refused(
            "the token is not active (expired, revoked, used up, or not issued by this server)"
                .into(),
        ));
    }
    let v = json!({
        "active": true,
        "token_type": answer.token_type,
        "subject": answer.subject,
        "account_type": answer.account_type,
        "roles": answer.roles,
        "issuer": answer.issuer,
        "issued_at": output::ts(answer.issued_at.as_ref()),
        "expires_at": output::ts(answer.expires_at.as_ref()),
        "jti": answer.jti,
    });
    cx.p.record(
        &v,
        &[
            "active",
            "token_type",
            "subject",
            "account_type",
            "roles",
            "issuer",
            "issued_at",
            "expires_at",
            "jti",
        ],
    );
    Ok(())
}

async fn key(cx: &Ctx, c: KeyCommand) -> R<()> {
    let mut client = AdminServiceClient::new(cx.channel().await?);
    match c {
        KeyCommand::Rotate => {
            let kid = client
                .rotate_signing_key(cx.authed(pb::RotateSigningKeyRequest {})?)
                .await?
                .into_inner()
                .kid;
            cx.p.ack(
                &format!("new tokens are signed with key {kid}; earlier keys keep verifying until their tokens expire"),
                json!({ "kid": kid }),
            );
        }
        KeyCommand::RotateRefresh => {
            let key_id = client
                .rotate_refresh_key(cx.authed(pb::RotateRefreshKeyRequest {})?)
                .await?
                .into_inner()
                .key_id;
            cx.p.ack(
                &format!("new refresh tokens are protected with key {key_id}; earlier refresh tokens keep working"),
                json!({ "key_id": key_id }),
            );
        }
    }
    Ok(())
}

async fn totp(cx: &Ctx, c: TotpCommand) -> R<()> {
    let ch = cx.channel().await?;
    let mut client = AuthServiceClient::new(ch.clone());
    match c {
        TotpCommand::Enroll => {
            let answer = client
                .enroll_totp(cx.authed(pb::EnrollTotpRequest {})?)
                .await?
                .into_inner();
            let secret = Zeroizing::new(answer.secret);
            let uri = Zeroizing::new(answer.otpauth_uri);
            if cx.p.is_json() {
                cx.p.line(&json!({ "secret": secret.as_str(), "otpauth_uri": uri.as_str() }));
            } else {
                println!("Scan this code with an authenticator app, or enter the secret by hand.");
                println!();
                match output::qr(&uri) {
                    Some(code) => println!("{code}"),
                    None => println!("(the URI is too long for a QR code)"),
                }
                println!("otpauth URI: {}", uri.as_str());
                println!("secret     : {}", secret.as_str());
                println!();
                println!("Then activate it with: mciasctl totp confirm CODE");
            }
        }
        TotpCommand::Confirm { code } => {
            client
                .confirm_totp(cx.authed(pb::ConfirmTotpRequest { code })?)
                .await?;
            cx.p.ack("TOTP is now enabled", json!({ "totp_enabled": true }));
        }
        TotpCommand::Remove { account } => {
            let account_id = resolve(cx, &ch, &account).await?;
            client
                .remove_totp(cx.authed(pb::RemoveTotpRequest {
                    account_id: account_id.clone(),
                })?)
                .await?;
            cx.p.ack(
                &format!("removed the TOTP factor of {account_id}"),
                json!({ "account_id": account_id, "totp_enabled": false }),
            );
        }
    }
    Ok(())
}

async fn pgcreds(cx: &Ctx, c: PgcredsCommand) -> R<()> {
    let ch = cx.channel().await?;
    let mut client = AccountServiceClient::new(ch.clone());
    match c {
        PgcredsCommand::Get { account } => {
            let account_id = resolve(cx, &ch, &account).await?;
            let creds = client
                .get_pg_creds(cx.authed(pb::GetPgCredsRequest {
                    account_id: account_id.clone(),
                })?)
                .await?
                .into_inner()
                .creds
                .ok_or_else(|| missing("credentials"))?;
            let password = Zeroizing::new(creds.password);
            cx.p.record(
                &json!({
                    "account_id": account_id,
                    "host": creds.host,
                    "port": creds.port,
                    "database": creds.database,
                    "username": creds.username,
                    "password": password.as_str(),
                }),
                &[
                    "account_id",
                    "host",
                    "port",
                    "database",
                    "username",
                    "password",
                ],
            );
        }
        PgcredsCommand::Set {
            account,
            host,
            port,
            database,
            username,
            password_stdin,
        } => {
            let password = new_password(password_stdin, "Database password")?;
            let account_id = resolve(cx, &ch, &account).await?;
            client
                .set_pg_creds(cx.authed(pb::SetPgCredsRequest {
                    account_id: account_id.clone(),
                    host,
                    port: u32::from(port),
                    database,
                    username,
                    password: password.to_string(),
                })?)
                .await?;
            cx.p.ack(
                &format!("stored the credentials of {account_id}"),
                json!({ "account_id": account_id, "stored": true }),
            );
        }
    }
    Ok(())
}

fn event_json(e: &pb::AuditEvent) -> Value {
    output::audit_event(
        e.id,
        output::ts(e.occurred_at.as_ref()),
        &e.event_type,
        &e.outcome,
        Some(&e.actor_id),
        Some(&e.target_id),
        Some(&e.peer),
        &e.details,
    )
}

const EVENT_COLUMNS: &[&str] = output::AUDIT_COLUMNS;

async fn audit(cx: &Ctx, c: AuditCommand) -> R<()> {
    let AuditCommand::List {
        account,
        event_type,
        since,
        limit,
        follow,
        interval,
    } = c;
    let since = match since {
        Some(s) => Some(output::parse_since(&s).map_err(Fail::Usage)?),
        None => None,
    };
    let mut client = AdminServiceClient::new(cx.channel().await?);
    let request = |page_size: i32| pb::ListAuditEventsRequest {
        account_id: account.clone().unwrap_or_default(),
        event_type: event_type.clone().unwrap_or_default(),
        since: since.map(|s| prost_types::Timestamp {
            seconds: s,
            nanos: 0,
        }),
        page_size,
        page_token: String::new(),
    };
    let events = client
        .list_audit_events(cx.authed(request(limit))?)
        .await?
        .into_inner()
        .events;
    if !follow {
        let rows: Vec<Value> = events.iter().map(event_json).collect();
        cx.p.rows(EVENT_COLUMNS, &rows);
        return Ok(());
    }
    let mut last = events.iter().map(|e| e.id).max().unwrap_or(0);
    let rows: Vec<Value> = events.iter().rev().map(event_json).collect();
    cx.p.rows(EVENT_COLUMNS, &rows);
    let _ = std::io::stdout().flush();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(interval)) => {}
        }
        let events = client
            .list_audit_events(cx.authed(request(500))?)
            .await?
            .into_inner()
            .events;
        let fresh: Vec<Value> = events
            .iter()
            .rev()
            .filter(|e| e.id > last)
            .map(event_json)
            .collect();
        last = events.iter().map(|e| e.id).max().unwrap_or(last).max(last);
        cx.p.rows_continued(EVENT_COLUMNS, &fresh);
        let _ = std::io::stdout().flush();
    }
}

async fn password(cx: &Ctx, c: PasswordCommand) -> R<()> {
    let PasswordCommand::Change { password_stdin } = c;
    let (current, new) = if password_stdin {
        let lines = prompt::stdin_lines(2).map_err(Fail::Usage)?;
        match lines.as_slice() {
            [cur, new] if !cur.is_empty() && !new.is_empty() => (cur.clone(), new.clone()),
            _ => {
                return Err(Fail::Usage(
                    "give the current password on line 1 and the new one on line 2 of standard input".into(),
                ));
            }
        }
    } else {
        let cur = prompt::secret("Current password: ").map_err(Fail::Usage)?;
        (
            cur,
            prompt::new_secret("New password").map_err(Fail::Usage)?,
        )
    };
    AuthServiceClient::new(cx.channel().await?)
        .change_password(cx.authed(pb::ChangePasswordRequest {
            current_password: current.to_string(),
            new_password: new.to_string(),
        })?)
        .await?;
    cx.p.ack("password changed", json!({ "changed": true }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Stored;

    #[test]
    fn token_file_lines() {
        let s = Stored::parse("access\nrefresh\n").unwrap();
        assert_eq!(s.access.as_str(), "access");
        assert_eq!(s.refresh.as_deref().map(String::as_str), Some("refresh"));
        // A file from before refresh tokens: one line.
        let s = Stored::parse("  access  \n").unwrap();
        assert_eq!(s.access.as_str(), "access");
        assert!(s.refresh.is_none());
        let s = Stored::parse("access\r\n\r\n").unwrap();
        assert!(s.refresh.is_none());
        assert!(Stored::parse("").is_none());
        assert!(Stored::parse("\nrefresh\n").is_none());
    }
}
