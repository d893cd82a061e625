//! OAuth 2.0 endpoints on the HTTP surface: `/oauth2/token` (RFC 6749:
//! `authorization_code`, `refresh_token` and `client_credentials` grants),
//! `/oauth2/userinfo` (OpenID Connect Core 5.3), `/oauth2/introspect`
//! (RFC 7662) and `/oauth2/revoke` (RFC 7009). Form-encoded in, RFC 6749
//! JSON out. The grants of the API's own sign-in, introspection and
//! revocation map onto an RPC called in-process through the gate with the
//! generated client and message types (no method names or JSON field names
//! as strings), so authentication, logging and audit are those of the API;
//! the grants of applications (code exchange, their refresh) and userinfo
//! call the domain's OpenID Connect provider directly.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;
use tonic::Code;
use tonic::metadata::MetadataValue;

use super::body::{BodyError, read_limited};
use super::gate::PeerAddr;
use super::pb::auth_service_client::AuthServiceClient;
use super::pb::token_service_client::TokenServiceClient;
use super::pb::{
    ClientCredentialsRequest, IntrospectTokenRequest, RefreshTokenRequest, RevokeTokenValueRequest,
};
use super::rest::{self, InProcess, RestState};
use mcias_core::error::{Error, ErrorKind};
use mcias_core::idm::oidc::{ClientAuth, TokenSet};
use mcias_core::idm::{Caller, Idm};
use zeroize::Zeroizing;

/// Largest accepted form body.
const MAX_FORM_BYTES: usize = 16 * 1024;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    let mut res = rest::json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    no_store(res.headers_mut());
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 section 3 for a refused Bearer token, HTTP Basic for a
        // refused client.
        let challenge = if error == "invalid_token" {
            "Bearer realm=\"mcias\", error=\"invalid_token\""
        } else {
            "Basic realm=\"mcias\""
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    res
}

/// The client credentials a request carries (HTTP Basic, or `client_id`
/// and `client_secret` in the form), when it carries a secret. The error is
/// the ready 401.
#[allow(clippy::result_large_err)]
fn client_secret_auth(
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Option<ClientAuth>, Response<Body>> {
    let creds = match basic_credentials(headers) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &e)),
        None => match (param(form, "client_id"), param(form, "client_secret")) {
            (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
            _ => None,
        },
    };
    Ok(creds.map(|(id, secret)| ClientAuth {
        client_id: id,
        secret: Some(Zeroizing::new(secret)),
    }))
}

/// Introspection or revocation by an authenticated client (RFC 7662 and
/// RFC 7009 section 2.1): only about its own tokens.
async fn for_client(
    idm: &Idm,
    auth: ClientAuth,
    parts: &http::request::Parts,
    token: &str,
    revoke: bool,
) -> Response<Body> {
    let client = match idm.authenticate_client(&auth).await {
        Ok(c) => c,
        Err(e) => return grant_error(&e),
    };
    let answer = if revoke {
        idm.revoke_for_client(&caller_of(&parts.extensions), &client, token)
            .await
            .map(|()| None)
    } else {
        idm.introspect_for_client(&client, token).await.map(Some)
    };
    match answer {
        Ok(Some(body)) => {
            let mut res = rest::json_response(StatusCode::OK, &serde_json::Value::Object(body));
            no_store(res.headers_mut());
            res
        }
        Ok(None) => {
            let mut res = Response::new(Body::empty());
            no_store(res.headers_mut());
            res
        }
        Err(e) => grant_error(&e),
    }
}

fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Parses an `application/x-www-form-urlencoded` body. Repeated parameters
/// are an error (RFC 6749 §3.1).
fn parse_form(body: &Bytes) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the form body is not UTF-8".to_owned())?;
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = rest::percent_decode(k, true)?;
        let v = rest::percent_decode(v, true)?;
        if out.iter().any(|(x, _)| *x == k) {
            return Err(format!("parameter `{k}` is repeated"));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: each part form-encoded).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), String>> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let parse = || -> Result<(String, String), String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "malformed Basic credentials".to_owned())?;
        let text = String::from_utf8(raw).map_err(|_| "malformed Basic credentials".to_owned())?;
        let (id, secret) = text.split_once(':').ok_or("malformed Basic credentials")?;
        Ok((
            rest::percent_decode(id, true)?,
            rest::percent_decode(secret, true)?,
        ))
    };
    Some(parse())
}

/// A call through the gated services with the generated types: the same
/// gate (authentication, authorization, metrics, one log line) and handlers
/// as a gRPC call, in-process. `authorization` is passed on when the endpoint
/// authenticates its caller by a Bearer token.
fn in_process<T>(
    msg: T,
    extensions: &http::Extensions,
    authorization: Option<&HeaderValue>,
) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Some(peer) = extensions.get::<PeerAddr>() {
        req.extensions_mut().insert(*peer);
    }
    if let Some(value) = authorization.and_then(|v| MetadataValue::try_from(v.as_bytes()).ok()) {
        req.metadata_mut().insert("authorization", value);
    }
    req
}

fn auth_service(state: &RestState) -> AuthServiceClient<InProcess> {
    AuthServiceClient::new(state.grpc.clone())
}

fn token_service(state: &RestState) -> TokenServiceClient<InProcess> {
    TokenServiceClient::new(state.grpc.clone())
}

fn seconds(t: Option<&prost_types::Timestamp>) -> Option<i64> {
    t.map(|t| t.seconds)
}

async fn read_form(
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Vec<(String, String)>), Response<Body>> {
    let (parts, body) = req.into_parts();
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = match read_limited(&parts.headers, body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let status = match e {
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::Unreadable(_) => StatusCode::BAD_REQUEST,
            };
            return Err(oauth_error(status, "invalid_request", &e.message()));
        }
    };
    match parse_form(&bytes) {
        Ok(form) => Ok((parts, form)),
        Err(e) => Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e)),
    }
}

/// The RFC 6749 §5.1 answer: an access token, and a refresh token when
/// the grant issues one.
fn token_answer(
    now: i64,
    token: String,
    expires_at: Option<&prost_types::Timestamp>,
    refresh: Option<(String, Option<&prost_types::Timestamp>)>,
) -> Response<Body> {
    let expires_in = |t| seconds(t).map_or(0, |exp| (exp - now).max(0));
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in(expires_at),
    });
    if let Some((refresh, refresh_expires_at)) = refresh
        && !refresh.is_empty()
    {
        body["refresh_token"] = json!(refresh);
        body["refresh_expires_in"] = json!(expires_in(refresh_expires_at));
    }
    let mut res = rest::json_response(StatusCode::OK, &body);
    no_store(res.headers_mut());
    res
}

/// A domain error of the application grants as an RFC 6749 section 5.2
/// answer: the error code is the OAuth name when the domain gave one.
fn grant_error(e: &Error) -> Response<Body> {
    let (status, code) = match (e.kind, e.code) {
        (_, "invalid_client") => (StatusCode::UNAUTHORIZED, "invalid_client"),
        (_, c @ ("invalid_grant" | "unauthorized_client" | "invalid_scope")) => {
            (StatusCode::BAD_REQUEST, c)
        }
        (ErrorKind::InvalidArgument, _) => (StatusCode::BAD_REQUEST, "invalid_request"),
        (ErrorKind::ResourceExhausted, _) => {
            (StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable")
        }
        (ErrorKind::Unauthenticated, _) => (StatusCode::BAD_REQUEST, "invalid_grant"),
        _ => {
            tracing::error!(error = %e, "token endpoint");
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            );
        }
    };
    oauth_error(status, code, &e.message)
}

/// The RFC 6749 section 5.1 answer of an application grant.
fn token_set_answer(t: TokenSet) -> Response<Body> {
    let mut body = json!({
        "access_token": t.access_token.as_str(),
        "token_type": "Bearer",
        "expires_in": t.expires_in.max(0),
        "scope": t.scope,
    });
    if let Some(id) = &t.id_token {
        body["id_token"] = json!(id);
    }
    if let Some(r) = &t.refresh_token {
        body["refresh_token"] = json!(r.as_str());
    }
    let mut res = rest::json_response(StatusCode::OK, &body);
    no_store(res.headers_mut());
    res
}

fn caller_of(extensions: &http::Extensions) -> Caller {
    Caller {
        principal: None,
        peer: extensions.get::<PeerAddr>().map(|p| p.0.to_string()),
    }
}

/// `POST /oauth2/token`.
pub async fn token(state: &RestState, idm: &Idm, req: Request<Incoming>) -> Response<Body> {
    let now = idm.now();
    let (parts, form) = match read_form(req).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let creds = match basic_credentials(&parts.headers) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &e),
        None => param(&form, "client_id").map(|id| {
            (
                id.to_owned(),
                param(&form, "client_secret").unwrap_or_default().to_owned(),
            )
        }),
    };
    let client_auth = creds.as_ref().map(|(id, secret)| ClientAuth {
        client_id: id.clone(),
        secret: (!secret.is_empty()).then(|| Zeroizing::new(secret.clone())),
    });
    // The grants authenticate by their own parameters, never by a header.
    match param(&form, "grant_type") {
        Some("authorization_code") => {
            let Some(auth) = client_auth else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication is required (client_secret_basic, client_secret_post, or client_id for a public client)",
                );
            };
            let (Some(code), Some(redirect_uri)) =
                (param(&form, "code"), param(&form, "redirect_uri"))
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code and redirect_uri are required",
                );
            };
            let caller = caller_of(&parts.extensions);
            let client = match idm.authenticate_client(&auth).await {
                Ok(c) => c,
                Err(e) => return grant_error(&e),
            };
            match idm
                .exchange_code(
                    &caller,
                    &client,
                    code,
                    redirect_uri,
                    param(&form, "code_verifier"),
                )
                .await
            {
                Ok(t) => token_set_answer(t),
                Err(e) => grant_error(&e),
            }
        }
        Some("refresh_token") => {
            let Some(refresh) = param(&form, "refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            // An application's refresh token comes with its client's
            // authentication. A bare client_id that names no application (a
            // public caller of the API's own sign-in) changes nothing.
            let application = match &client_auth {
                Some(a) if a.secret.is_some() || idm.get_client(&a.client_id).await.is_ok() => {
                    match idm.authenticate_client(a).await {
                        Ok(c) => Some(c),
                        Err(e) => return grant_error(&e),
                    }
                }
                _ => None,
            };
            if let Some(client) = application {
                let caller = caller_of(&parts.extensions);
                return match idm
                    .refresh_for_client(&caller, &client, refresh, param(&form, "scope"))
                    .await
                {
                    Ok(t) => token_set_answer(t),
                    Err(e) => grant_error(&e),
                };
            }
            let req = RefreshTokenRequest {
                refresh_token: refresh.to_owned(),
            };
            match auth_service(state)
                .refresh_token(in_process(req, &parts.extensions, None))
                .await
            {
                Ok(answer) => {
                    let a = answer.into_inner();
                    let refresh = (a.refresh_token, a.refresh_expires_at.as_ref());
                    token_answer(now, a.token, a.expires_at.as_ref(), Some(refresh))
                }
                Err(s) if s.code() == Code::Unauthenticated => {
                    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", s.message())
                }
                Err(s) => status_error(&s),
            }
        }
        Some("client_credentials") => {
            let Some((id, secret)) = creds else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication is required",
                );
            };
            let req = ClientCredentialsRequest {
                client_id: id,
                client_secret: secret,
            };
            match auth_service(state)
                .client_credentials(in_process(req, &parts.extensions, None))
                .await
            {
                Ok(answer) => {
                    let a = answer.into_inner();
                    token_answer(now, a.token, a.expires_at.as_ref(), None)
                }
                Err(s) if s.code() == Code::Unauthenticated => oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                ),
                Err(s) => status_error(&s),
            }
        }
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!(
                "grant_type {:?} is not supported; use authorization_code, refresh_token or client_credentials",
                other.chars().take(40).collect::<String>()
            ),
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

fn status_error(s: &tonic::Status) -> Response<Body> {
    match s.code() {
        Code::ResourceExhausted => oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            s.message(),
        ),
        Code::InvalidArgument => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_request", s.message())
        }
        Code::Unauthenticated => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", s.message())
        }
        Code::PermissionDenied => {
            oauth_error(StatusCode::FORBIDDEN, "insufficient_scope", s.message())
        }
        _ => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        ),
    }
}

/// `POST /oauth2/introspect`: the caller authenticates as a client
/// (`client_secret_basic`, `client_secret_post`) or with a Bearer token.
pub async fn introspect(state: &RestState, idm: &Idm, req: Request<Incoming>) -> Response<Body> {
    let (parts, form) = match read_form(req).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let Some(token) = param(&form, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    match client_secret_auth(&parts.headers, &form) {
        Err(res) => return res,
        Ok(Some(auth)) => return for_client(idm, auth, &parts, token, false).await,
        Ok(None) => {}
    }
    let req = IntrospectTokenRequest {
        token: token.to_owned(),
        token_type_hint: param(&form, "token_type_hint")
            .unwrap_or_default()
            .to_owned(),
    };
    let authorization = parts.headers.get(header::AUTHORIZATION);
    match token_service(state)
        .introspect_token(in_process(req, &parts.extensions, authorization))
        .await
        .map(tonic::Response::into_inner)
    {
        Ok(a) if a.active => {
            let mut body = json!({
                "active": true,
                "token_type": a.token_type,
                "sub": a.subject,
                "iss": a.issuer,
                "iat": seconds(a.issued_at.as_ref()),
                "exp": seconds(a.expires_at.as_ref()),
            });
            if a.token_type == "access_token" {
                body["jti"] = json!(a.jti);
                body["typ"] = json!(a.account_type);
                body["scope"] = json!(a.roles.join(" "));
                body["roles"] = json!(a.roles);
            }
            let mut res = rest::json_response(StatusCode::OK, &body);
            no_store(res.headers_mut());
            res
        }
        Ok(_) => {
            let mut res = rest::json_response(StatusCode::OK, &json!({ "active": false }));
            no_store(res.headers_mut());
            res
        }
        Err(s) => status_error(&s),
    }
}

/// `POST /oauth2/revoke`: always 200 for a well-formed request. A client
/// that authenticates revokes only its own tokens.
pub async fn revoke(state: &RestState, idm: &Idm, req: Request<Incoming>) -> Response<Body> {
    let (parts, form) = match read_form(req).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let Some(token) = param(&form, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    match client_secret_auth(&parts.headers, &form) {
        Err(res) => return res,
        Ok(Some(auth)) => return for_client(idm, auth, &parts, token, true).await,
        Ok(None) => {}
    }
    let req = RevokeTokenValueRequest {
        token: token.to_owned(),
        token_type_hint: param(&form, "token_type_hint")
            .unwrap_or_default()
            .to_owned(),
    };
    match token_service(state)
        .revoke_token_value(in_process(req, &parts.extensions, None))
        .await
    {
        Ok(_) => {
            let mut res = Response::new(Body::empty());
            no_store(res.headers_mut());
            res
        }
        Err(s) => status_error(&s),
    }
}

/// A 401 for a Bearer-protected route (RFC 6750 section 3).
fn bearer_error(status: StatusCode, error: &'static str, description: &str) -> Response<Body> {
    let mut res = rest::json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    no_store(res.headers_mut());
    let challenge = format!("Bearer realm=\"mcias\", error=\"{error}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// `GET` or `POST /oauth2/userinfo` with `Authorization: Bearer`.
pub async fn userinfo(idm: &Idm, req: Request<Incoming>) -> Response<Body> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let Some(token) = token else {
        let mut res = bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "an access token is required (Authorization: Bearer)",
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mcias\""),
        );
        return res;
    };
    match idm.userinfo(&token).await {
        Ok(claims) => {
            let mut res = rest::json_response(StatusCode::OK, &serde_json::Value::Object(claims));
            no_store(res.headers_mut());
            res
        }
        Err(e) if e.code == "insufficient_scope" => {
            bearer_error(StatusCode::FORBIDDEN, "insufficient_scope", &e.message)
        }
        Err(e) if e.kind == ErrorKind::Unauthenticated => {
            bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", &e.message)
        }
        Err(e) => {
            tracing::error!(error = %e, "userinfo");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            )
        }
    }
}
