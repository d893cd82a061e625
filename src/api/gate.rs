//! The request gate, one tower layer in front of every gRPC service (and so
//! of every transcoded REST call): authentication (Bearer JWT, revocation
//! checked in memory) → authorization from the proto permission table → the
//! service, then metrics and one log line (method, peer, status, duration,
//! account; never a header, body or token). The per-IP rate limit
//! ([`Limiter`]) runs before, once per HTTP request on every surface.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::future::BoxFuture;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::Status;
use tower::{Layer, Service};

use super::metrics::Metrics;
use super::permissions::{Permission, PermissionTable};
use crate::api::status::OrStatus;
use mcias_core::config::RateLimitConfig;
use mcias_core::idm::{Caller, Idm};

/// The client's address, put into request extensions by the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The identity of a signed-in browser session, put on in-process requests
/// by the pages (the admin console) so they pass the same gate as the API:
/// the permission from the proto, metrics, the log line. Only code in this
/// process can attach it; nothing from the wire becomes an extension.
#[derive(Debug, Clone)]
pub struct PageSession(pub mcias_core::idm::Principal);

/// The per-IP rate limit, shared by every surface.
pub struct Limiter(DefaultKeyedRateLimiter<IpAddr>);

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limiter")
    }
}

impl Limiter {
    /// A limiter with the configured rate and burst.
    pub fn new(rate: &RateLimitConfig) -> Self {
        let rps = NonZeroU32::new(rate.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::keyed(
            Quota::per_second(rps).allow_burst(burst),
        ))
    }

    /// Takes one request's worth from `ip`'s budget; false when exhausted.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.0.check_key(&ip).is_ok()
    }

    /// Forgets idle clients (bounded memory).
    pub fn prune(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }
}

/// Shared state of the gate.
pub struct GateState {
    idm: Arc<Idm>,
    perms: PermissionTable,
    metrics: Arc<Metrics>,
    login_path: String,
}

impl std::fmt::Debug for GateState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateState")
            .field("perms", &self.perms.len())
            .finish()
    }
}

impl GateState {
    /// Builds the gate's state. `login_path` is the Login RPC's path, whose
    /// outcomes are also counted as logins.
    pub fn new(
        idm: Arc<Idm>,
        perms: PermissionTable,
        metrics: Arc<Metrics>,
        login_path: String,
    ) -> Self {
        Self {
            idm,
            perms,
            metrics,
            login_path,
        }
    }

    /// Decides whether a request may proceed; returns the caller on success.
    pub fn admit(
        &self,
        path: &str,
        peer: Option<SocketAddr>,
        authorization: Option<&str>,
        session: Option<mcias_core::idm::Principal>,
    ) -> Result<Caller, Status> {
        let Some(perm) = self.perms.get(path) else {
            return Err(Status::unimplemented(format!("unknown method {path}")));
        };
        let token = authorization.and_then(bearer);
        let principal = match (perm, token) {
            _ if session.is_some() => session,
            (Permission::Public, Some(t)) => self.idm.authenticate(t).ok(),
            (Permission::Public, None) => None,
            (_, None) => {
                return Err(Status::unauthenticated(
                    "this method needs an access token: send `authorization: Bearer <token>`",
                ));
            }
            (_, Some(t)) => Some(self.idm.authenticate(t).or_status()?),
        };
        if perm == Permission::Admin && !principal.as_ref().is_some_and(|p| p.is_admin()) {
            return Err(Status::permission_denied(
                "this method requires the admin role",
            ));
        }
        Ok(Caller {
            principal,
            peer: peer.map(|p| p.to_string()),
        })
    }
}

/// Extracts the token of an `Authorization: Bearer` value.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The tower layer.
#[derive(Debug, Clone)]
pub struct GateLayer {
    state: Arc<GateState>,
}

impl GateLayer {
    /// A layer over shared state.
    pub fn new(state: Arc<GateState>) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;
    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The gate service.
#[derive(Debug, Clone)]
pub struct Gate<S> {
    inner: S,
    state: Arc<GateState>,
}

/// Statuses tonic's codec answers before a handler runs, rewritten to what
/// gRPC prescribes and without decoder internals: a message over the size
/// limit is RESOURCE_EXHAUSTED (tonic says OUT_OF_RANGE), a malformed one is
/// INVALID_ARGUMENT (tonic says INTERNAL with the decoder's error). Handlers
/// never answer OUT_OF_RANGE, and their INTERNAL says only `internal error`.
fn codec_status<B: Default>(res: http::Response<B>) -> http::Response<B> {
    let Some(status) = Status::from_header_map(res.headers()) else {
        return res;
    };
    let message = status.message();
    let rewritten = match status.code() {
        tonic::Code::OutOfRange => Some(Status::resource_exhausted(format!(
            "message too large: {}",
            message
                .split_once("too large: ")
                .map_or(message, |(_, rest)| rest)
        ))),
        tonic::Code::Internal
            if message.starts_with("failed to decode Protobuf message")
                || message.starts_with("Unexpected EOF decoding stream") =>
        {
            tracing::debug!(detail = %message, "malformed request message");
            Some(Status::invalid_argument(
                "malformed request message: not the protobuf encoding of the method's request type",
            ))
        }
        _ => None,
    };
    match rewritten {
        Some(s) => s.into_http(),
        None => res,
    }
}

fn grpc_code<B>(res: &http::Response<B>) -> &str {
    res.headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0")
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Gate<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let path = req.uri().path().to_owned();
        let peer = req.extensions().get::<PeerAddr>().map(|p| p.0);
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let session = req.extensions().get::<PageSession>().map(|s| s.0.clone());
        let admitted = self.state.admit(&path, peer, auth, session);
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let (account, res) = match admitted {
                Ok(caller) => {
                    let account = caller.principal.as_ref().map(|p| p.account_id.clone());
                    req.extensions_mut().insert(caller);
                    (account, inner.call(req).await.map(codec_status))
                }
                Err(status) => (None, Ok(status.into_http())),
            };
            if let Ok(r) = &res {
                let code = grpc_code(r);
                let elapsed = start.elapsed().as_secs_f64();
                let known = state.perms.get(&path).is_some();
                state.metrics.record(
                    if known { &path } else { "unknown" },
                    code,
                    elapsed,
                    path == state.login_path,
                );
                tracing::info!(
                    method = %path,
                    peer = %peer.map(|p| p.to_string()).unwrap_or_default(),
                    grpc_status = code,
                    duration_ms = elapsed * 1000.0,
                    account = %account.unwrap_or_default(),
                    "request"
                );
            }
            res
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }
}
