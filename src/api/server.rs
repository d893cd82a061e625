//! Assembles and runs the server: one TLS listener serving HTTP/1.1 and
//! HTTP/2, routed by content type — `application/grpc*` (gRPC and gRPC-Web)
//! to the tonic services behind the gate, everything else to the HTTP
//! endpoints and the REST transcoder — plus background maintenance and
//! graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::server::NamedService;
use tonic::service::Routes;
use tower::{Layer, ServiceExt};
use tracing::Instrument;

use super::gate::{Gate, GateLayer, GateState, Limiter, PeerAddr};
use super::grpc::{AccountApi, AdminApi, AuthApi, ClientApi, TokenApi};
use super::metrics::Metrics;
use super::pb::{
    account_service_server::AccountServiceServer, admin_service_server::AdminServiceServer,
    auth_service_server::AuthServiceServer, client_service_server::ClientServiceServer,
    token_service_server::TokenServiceServer,
};
use super::permissions::PermissionTable;
use super::rest::{self, RestState, RouteTable};
use super::{oauth, pb, tls, web, wellknown};
use mcias_core::config::Config;
use mcias_core::error::{Error, Result};
use mcias_core::idm::{Idm, ServingLock};

/// How often expired revocations and idle rate-limit state are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Longest time one request may take before it is answered with a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type GrpcService = tonic_web::GrpcWebService<Gate<Routes>>;

/// Everything a request may need.
#[derive(Debug)]
struct Shared {
    grpc: GrpcService,
    rest: RestState,
    limiter: Limiter,
    idm: Arc<Idm>,
    metrics: Arc<Metrics>,
    issuer: String,
    openapi: Bytes,
    cors: Vec<String>,
    web: web::Web,
}

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    idm: Arc<Idm>,
    // Held while serving so `mciasdb` refuses to write; released on drop.
    db_lock: ServingLock,
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
        self.task
            .await
            .map_err(|e| Error::internal(format!("server task: {e}")))?;
        self.idm.checkpoint().await?;
        drop(self.db_lock);
        tracing::info!("server stopped");
        Ok(())
    }
}

/// The OpenAPI document of this build, as served at `/openapi.json`.
pub fn openapi_json() -> Result<String> {
    let table = RouteTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET)?;
    serde_json::to_string_pretty(&rest::openapi::document(&table))
        .map_err(|e| Error::internal(format!("openapi: {e}")))
}

fn grpc_routes(
    idm: &Arc<Idm>,
    max: usize,
) -> Result<(Routes, tonic_health::server::HealthReporter)> {
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
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let routes = Routes::new(
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
    .add_service(
        ClientServiceServer::new(ClientApi(idm.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
    )
    .add_service(health_service)
    .add_service(reflection_v1)
    .add_service(reflection_v1alpha)
    .prepare();
    Ok((routes, reporter))
}

/// The gated services without a listener: what the REST transcoder calls,
/// a gRPC request in, its answer out, through the same gate (permissions
/// from the descriptor, authentication) and handlers as over the network.
/// For callers that drive requests in-process, such as the fuzz targets.
pub fn in_process(config: &Config, idm: Arc<Idm>) -> Result<RestState> {
    let perms = PermissionTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET, &public_services())?;
    let table = RouteTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET)?;
    let login_path = format!(
        "/{}/Login",
        <AuthServiceServer<AuthApi> as NamedService>::NAME
    );
    let gate = GateLayer::new(Arc::new(GateState::new(
        idm.clone(),
        perms,
        Arc::new(Metrics::default()),
        login_path,
    )));
    let (routes, _health) = grpc_routes(&idm, config.server.max_message_bytes)?;
    Ok(RestState {
        table,
        grpc: gate.layer(routes),
        max_body: config.server.max_message_bytes,
    })
}

/// Binds `addr`, with an error that names the config key and the address.
/// Binding comes first, so a busy port is reported before anything else is
/// done (`mciassrv dev` creates nothing then).
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        Error::invalid(
            "listen_failed",
            format!("config key `server.listen_addr`: cannot listen on {addr}: {e}"),
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::internal(format!("listener: {e}")))?;
    Ok(listener)
}

/// Binds the configured address and serves in the background.
pub async fn start(config: &Config, idm: Arc<Idm>) -> Result<RunningServer> {
    let listener = bind(config.server.listen_addr)?;
    start_on(listener, config, idm).await
}

/// Serves on a listener bound with [`bind`], in the background.
pub async fn start_on(
    listener: std::net::TcpListener,
    config: &Config,
    idm: Arc<Idm>,
) -> Result<RunningServer> {
    let listener =
        TcpListener::from_std(listener).map_err(|e| Error::internal(format!("listener: {e}")))?;
    let db_lock = idm.lock_for_serving()?;
    let tls_config = if config.server.insecure_plaintext {
        None
    } else {
        Some(Arc::new(tls::server_config(&config.server)?))
    };
    let perms = PermissionTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET, &public_services())?;
    let table = RouteTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET)?;
    let openapi = Bytes::from(
        serde_json::to_vec(&rest::openapi::document(&table))
            .map_err(|e| Error::internal(format!("openapi: {e}")))?,
    );
    let metrics = Arc::new(Metrics::default());
    let login_path = format!(
        "/{}/Login",
        <AuthServiceServer<AuthApi> as NamedService>::NAME
    );
    let gate = GateLayer::new(Arc::new(GateState::new(
        idm.clone(),
        perms,
        metrics.clone(),
        login_path,
    )));

    let (routes, health) = grpc_routes(&idm, config.server.max_message_bytes)?;
    for name in [
        "",
        <AuthServiceServer<AuthApi> as NamedService>::NAME,
        <TokenServiceServer<TokenApi> as NamedService>::NAME,
        <AccountServiceServer<AccountApi> as NamedService>::NAME,
        <AdminServiceServer<AdminApi> as NamedService>::NAME,
        <ClientServiceServer<ClientApi> as NamedService>::NAME,
    ] {
        health
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let gated = gate.layer(routes);
    let web = web::Web::new(
        idm.clone(),
        config.tokens.issuer.clone(),
        gated.clone(),
        metrics.clone(),
    );
    let shared = Arc::new(Shared {
        grpc: tonic_web::GrpcWebLayer::new().layer(gated.clone()),
        rest: RestState {
            table,
            grpc: gated,
            max_body: config.server.max_message_bytes,
        },
        limiter: Limiter::new(&config.rate_limit),
        idm: idm.clone(),
        metrics,
        issuer: config.tokens.issuer.clone(),
        openapi,
        cors: config.server.cors_allowed_origins.clone(),
        web,
    });

    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("local address: {e}")))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let conns = tls::accept_loop(listener, tls_config, stop_rx.clone());

    spawn_maintenance(shared.clone(), stop_rx.clone());
    let limits = Limits {
        max_streams: config.server.max_concurrent_streams,
        grace: config.server.shutdown_grace.std(),
    };
    let task = tokio::spawn(serve(conns, shared, stop_rx, limits));
    tracing::info!(addr = %local_addr, tls = !config.server.insecure_plaintext, "serving gRPC, gRPC-Web and REST");
    Ok(RunningServer {
        local_addr,
        stop: stop_tx,
        task,
        idm,
        db_lock,
    })
}

fn spawn_maintenance(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        let mut minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = minute.tick() => shared.metrics.sample(shared.idm.now()),
                _ = tick.tick() => {
                    shared.limiter.prune();
                    if let Err(e) = shared.idm.maintain_keys().await {
                        tracing::warn!(error = %e, "signing key maintenance failed");
                    }
                    match shared.idm.prune().await {
                        Ok(n) if n > 0 => tracing::info!(rows = n, "pruned expired tokens"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "pruning expired tokens failed"),
                    }
                }
            }
        }
    });
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_streams: u32,
    grace: Duration,
}

async fn serve(
    mut conns: tokio::sync::mpsc::Receiver<std::io::Result<tls::Conn>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    limits: Limits,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let conn = tokio::select! {
            _ = stop.changed() => break,
            c = conns.recv() => c,
        };
        let conn = match conn {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "connection failed");
                continue;
            }
            None => break,
        };
        let peer = conn.peer();
        let shared = shared.clone();
        let svc = hyper::service::service_fn(move |req| dispatch(shared.clone(), peer, req));
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .max_buf_size(64 * 1024);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_streams)
            .max_header_list_size(16 * 1024)
            .keep_alive_interval(Duration::from_secs(60))
            .keep_alive_timeout(Duration::from_secs(20));
        let connection = builder
            .serve_connection(TokioIo::new(conn), svc)
            .into_owned();
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(conns);
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}

/// A request id: the caller's `x-request-id` when sane, else a new UUID.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A W3C `traceparent`: the caller's when well-formed, else a new one.
fn traceparent(headers: &http::HeaderMap) -> String {
    let valid = |v: &str| {
        let p: Vec<&str> = v.split('-').collect();
        let hex = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        };
        p.len() == 4
            && hex(p[0], 2)
            && p[0] != "ff"
            && hex(p[1], 32)
            && p[1].bytes().any(|b| b != b'0')
            && hex(p[2], 16)
            && p[2].bytes().any(|b| b != b'0')
            && hex(p[3], 2)
    };
    if let Some(v) = headers.get("traceparent").and_then(|v| v.to_str().ok())
        && valid(v)
    {
        return v.to_owned();
    }
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

fn is_grpc(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The request's `Origin` when it is allowed cross-origin.
fn allowed_origin(shared: &Shared, headers: &http::HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    shared
        .cors
        .iter()
        .any(|o| o == "*" || o == text)
        .then(|| origin.clone())
}

/// Adds the CORS headers of an allowed origin to a response.
fn cors_headers(res: &mut Response<Body>, origin: HeaderValue) {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "grpc-status, grpc-message, grpc-status-details-bin, x-request-id, traceparent, www-authenticate",
        ),
    );
}

/// The answer to a CORS preflight from an allowed origin.
fn preflight(origin: HeaderValue) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = http::StatusCode::NO_CONTENT;
    cors_headers(&mut res, origin);
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, x-request-id, traceparent",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    res
}

async fn dispatch(
    shared: Arc<Shared>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let rid = request_id(req.headers());
    let tp = traceparent(req.headers());
    let trace_id = tp.split('-').nth(1).unwrap_or_default().to_owned();
    let span = tracing::info_span!("req", request_id = %rid, trace_id = %trace_id);
    async move {
        req.extensions_mut().insert(PeerAddr(peer));
        let grpc = is_grpc(&req);
        let http1 = req.version() < http::Version::HTTP_2;
        let origin = allowed_origin(&shared, req.headers());
        let is_preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut res = if !shared.limiter.allow(peer.ip()) {
            shared.metrics.rate_limited();
            tracing::info!(%peer, path = %req.uri().path(), "rate limited");
            let msg = "rate limit exceeded for this client address; slow down";
            if grpc {
                tonic::Status::resource_exhausted(msg).into_http()
            } else {
                rest::error_response(Code::ResourceExhausted, msg)
            }
        } else if is_preflight {
            match origin.clone() {
                Some(o) => preflight(o),
                None => rest::error_with_status(
                    http::StatusCode::FORBIDDEN,
                    Code::PermissionDenied,
                    "this origin may not call the API cross-origin (server.cors_allowed_origins)",
                ),
            }
        } else if grpc {
            match tokio::time::timeout(REQUEST_TIMEOUT, shared.grpc.clone().oneshot(req)).await {
                Ok(Ok(r)) => r.map(Body::new),
                Ok(Err(e)) => tonic::Status::internal(format!("{e}")).into_http(),
                Err(_) => tonic::Status::deadline_exceeded("the request took too long").into_http(),
            }
        } else {
            match tokio::time::timeout(REQUEST_TIMEOUT, http_route(&shared, req)).await {
                Ok(r) => r,
                Err(_) => rest::error_response(Code::DeadlineExceeded, "the request took too long"),
            }
        };
        // The request body may be left unread (413): say the connection
        // closes, so the client does not send its next request on it.
        if http1 && res.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(o) = origin
            && !is_preflight
        {
            cors_headers(&mut res, o);
        }
        for (name, value) in [("x-request-id", rid), ("traceparent", tp)] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, v);
            }
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

async fn http_route(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let get = req.method() == Method::GET;
    match (get, req.uri().path()) {
        (true, "/.well-known/jwks.json") => wellknown::jwks(&shared.idm, req.headers()),
        (true, "/.well-known/openid-configuration") => wellknown::discovery(&shared.issuer),
        (true, "/.well-known/oauth-authorization-server") => {
            wellknown::authorization_server_metadata(&shared.issuer)
        }
        (_, "/oauth2/userinfo") if get || req.method() == Method::POST => {
            oauth::userinfo(&shared.idm, req).await
        }
        (_, p) if web::serves(p) => shared.web.serve(req).await,
        (true, "/healthz") => wellknown::healthz(),
        (true, "/readyz") => wellknown::readyz(&shared.idm).await,
        (true, "/metrics") => wellknown::metrics(&shared.idm, &shared.metrics, req.headers()),
        (false, "/oauth2/token") if req.method() == Method::POST => {
            oauth::token(&shared.rest, &shared.idm, req).await
        }
        (false, "/oauth2/introspect") if req.method() == Method::POST => {
            oauth::introspect(&shared.rest, &shared.idm, req).await
        }
        (false, "/oauth2/revoke") if req.method() == Method::POST => {
            oauth::revoke(&shared.rest, &shared.idm, req).await
        }
        (true, "/openapi.json") => {
            let mut r = Response::new(Body::from(shared.openapi.clone()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        _ => {
            let bearer = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
            let mut res = match rest::handle(&shared.rest, req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            // RFC 6750 section 3: a refused token is named as such; a
            // request without one gets the bare challenge.
            if bearer && res.status() == http::StatusCode::UNAUTHORIZED {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"mcias\", error=\"invalid_token\""),
                );
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_and_traceparents() {
        let mut h = http::HeaderMap::new();
        assert_eq!(request_id(&h).len(), 36);
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", HeaderValue::from_static("bad id;"));
        assert_ne!(request_id(&h), "bad id;");
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        h.insert("traceparent", HeaderValue::from_static(tp));
        assert_eq!(traceparent(&h), tp);
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        );
        let generated = traceparent(&h);
        assert_ne!(generated, tp);
        assert_eq!(generated.len(), 55);
    }
}
