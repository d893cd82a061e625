//! `mciassrv`: the MCIAS server. `mciassrv --config PATH` or
//! `mciassrv dev [--data-dir DIR] [--listen ADDR]`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mcias_core::clock::{OsRandom, SystemClock};
use mcias_core::config::{Config, LogConfig, LogFormat};
use mcias_core::crypto::password::PoolSize;
use mcias_core::error::Result;
use mcias_core::idm::{Idm, KeySource};
use mcias_server::api::server;
use mcias_server::cli::{ServerCli, ServerCommand};
use mcias_server::dev;

fn init_logging(cfg: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MCIAS_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colours only on a terminal: log files and journald get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cfg.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_dev_banner(
    setup: &dev::DevSetup,
    addr: std::net::SocketAddr,
    public_url: &str,
    password: Option<&str>,
) {
    let dir = setup.dir.display();
    let target = format!("localhost:{}", addr.port());
    println!("MCIAS development server");
    println!("  data dir : {dir}");
    println!(
        "  listening: https://{target} (gRPC, gRPC-Web and REST; CA certificate {dir}/tls/ca.pem)"
    );
    println!(
        "  issuer   : {public_url} (discovery: {public_url}/.well-known/openid-configuration)"
    );
    match password {
        Some(pw) => {
            println!("  admin password (shown once, also saved to {dir}/admin-password): {pw}");
        }
        None => println!("  admin password: see {dir}/admin-password"),
    }
    println!();
    println!("Try:");
    println!("  grpcurl -cacert {dir}/tls/ca.pem {target} list");
    println!("  grpcurl -cacert {dir}/tls/ca.pem {target} grpc.health.v1.Health/Check");
    println!(
        "  grpcurl -cacert {dir}/tls/ca.pem -d \"{{\\\"username\\\":\\\"admin\\\",\\\"password\\\":\\\"$(cat {dir}/admin-password)\\\"}}\" {target} mcias.v1.AuthService/Login"
    );
    println!(
        "  curl --cacert {dir}/tls/ca.pem https://{target}/v1/auth/login -d \"{{\\\"username\\\":\\\"admin\\\",\\\"password\\\":\\\"$(cat {dir}/admin-password)\\\"}}\""
    );
    println!("  curl --cacert {dir}/tls/ca.pem https://{target}/.well-known/jwks.json");
    println!();
}

async fn run(cli: ServerCli) -> Result<()> {
    let mut bound = None;
    let (config, dev_setup) = match (cli.command, cli.config) {
        (Some(ServerCommand::Openapi), _) => {
            println!("{}", server::openapi_json()?);
            return Ok(());
        }
        (
            Some(ServerCommand::Dev {
                data_dir,
                listen,
                public_url,
            }),
            _,
        ) => {
            // A busy port is refused before anything is created.
            let listener = server::bind(dev::listen_addr(&data_dir, listen)?)?;
            let addr = listener
                .local_addr()
                .map_err(|e| mcias_core::error::Error::internal(format!("listener: {e}")))?;
            bound = Some(listener);
            let setup = dev::prepare(&data_dir, listen, &OsRandom)?;
            let mut config = setup.config.clone();
            // The issuer follows where the server is reached, on every start.
            config.set_public_url(public_url.unwrap_or_else(|| dev::public_url_for(addr)));
            config.validate()?;
            (config, Some(setup))
        }
        (None, Some(path)) => (Config::load(&path)?, None),
        (None, None) => {
            return Err(mcias_core::error::Error::invalid(
                "usage",
                "give --config PATH, or run `mciassrv dev` for a development server",
            ));
        }
    };
    init_logging(&config.log);
    let source = KeySource::from_config(&config)?;
    let idm = Arc::new(
        Idm::open(
            &config,
            source,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            PoolSize::for_this_machine(),
        )
        .await?,
    );
    let created_password = match &dev_setup {
        Some(setup) => {
            let pw = idm.ensure_admin("admin").await?;
            if let Some(pw) = &pw {
                dev::write_private(
                    &setup.admin_password_file,
                    format!("{}\n", pw.as_str()).as_bytes(),
                )?;
            }
            pw
        }
        None => {
            if !idm.has_active_admin().await? {
                tracing::warn!(
                    "no active admin account exists; create one with `mciasdb bootstrap-admin`"
                );
            }
            None
        }
    };
    let running = match bound {
        Some(listener) => server::start_on(listener, &config, idm).await?,
        None => server::start(&config, idm).await?,
    };
    if let Some(setup) = &dev_setup {
        print_dev_banner(
            setup,
            running.local_addr(),
            config.public_url(),
            created_password.as_ref().map(|p| p.as_str()),
        );
    }
    drop(created_password);
    wait_for_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await
}

fn main() -> ExitCode {
    let cli = ServerCli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mciassrv: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mciassrv: {}", e.message);
            if e.code == "usage" {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
