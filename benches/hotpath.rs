//! The token hot path, measured: ValidateToken and IntrospectToken per
//! second (and the database calls they make, which should be none), and
//! refresh-token rotations per second (one write transaction each), with
//! the load generator on the same machine as the server.
//!
//! `make bench` (release build). Prints figures; asserts nothing about
//! speed.

use std::sync::Arc;
use std::time::Instant;

use mcias::api::pb::{
    self, account_service_client::AccountServiceClient, auth_service_client::AuthServiceClient,
    token_service_client::TokenServiceClient,
};
use mcias::api::server;
use mcias::clock::{OsRandom, SystemClock};
use mcias::config::Config;
use mcias::crypto::password::PoolSize;
use mcias::idm::{Idm, KeySource};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const CONCURRENCY: usize = 16;
const VALIDATIONS: usize = 20_000;
const CHAINS: usize = 16;
const REFRESHES_PER_CHAIN: usize = 100;
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
    let dir = tempfile::tempdir()?;
    let (ca, cert, key) = mcias::dev::generate_tls()?;
    std::fs::write(dir.path().join("server.pem"), cert)?;
    mcias::dev::write_private(&dir.path().join("server-key.pem"), key.as_bytes())?;
    mcias::crypto::master::create_keyfile(&dir.path().join("master.key"), &OsRandom)?;
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
        "MCIAS hot path (server and load generator on this machine, {CONCURRENCY} concurrent callers)"
    );

    // ValidateToken.
    let before = idm.store().io_counts();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let mut c = TokenServiceClient::new(channel.clone());
        let token = admin.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..VALIDATIONS / CONCURRENCY {
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
        "ValidateToken:    {:>8.0} /s  ({VALIDATIONS} calls in {secs:.2}s; database reads {}, writes {})",
        VALIDATIONS as f64 / secs,
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
            for _ in 0..VALIDATIONS / CONCURRENCY {
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
        "IntrospectToken:  {:>8.0} /s  ({VALIDATIONS} calls in {secs:.2}s; database reads {}, writes {})",
        VALIDATIONS as f64 / secs,
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
            for _ in 0..REFRESHES_PER_CHAIN {
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
    let n = CHAINS * REFRESHES_PER_CHAIN;
    println!(
        "RefreshToken:     {:>8.0} /s  ({n} rotations in {secs:.2}s; {:.2} write transactions and {:.2} reads per rotation)",
        n as f64 / secs,
        (after.writes - before.writes) as f64 / n as f64,
        (after.reads - before.reads) as f64 / n as f64
    );
    running.shutdown().await?;
    Ok(())
}
