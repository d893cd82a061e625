//! Assembles the gRPC server: services with bounded message sizes, health,
//! reflection (v1 and v1alpha), the gate layer, the listener, background
//! maintenance, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::server::NamedService;
use tonic::transport::Server;

use super::gate::{GateLayer, GateState};
use super::grpc::{AccountApi, AdminApi, AuthApi, TokenApi};
use super::pb::{
    account_service_server::AccountServiceServer, admin_service_server::AdminServiceServer,
    auth_service_server::AuthServiceServer, token_service_server::TokenServiceServer,
};
use super::permissions::PermissionTable;
use super::{pb, tls};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::idm::Idm;
use crate::store::DbLock;

/// How often expired revocations are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
    grace: Duration,
    idm: Arc<Idm>,
    // Held while serving so `mciasdb` refuses to write; released on drop.
    db_lock: DbLock,
}

type HealthSvc = tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>;

/// The names of the infrastructure services anyone may call.
fn public_services() -> [&'static str; 3] {
    [
        <HealthSvc as NamedService>::NAME,
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The identity manager behind the server.
    pub fn idm(&self) -> &Arc<Idm> {
        &self.idm
    }

    /// Stops accepting, drains in-flight calls for at most the configured
    /// grace period, then checkpoints the database.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        let mut task = self.task;
        let res = match tokio::time::timeout(self.grace, &mut task).await {
            Ok(joined) => joined.map_err(|e| Error::internal(format!("server task: {e}")))?,
            Err(_) => {
                tracing::warn!("shutdown grace period over; closing remaining connections");
                task.abort();
                Ok(())
            }
        };
        let store = self.idm.store().clone();
        tokio::task::spawn_blocking(move || store.checkpoint())
            .await
            .map_err(|e| Error::internal(format!("checkpoint task: {e}")))??;
        drop(self.db_lock);
        tracing::info!("server stopped");
        res
    }
}

/// Binds the listener and serves in the background.
pub async fn start(config: &Config, idm: Arc<Idm>) -> Result<RunningServer> {
    let db_lock = DbLock::acquire(idm.store().path())?;
    let tls_config = if config.server.insecure_plaintext {
        None
    } else {
        Some(Arc::new(tls::server_config(&config.server)?))
    };
    let perms = PermissionTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET, &public_services())?;
    let gate = Arc::new(GateState::new(idm.clone(), perms, &config.rate_limit));

    let listener = TcpListener::bind(config.server.listen_addr)
        .await
        .map_err(|e| {
            Error::invalid(
                "listen_failed",
                format!(
                    "config key `server.listen_addr`: cannot listen on {}: {e}",
                    config.server.listen_addr
                ),
            )
        })?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("local address: {e}")))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let incoming = ReceiverStream::new(tls::accept_loop(listener, tls_config, stop_rx.clone()));

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::internal(format!("reflection: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| Error::internal(format!("reflection: {e}")))?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in [
        "",
        <AuthServiceServer<AuthApi> as NamedService>::NAME,
        <TokenServiceServer<TokenApi> as NamedService>::NAME,
        <AccountServiceServer<AccountApi> as NamedService>::NAME,
        <AdminServiceServer<AdminApi> as NamedService>::NAME,
    ] {
        health_reporter
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }

    let max = config.server.max_message_bytes;
    let router = Server::builder()
        .max_concurrent_streams(config.server.max_concurrent_streams)
        .http2_max_header_list_size(16 * 1024)
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .timeout(Duration::from_secs(30))
        .layer(GateLayer::new(gate.clone()))
        .add_service(
            AuthServiceServer::new(AuthApi(idm.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            TokenServiceServer::new(TokenApi(idm.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            AccountServiceServer::new(AccountApi(idm.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            AdminServiceServer::new(AdminApi(idm.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    // Background maintenance: prune expired revocations and idle rate-limit
    // state until shutdown.
    {
        let idm = idm.clone();
        let gate = gate.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PRUNE_EVERY);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tick.tick() => {
                        gate.prune_limiter();
                        match idm.prune().await {
                            Ok(n) if n > 0 => tracing::info!(rows = n, "pruned expired tokens"),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "pruning expired tokens failed"),
                        }
                    }
                }
            }
        });
    }

    let mut stop_signal = stop_rx;
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop_signal.changed().await;
            })
            .await
            .map_err(|e| Error::internal(format!("server: {e}")))
    });
    tracing::info!(addr = %local_addr, tls = !config.server.insecure_plaintext, "serving gRPC");
    Ok(RunningServer {
        local_addr,
        stop: stop_tx,
        task,
        grace: config.server.shutdown_grace.std(),
        idm,
        db_lock,
    })
}
