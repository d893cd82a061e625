//! The token hot path, measured: ValidateToken and IntrospectToken per
//! second (and the database calls they make, which should be none), and
//! refresh-token rotations per second (one write transaction each), with
//! the load generator on the same machine as the server.
//!
//! `make bench` (release build). Prints figures; asserts nothing about
//! speed.

use std::sync::Arc;
use std::time::Instant;

use mcias_core::clock::{OsRandom, SystemClock};
use mcias_core::config::Config;
use mcias_core::crypto::password::PoolSize;
use mcias_core::idm::{Idm, KeySource};
use mcias_proto::{
    self as pb, account_service_client::AccountServiceClient,
    auth_service_client::AuthServiceClient, token_service_client::TokenServiceClient,
};
use mcias_server::api::server;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const CONCURRENCY: usize = 16;
const CHAINS: usize = 16;
const PW: &str = "benchmark password";

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn authed<T>(msg: T, token: &str) -> Res<tonic::Request<T>> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(r)
}

#[tokio::main]
async fn main() -> Res<()> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as
    // a quick smoke run of the same code.
    let full = std::env::args().any(|a| a == "--bench");
    let (validations, refreshes_per_chain) = if full { (20_000, 100) } else { (160, 2) };
    let dir = tempfile::tempdir()?;
    let (ca, cert, key) = mcias_server::dev::generate_tls()?;
    std::fs::write(dir.path().join("server.pem"), cert)?;
    mcias_server::dev::write_private(&dir.path().join("server-key.pem"), key.as_bytes())?;
    mcias_core::crypto::master::create_keyfile(&dir.path().join("master.key"), &OsRandom)?;
    let cfg = r#"
[server]
listen_addr = "127.0.0.1:0"
tls_cert = "server.pem"
tls_key = "server-key.pem"
max_concurrent_streams = 256
[database]
path = "mcias.db"
[master_key]
keyfile = "master.key"
[tokens]
issuer = "https://bench.mcias"
[argon2]
memory_kib = 19456
time = 2
parallelism = 1
[rate_limit]
requests_per_second = 1000000
burst = 1000000
[log]
level = "warn"
"#;
    std::fs::write(dir.path().join("mcias.toml"), cfg)?;
    let config = Config::load(&dir.path().join("mcias.toml"))?;
    let idm = Arc::new(
        Idm::open(
            &config,
            KeySource::from_config(&config)?,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            PoolSize::for_this_machine(),
        )
        .await?,
    );
    let admin_pw = idm.ensure_admin("admin").await?.ok_or("admin exists")?;
    let running = server::start(&config, idm.clone()).await?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca))
        .domain_name("localhost");
    let channel =
        Channel::from_shared(format!("https://localhost:{}", running.local_addr().port()))?
            .tls_config(tls)?
            .connect()
            .await?;

    let mut auth = AuthServiceClient::new(channel.clone());
    let admin = auth
        .login(pb::LoginRequest {
            username: "admin".into(),
            password: admin_pw.to_string(),
            totp_code: String::new(),
        })
        .await?
        .into_inner()
        .token;
    AccountServiceClient::new(channel.clone())
        .create_account(authed(
            pb::CreateAccountRequest {
                username: "bench".into(),
                account_type: pb::AccountType::Human as i32,
                password: PW.into(),
            },
            &admin,
        )?)
        .await?;

    println!(
        "MCIAS hot path{} (server and load generator on this machine, {CONCURRENCY} concurrent callers)",
        if full { "" } else { ", smoke run" }
    );

    // ValidateToken.
    let before = idm.store().io_counts();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let mut c = TokenServiceClient::new(channel.clone());
        let token = admin.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..validations / CONCURRENCY {
                let v = c
                    .validate_token(pb::ValidateTokenRequest {
                        token: token.clone(),
                    })
                    .await?;
                if !v.into_inner().valid {
                    return Err::<(), Box<dyn std::error::Error + Send + Sync>>(
                        "token invalid".into(),
                    );
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let after = idm.store().io_counts();
    println!(
        "ValidateToken:    {:>8.0} /s  ({validations} calls in {secs:.2}s; database reads {}, writes {})",
        validations as f64 / secs,
        after.reads - before.reads,
        after.writes - before.writes
    );

    // IntrospectToken (authenticated: the gate verifies the caller's token
    // too).
    let before = idm.store().io_counts();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let mut c = TokenServiceClient::new(channel.clone());
        let token = admin.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..validations / CONCURRENCY {
                let i = c
                    .introspect_token(authed(
                        pb::IntrospectTokenRequest {
                            token: token.clone(),
                            token_type_hint: String::new(),
                        },
                        &token,
                    )?)
                    .await?;
                if !i.into_inner().active {
                    return Err::<(), Box<dyn std::error::Error + Send + Sync>>(
                        "token inactive".into(),
                    );
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let after = idm.store().io_counts();
    println!(
        "IntrospectToken:  {:>8.0} /s  ({validations} calls in {secs:.2}s; database reads {}, writes {})",
        validations as f64 / secs,
        after.reads - before.reads,
        after.writes - before.writes
    );

    // Refresh rotations: independent families, each refreshed in a chain.
    let mut firsts = Vec::new();
    for _ in 0..CHAINS {
        let r = auth
            .login(pb::LoginRequest {
                username: "bench".into(),
                password: PW.into(),
                totp_code: String::new(),
            })
            .await?
            .into_inner();
        firsts.push(r.refresh_token);
    }
    let before = idm.store().io_counts();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for first in firsts {
        let mut c = AuthServiceClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            let mut current = first;
            for _ in 0..refreshes_per_chain {
                current = c
                    .refresh_token(pb::RefreshTokenRequest {
                        refresh_token: current,
                    })
                    .await?
                    .into_inner()
                    .refresh_token;
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let after = idm.store().io_counts();
    let n = CHAINS * refreshes_per_chain;
    println!(
        "RefreshToken:     {:>8.0} /s  ({n} rotations in {secs:.2}s; {:.2} write transactions and {:.2} reads per rotation)",
        n as f64 / secs,
        (after.writes - before.writes) as f64 / n as f64,
        (after.reads - before.reads) as f64 / n as f64
    );
    running.shutdown().await?;
    Ok(())
}
