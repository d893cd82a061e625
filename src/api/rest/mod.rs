//! REST/JSON transcoding. A request is matched against the route table
//! derived from the `google.api.http` rules, turned into the RPC's request
//! message (path variables, query parameters, JSON body with the proto3 JSON
//! mapping), and dispatched in-process through the same gate and service as
//! a gRPC call, with the `Authorization` header carried as metadata. The
//! gRPC answer is turned back into JSON, or into an HTTP error derived from
//! the gRPC code. There is no per-endpoint code.

pub mod openapi;
pub mod routes;

use std::convert::Infallible;

use axum::body::Body;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
    SerializeOptions, Value,
};
use tonic::Code;
use tower::ServiceExt;

pub use routes::{BodySpec, Match, Route, RouteTable};

use super::body::{BodyError, read_limited};
use super::gate::Gate;
use super::status::http_status;

/// The in-process gRPC service the transcoder calls: the gate in front of
/// every service, exactly as on the gRPC surface.
pub type InProcess = Gate<tonic::service::Routes>;

/// What the transcoder needs.
#[derive(Debug, Clone)]
pub struct RestState {
    /// The routes.
    pub table: RouteTable,
    /// The gated services.
    pub grpc: InProcess,
    /// Largest accepted request body in bytes.
    pub max_body: usize,
}

/// The JSON error body: `{code, message, details}` (google.rpc.Status shape).
pub fn error_response(code: Code, message: &str) -> Response<Body> {
    error_with_status(http_status(code), code, message)
}

/// An error body with an explicit HTTP status.
pub fn error_with_status(status: StatusCode, code: Code, message: &str) -> Response<Body> {
    let body = serde_json::json!({
        "code": code as i32,
        "message": message,
        "details": [],
    });
    let mut res = json_response(status, &body);
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn bad(message: impl Into<String>) -> Response<Body> {
    error_response(Code::InvalidArgument, &message.into())
}

/// 413: the request body is over the limit.
pub fn too_large(message: &str) -> Response<Body> {
    error_with_status(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::InvalidArgument,
        message,
    )
}

/// proto3 JSON options for output: lowerCamelCase names, int64 as strings,
/// enums as names, every field present.
pub fn serialize_options() -> SerializeOptions {
    SerializeOptions::new().skip_default_fields(false)
}

/// Converts a message to proto3 JSON.
pub fn to_json(msg: &DynamicMessage) -> serde_json::Value {
    msg.serialize_with_options(serde_json::value::Serializer, &serialize_options())
        .unwrap_or(serde_json::Value::Null)
}

/// Checks that no JSON object in `bytes` names a key twice: serde would keep
/// the last value silently, so `{"username":"a","username":"b"}` is refused.
fn reject_duplicate_keys(bytes: &[u8]) -> Result<(), String> {
    use serde::de::{Deserializer as _, MapAccess, SeqAccess, Visitor};
    struct Unique;
    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!(
                        "key {key:?} appears twice in one object"
                    )));
                }
                map.next_value_seed(UniqueSeed)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(UniqueSeed)?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    struct UniqueSeed;
    impl<'de> serde::de::DeserializeSeed<'de> for UniqueSeed {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Unique)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_any(Unique)
        .map_err(|e| format!("invalid JSON body: {e}"))
}

/// Parses proto3 JSON (lowerCamelCase or proto names) into a message,
/// refusing unknown fields and keys given twice.
pub fn from_json(desc: &MessageDescriptor, bytes: &[u8]) -> Result<DynamicMessage, String> {
    reject_duplicate_keys(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let msg = DynamicMessage::deserialize_with_options(
        desc.clone(),
        &mut de,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|e| format!("invalid JSON body: {e}"))?;
    de.end().map_err(|e| format!("invalid JSON body: {e}"))?;
    Ok(msg)
}

pub(crate) fn percent_decode(raw: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid percent-encoding in {raw:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{raw:?} is not UTF-8 after decoding"))
}

fn scalar(field: &FieldDescriptor, raw: &str) -> Result<Value, String> {
    let name = field.name();
    let num_err =
        |_: std::num::ParseIntError| format!("field `{name}`: {raw:?} is not a valid number");
    let float_err =
        |_: std::num::ParseFloatError| format!("field `{name}`: {raw:?} is not a valid number");
    Ok(match field.kind() {
        Kind::String => Value::String(raw.to_owned()),
        Kind::Bool => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("field `{name}`: {raw:?} is not true or false")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(raw.parse().map_err(num_err)?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(raw.parse().map_err(num_err)?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(raw.parse().map_err(num_err)?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(raw.parse().map_err(num_err)?),
        Kind::Float => Value::F32(raw.parse().map_err(float_err)?),
        Kind::Double => Value::F64(raw.parse().map_err(float_err)?),
        Kind::Bytes => {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
                .map_err(|_| format!("field `{name}`: not base64"))?;
            Value::Bytes(Bytes::from(b))
        }
        Kind::Enum(e) => match e.get_value_by_name(raw) {
            Some(v) => Value::EnumNumber(v.number()),
            None => match raw.parse::<i32>() {
                Ok(n) if e.get_value(n).is_some() => Value::EnumNumber(n),
                _ => {
                    let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
                    return Err(format!(
                        "field `{name}`: {raw:?} is not one of {}",
                        names.join(", ")
                    ));
                }
            },
        },
        Kind::Message(m) => {
            // Well-known types such as Timestamp and FieldMask take their JSON
            // string form.
            let v = serde_json::Value::String(raw.to_owned());
            Value::Message(
                DynamicMessage::deserialize(m, v).map_err(|e| format!("field `{name}`: {e}"))?,
            )
        }
    })
}

/// Sets `path` (proto or JSON names) in `msg` from a raw string.
fn set_path(msg: &mut DynamicMessage, path: &[String], raw: &str) -> Result<(), String> {
    let dotted = path.join(".");
    let (last, init) = path.split_last().ok_or("empty field path")?;
    let mut current = msg;
    for step in init {
        let f = routes::find_field(&current.descriptor(), step)
            .ok_or_else(|| format!("unknown field `{dotted}`"))?;
        if !matches!(f.kind(), Kind::Message(_)) || f.is_list() {
            return Err(format!("`{dotted}` does not name a scalar field"));
        }
        current = match current.get_field_mut(&f) {
            Value::Message(m) => m,
            _ => return Err(format!("`{dotted}` does not name a scalar field")),
        };
    }
    let f = routes::find_field(&current.descriptor(), last)
        .ok_or_else(|| format!("unknown field `{dotted}`"))?;
    if f.is_map() {
        return Err(format!("`{dotted}` is a map and cannot be set here"));
    }
    if matches!(f.kind(), Kind::Message(_)) && f.is_list() {
        return Err(format!(
            "`{dotted}` is a list of messages and cannot be set here"
        ));
    }
    let v = scalar(&f, raw)?;
    if f.is_list() {
        match current.get_field_mut(&f) {
            Value::List(items) => items.push(v),
            _ => return Err(format!("`{dotted}` is not a list")),
        }
    } else {
        current.set_field(&f, v);
    }
    Ok(())
}

fn is_bound(route: &Route, name: &str) -> bool {
    route.template.bound_fields().iter().any(|b| {
        b.len() == 1
            && routes::find_field(&route.rpc.input(), &b[0])
                .zip(routes::find_field(&route.rpc.input(), name))
                .is_some_and(|(x, y)| x.number() == y.number())
    })
}

/// Content types whose body is read as JSON: JSON itself, and curl's
/// default for `-d` (`application/x-www-form-urlencoded`), so that
/// `curl -d '{...}'` works without a header.
fn json_compatible(content_type: &str) -> bool {
    let ct = content_type.trim().to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
        || essence == "application/x-www-form-urlencoded"
}

/// Builds the request message from path variables, query and body.
fn build_request(
    route: &Route,
    vars: &[(&[String], &str)],
    query: Option<&str>,
    body: &Bytes,
    content_type: Option<&str>,
) -> Result<DynamicMessage, String> {
    let input = route.rpc.input();
    let mut msg = DynamicMessage::new(input.clone());
    match &route.body {
        BodySpec::None => {
            if !body.is_empty() {
                return Err(format!(
                    "{} {} takes no request body",
                    route.method, route.template.raw
                ));
            }
        }
        BodySpec::All | BodySpec::Field(_) if body.is_empty() => {}
        spec => {
            if let Some(ct) = content_type
                && !json_compatible(ct)
            {
                return Err(format!("request body must be application/json, not {ct:?}"));
            }
            match spec {
                BodySpec::Field(name) => {
                    let f = input.get_field_by_name(name).ok_or("body field missing")?;
                    let Kind::Message(m) = f.kind() else {
                        return Err("body field is not a message".into());
                    };
                    msg.set_field(&f, Value::Message(from_json(&m, body)?));
                }
                _ => msg = from_json(&input, body)?,
            }
        }
    }
    for (field, raw) in vars {
        let value = percent_decode(raw, false)?;
        set_path(&mut msg, field, &value)?;
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        if route.body == BodySpec::All {
            return Err(format!(
                "{} {} takes its fields in the JSON body, not as query parameters",
                route.method, route.template.raw
            ));
        }
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(k, true)?;
            let value = percent_decode(v, true)?;
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            if path.len() == 1 && is_bound(route, &key) {
                return Err(format!(
                    "query parameter `{key}` is already bound by the path"
                ));
            }
            if routes::resolve_path(&input, &path).is_none() {
                return Err(format!("unknown query parameter `{key}`"));
            }
            set_path(&mut msg, &path, &value)
                .map_err(|e| format!("query parameter `{key}`: {e}"))?;
        }
    }
    Ok(msg)
}

/// Finds the route for `method` and `path` and builds its request message
/// from the path, the query and the body exactly as a REST call does before
/// the in-process call (the `rest_binding` fuzz target drives this). The
/// error is the message a 400 (or 404/405/415) would carry.
pub fn bind<'t>(
    table: &'t RouteTable,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
    content_type: Option<&str>,
) -> Result<(&'t Route, DynamicMessage), String> {
    match table.find(method, path) {
        Match::Found(route, vars) => {
            build_request(route, &vars, query, body, content_type).map(|m| (route, m))
        }
        Match::MethodNotAllowed(_) => Err(format!("method {method} is not allowed on {path}")),
        Match::NotFound => Err(format!("no route for {method} {path}")),
    }
}

fn grpc_frame(msg: &DynamicMessage) -> Bytes {
    let len = msg.encoded_len();
    let mut buf = BytesMut::with_capacity(5 + len);
    buf.put_u8(0);
    buf.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    msg.encode_raw(&mut buf);
    buf.freeze()
}

/// Calls an RPC in-process through the gate and returns the decoded response
/// message, or the gRPC status.
pub async fn call(
    state: &RestState,
    route: &Route,
    msg: &DynamicMessage,
    headers: &http::HeaderMap,
    extensions: http::Extensions,
) -> Result<DynamicMessage, tonic::Status> {
    call_rpc(state, &route.rpc, msg, headers, extensions).await
}

/// Calls any RPC in-process through the gate (see [`call`]).
pub async fn call_rpc(
    state: &RestState,
    rpc: &prost_reflect::MethodDescriptor,
    msg: &DynamicMessage,
    headers: &http::HeaderMap,
    extensions: http::Extensions,
) -> Result<DynamicMessage, tonic::Status> {
    let path = format!("/{}/{}", rpc.parent_service().full_name(), rpc.name());
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path.as_str())
        .header(header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(
            grpc_frame(msg),
        )))
        .map_err(|e| tonic::Status::internal(format!("building the call: {e}")))?;
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        req.headers_mut()
            .insert(header::AUTHORIZATION, auth.clone());
    }
    *req.extensions_mut() = extensions;
    let res = match state.grpc.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if let Some(status) = tonic::Status::from_header_map(res.headers())
        && status.code() != Code::Ok
    {
        return Err(status);
    }
    let collected = res
        .into_body()
        .collect()
        .await
        .map_err(|e| tonic::Status::internal(format!("reading the answer: {e}")))?;
    if let Some(status) = collected
        .trailers()
        .and_then(tonic::Status::from_header_map)
        && status.code() != Code::Ok
    {
        return Err(status);
    }
    let mut data = collected.to_bytes();
    if data.len() < 5 {
        return Err(tonic::Status::internal("empty answer"));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if compressed != 0 || data.len() != len {
        return Err(tonic::Status::internal("malformed answer frame"));
    }
    DynamicMessage::decode(rpc.output(), data)
        .map_err(|e| tonic::Status::internal(format!("decoding the answer: {e}")))
}

/// Handles one REST request. API answers (tokens, accounts, secrets shown
/// once) are never stored by caches: `Cache-Control: no-store`.
pub async fn handle<B>(state: &RestState, req: Request<B>) -> Result<Response<Body>, Infallible>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Ok(mut res) = handle_uncached(state, req).await;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn handle_uncached<B>(
    state: &RestState,
    req: Request<B>,
) -> Result<Response<Body>, Infallible>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let route = match state.table.find(&parts.method, &path) {
        Match::Found(r, vars) => {
            let vars: Vec<(Vec<String>, String)> = vars
                .into_iter()
                .map(|(f, v)| (f.to_vec(), v.to_owned()))
                .collect();
            (r, vars)
        }
        Match::MethodNotAllowed(allowed) => {
            let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            let mut res = error_with_status(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unimplemented,
                &format!(
                    "method {} is not allowed on {path}; allowed: {}",
                    parts.method,
                    list.join(", ")
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                res.headers_mut().insert(header::ALLOW, v);
            }
            return Ok(res);
        }
        Match::NotFound => {
            return Ok(error_response(
                Code::NotFound,
                &format!("no route for {} {path}", parts.method),
            ));
        }
    };
    let (route, vars) = route;
    let bytes = match read_limited(&parts.headers, body, state.max_body).await {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge(_)) => return Ok(too_large(&e.message())),
        Err(e) => return Ok(bad(e.message())),
    };
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let var_refs: Vec<(&[String], &str)> = vars
        .iter()
        .map(|(f, v)| (f.as_slice(), v.as_str()))
        .collect();
    let msg = match build_request(route, &var_refs, parts.uri.query(), &bytes, ct) {
        Ok(m) => m,
        Err(e) => {
            if e.starts_with("request body must be application/json") {
                return Ok(error_with_status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Code::InvalidArgument,
                    &e,
                ));
            }
            return Ok(bad(e));
        }
    };
    Ok(
        match call(state, route, &msg, &parts.headers, parts.extensions).await {
            Ok(answer) => json_response(StatusCode::OK, &to_json(&answer)),
            Err(status) => error_response(status.code(), status.message()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_json_keys_are_refused() {
        assert!(reject_duplicate_keys(br#"{"a":1,"b":[{"c":2},{"c":3}]}"#).is_ok());
        let e = reject_duplicate_keys(br#"{"username":"a","username":"b"}"#).unwrap_err();
        assert!(e.contains("\"username\" appears twice"), "{e}");
        assert!(reject_duplicate_keys(br#"{"a":{"x":1,"x":2}}"#).is_err());
        assert!(reject_duplicate_keys(br#"[{"x":1},{"y":[{"z":0,"z":0}]}]"#).is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c", true).ok(), Some("a b c".into()));
        assert_eq!(percent_decode("a+b", false).ok(), Some("a+b".into()));
        assert!(percent_decode("%zz", false).is_err());
        assert!(percent_decode("%ff", false).is_err());
    }
}
