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

/// The metadata both discovery documents share (RFC 8414 section 2).
fn server_metadata(issuer: &str) -> serde_json::Map<String, serde_json::Value> {
    use mcias_core::idm::oidc::STANDARD_SCOPES;
    let base = issuer.trim_end_matches('/');
    let value = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
        "end_session_endpoint": format!("{base}/oauth2/end_session"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "scopes_supported": STANDARD_SCOPES,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["bearer"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{base}/openapi.json"),
    });
    match value {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0
/// section 3).
pub fn discovery(issuer: &str) -> Response<Body> {
    use mcias_core::idm::oidc::CLAIMS;
    let mut m = server_metadata(issuer);
    for (k, v) in [
        ("subject_types_supported", serde_json::json!(["public"])),
        (
            "id_token_signing_alg_values_supported",
            serde_json::json!(["RS256", "EdDSA"]),
        ),
        (
            "userinfo_signing_alg_values_supported",
            serde_json::json!(["none"]),
        ),
        ("claims_supported", serde_json::json!(CLAIMS)),
        ("claims_parameter_supported", serde_json::json!(false)),
        ("request_parameter_supported", serde_json::json!(false)),
        ("request_uri_parameter_supported", serde_json::json!(false)),
        ("acr_values_supported", serde_json::json!(["1", "2"])),
        (
            "prompt_values_supported",
            serde_json::json!(["none", "login", "consent", "select_account"]),
        ),
    ] {
        m.insert(k.to_owned(), v);
    }
    json_response(StatusCode::OK, &serde_json::Value::Object(m))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub fn authorization_server_metadata(issuer: &str) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &serde_json::Value::Object(server_metadata(issuer)),
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
