//! The integration-test harness: a real server on 127.0.0.1:0 over TLS in a
//! temporary directory, with an injected clock, and tonic clients.

#![allow(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use mcias_core::clock::{Clock, ManualClock, OsRandom, SystemClock};
use mcias_core::config::Config;
use mcias_core::crypto::password::PoolSize;
use mcias_core::idm::{Idm, KeySource};
use mcias_proto::{
    self as pb, account_service_client::AccountServiceClient,
    admin_service_client::AdminServiceClient, auth_service_client::AuthServiceClient,
    client_service_client::ClientServiceClient, token_service_client::TokenServiceClient,
};
use mcias_server::api::server::{self, RunningServer};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Request};

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub clock: Arc<ManualClock>,
    pub ca_pem: String,
    pub admin_password: String,
    pub running: Option<RunningServer>,
    pub ensure_admin: bool,
}

pub struct Options {
    pub rps: u32,
    pub burst: u32,
    /// Create the `admin` account at start (as `mciassrv dev` does).
    pub ensure_admin: bool,
    /// `tokens.refresh_grace`.
    pub refresh_grace: &'static str,
    /// `server.cors_allowed_origins`, as a TOML array.
    pub cors: &'static str,
    /// `tokens.signing_key_lead`; `None` leaves the default (5m), under
    /// which a rotated key signs only five minutes after it is published.
    pub signing_key_lead: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rps: 10_000,
            burst: 10_000,
            ensure_admin: true,
            refresh_grace: "0s",
            cors: "[]",
            signing_key_lead: None,
        }
    }
}

pub fn keyfile_path(dir: &std::path::Path) -> PathBuf {
    dir.join("master.key")
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Self {
        let mut s = Self::prepare(opts);
        s.boot().await;
        s
    }

    /// Writes the directory (TLS files, keyfile, config) without starting.
    pub fn prepare(opts: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = mcias_server::dev::generate_tls().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
        std::fs::write(dir.path().join("server.pem"), &cert).unwrap();
        mcias_server::dev::write_private(&dir.path().join("server-key.pem"), key.as_bytes())
            .unwrap();
        mcias_core::crypto::master::create_keyfile(&keyfile_path(dir.path()), &OsRandom).unwrap();
        let text = format!(
            r#"
[server]
listen_addr = "127.0.0.1:0"
tls_cert = "server.pem"
tls_key = "server-key.pem"
shutdown_grace = "5s"
cors_allowed_origins = {}

[database]
path = "mcias.db"

[master_key]
keyfile = "master.key"

[tokens]
issuer = "https://mcias.test"
access_ttl = "1h"
service_token_ttl = "30d"
refresh_grace = "{}"
{}
[argon2]
memory_kib = 19456
time = 2
parallelism = 1

[rate_limit]
requests_per_second = {}
burst = {}
"#,
            opts.cors,
            opts.refresh_grace,
            opts.signing_key_lead
                .map(|l| format!("signing_key_lead = \"{l}\"\n"))
                .unwrap_or_default(),
            opts.rps,
            opts.burst
        );
        let path = dir.path().join("mcias.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        let clock = ManualClock::new(SystemClock.now());
        Self {
            dir,
            config,
            clock,
            ca_pem: ca,
            admin_password: String::new(),
            running: None,
            ensure_admin: opts.ensure_admin,
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("mcias.toml")
    }

    pub async fn boot(&mut self) {
        let idm = Arc::new(
            Idm::open(
                &self.config,
                KeySource::from_config(&self.config).unwrap(),
                self.clock.clone(),
                Arc::new(OsRandom),
                PoolSize {
                    workers: 2,
                    queue: 16,
                },
            )
            .await
            .unwrap(),
        );
        if self.ensure_admin
            && let Some(pw) = idm.ensure_admin("admin").await.unwrap()
        {
            self.admin_password = pw.to_string();
        }
        self.running = Some(server::start(&self.config, idm).await.unwrap());
    }

    /// Stops the server cleanly.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }

    /// Stops and starts again on the same directory (new port).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }

    pub fn db_path(&self) -> PathBuf {
        self.config.database.path.clone()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().unwrap().local_addr()
    }

    pub async fn channel(&self) -> Channel {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .domain_name("localhost");
        Channel::from_shared(format!("https://localhost:{}", self.addr().port()))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// The base URL for HTTP clients.
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.addr().port())
    }

    /// An HTTP client that trusts the test CA (HTTP/2 or HTTP/1.1 by ALPN).
    pub fn http(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap();
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .resolve("localhost", self.addr())
            .build()
            .unwrap()
    }

    pub async fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel().await)
    }
    pub async fn tokens(&self) -> TokenServiceClient<Channel> {
        TokenServiceClient::new(self.channel().await)
    }
    pub async fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel().await)
    }
    pub async fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel().await)
    }
    pub async fn clients(&self) -> ClientServiceClient<Channel> {
        ClientServiceClient::new(self.channel().await)
    }

    pub async fn try_login(
        &self,
        user: &str,
        pw: &str,
        totp: &str,
    ) -> Result<String, tonic::Status> {
        self.auth()
            .await
            .login(pb::LoginRequest {
                username: user.into(),
                password: pw.into(),
                totp_code: totp.into(),
            })
            .await
            .map(|r| r.into_inner().token)
    }

    pub async fn login(&self, user: &str, pw: &str) -> String {
        self.try_login(user, pw, "").await.unwrap()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", &self.admin_password.clone()).await
    }

    pub async fn valid(&self, token: &str) -> bool {
        self.tokens()
            .await
            .validate_token(pb::ValidateTokenRequest {
                token: token.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .valid
    }

    /// Rotates the signing key as `admin`; the new key's id.
    pub async fn rotate_signing_key(&self, admin: &str) -> String {
        self.admin()
            .await
            .rotate_signing_key(authed(pb::RotateSigningKeyRequest {}, admin))
            .await
            .unwrap()
            .into_inner()
            .kid
    }

    /// Creates an account as admin and returns its id.
    pub async fn create(
        &self,
        admin: &str,
        username: &str,
        ty: pb::AccountType,
        pw: &str,
    ) -> String {
        self.accounts()
            .await
            .create_account(authed(
                pb::CreateAccountRequest {
                    username: username.into(),
                    account_type: ty as i32,
                    password: pw.into(),
                },
                admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .account
            .unwrap()
            .id
    }
}

/// GETs `url` and parses the body as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// A request with `authorization: Bearer <token>`.
pub fn authed<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// Asserts that a call failed with `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(res: Result<T, tonic::Status>, code: Code) -> tonic::Status {
    match res {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(s) => {
            assert_eq!(s.code(), code, "unexpected status: {s:?}");
            s
        }
    }
}
