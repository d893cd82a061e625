//! The plain HTTP endpoints next to the API: JWKS and discovery for relying
//! parties, liveness and readiness, the OpenAPI document and metrics.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use sha2::{Digest, Sha256};
use tonic::Code;

use super::rest::{error_response, json_response};
use mcias_core::idm::Idm;

/// How long relying parties may cache the JWKS.
pub const JWKS_MAX_AGE_SECS: u32 = 300;

/// `GET /.well-known/jwks.json` with an ETag; `If-None-Match` → 304.
pub fn jwks(idm: &Idm, headers: &HeaderMap) -> Response<Body> {
    let body = serde_json::json!({ "keys": idm.public_keys() }).to_string();
    let etag = format!(
        "\"{}\"",
        mcias_core::crypto::b64url(&Sha256::digest(body.as_bytes())[..16])
    );
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if matches {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECS}")) {
        res.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    res
}

/// `GET /.well-known/openid-configuration`: what exists, nothing more.
pub fn discovery(issuer: &str) -> Response<Body> {
    let base = issuer.trim_end_matches('/');
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "issuer": issuer,
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
            "subject_types_supported": ["public"],
            "token_endpoint": format!("{base}/oauth2/token"),
            "introspection_endpoint": format!("{base}/oauth2/introspect"),
            "revocation_endpoint": format!("{base}/oauth2/revoke"),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["bearer"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "response_types_supported": [],
            "grant_types_supported": ["refresh_token", "client_credentials"],
            "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "roles", "typ"],
            "service_documentation": format!("{base}/openapi.json"),
        }),
    )
}

/// `GET /healthz`: the process answers.
pub fn healthz() -> Response<Body> {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(idm: &Idm) -> Response<Body> {
    if idm.healthy().await {
        json_response(StatusCode::OK, &serde_json::json!({ "status": "ready" }))
    } else {
        error_response(Code::Unavailable, "the database does not answer")
    }
}

/// `GET /metrics` for admins.
pub fn metrics(
    idm: &Idm,
    metrics: &super::metrics::Metrics,
    headers: &HeaderMap,
) -> Response<Body> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let Some(token) = token else {
        return error_response(Code::Unauthenticated, "metrics need an admin access token");
    };
    match idm.authenticate(token.trim()) {
        Err(_) => error_response(
            Code::Unauthenticated,
            "missing, invalid, expired or revoked access token",
        ),
        Ok(p) if !p.is_admin() => {
            error_response(Code::PermissionDenied, "metrics require the admin role")
        }
        Ok(_) => {
            let mut r = Response::new(Body::from(metrics.render(idm.hash_queue_depth())));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            r
        }
    }
}
