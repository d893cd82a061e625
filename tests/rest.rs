//! The REST/JSON surface against the real server: every annotated RPC gives
//! the same data over REST as over gRPC (driven by the route table), binding
//! and error edge cases, the well-known endpoints, metrics and OpenAPI.

use mcias_testkit as common;

use std::collections::HashMap;

use bytes::{Buf, BufMut};
use common::{TestServer, authed};
use mcias_proto::{self as pb, AccountType};
use mcias_server::api::rest::{self, BodySpec, RouteTable};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

const PW: &str = "correct horse battery";

// --- A gRPC codec for dynamic messages, so one loop can call any RPC. ---

#[derive(Clone)]
struct DynCodec(MessageDescriptor);
struct DynEncoder;
struct DynDecoder(MessageDescriptor);

impl Encoder for DynEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: DynamicMessage,
        dst: &mut EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        item.encode(dst)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Decoder for DynDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        DynamicMessage::decode(self.0.clone(), bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Codec for DynCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynEncoder;
    type Decoder = DynDecoder;
    fn encoder(&mut self) -> DynEncoder {
        DynEncoder
    }
    fn decoder(&mut self) -> DynDecoder {
        DynDecoder(self.0.clone())
    }
}

async fn grpc_call(
    s: &TestServer,
    route: &rest::Route,
    msg: DynamicMessage,
    token: Option<&str>,
) -> Result<DynamicMessage, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(s.channel().await);
    grpc.ready().await.unwrap();
    let req = match token {
        Some(t) => authed(msg, t),
        None => tonic::Request::new(msg),
    };
    let path = http::uri::PathAndQuery::try_from(route.grpc_path.clone()).unwrap();
    grpc.unary(req, path, DynCodec(route.rpc.output()))
        .await
        .map(|r| r.into_inner())
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Calls the route over REST with the same request message; returns the
/// decoded message or (gRPC code from the body, HTTP status).
async fn rest_call(
    s: &TestServer,
    route: &rest::Route,
    msg: &DynamicMessage,
    token: Option<&str>,
) -> Result<DynamicMessage, (i64, StatusCode)> {
    let mut body = rest::to_json(msg);
    let obj = body.as_object_mut().unwrap();
    let mut path = String::new();
    for seg in &route.template.segments {
        path.push('/');
        match seg {
            rest::routes::Segment::Literal(l) => path.push_str(l),
            rest::routes::Segment::Var { field, .. } => {
                let desc = rest::routes::resolve_path(&route.rpc.input(), field).unwrap();
                let v = obj.remove(desc.json_name()).unwrap();
                path.push_str(&encode_segment(&scalar_text(&v)));
            }
        }
    }
    let url = format!("{}{}", s.base_url(), path);
    let mut req = s.http().request(route.method.clone(), &url);
    if let BodySpec::Field(name) = &route.body {
        let desc = route.rpc.input().get_field_by_name(name).unwrap();
        let part = obj.remove(desc.json_name()).unwrap_or(json!({}));
        req = req.json(&part);
    }
    match route.body {
        BodySpec::All => req = req.json(&body),
        _ => {
            let mut q: Vec<(String, String)> = Vec::new();
            for (k, v) in body.as_object().unwrap() {
                match v {
                    Value::Array(items) => {
                        q.extend(items.iter().map(|i| (k.clone(), scalar_text(i))))
                    }
                    Value::String(x) if x.is_empty() => {}
                    Value::Number(n) if n.as_i64() == Some(0) => {}
                    Value::Bool(false) | Value::Null => {}
                    other => q.push((k.clone(), scalar_text(other))),
                }
            }
            req = req.query(&q);
        }
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    assert!(res.headers().contains_key("x-request-id"));
    let json: Value = res.json().await.unwrap();
    if status != StatusCode::OK {
        assert_eq!(json["details"], json!([]), "{json}");
        assert!(json["message"].is_string());
        return Err((json["code"].as_i64().unwrap(), status));
    }
    Ok(rest::from_json(&route.rpc.output(), json.to_string().as_bytes()).unwrap())
}

fn normalize(mut v: Value, volatile: &[&str]) -> Value {
    fn walk(v: &mut Value, volatile: &[&str]) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if volatile.contains(&k.as_str()) {
                        *x = json!("<volatile>");
                    } else {
                        walk(x, volatile);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, volatile)),
            _ => {}
        }
    }
    walk(&mut v, volatile);
    v
}

/// Per-RPC request fixtures: (request JSON, who calls, fields whose values
/// legitimately differ between two calls). Placeholders in `{}` are filled
/// per call (index 0 for gRPC, 1 for REST).
fn fixtures() -> HashMap<&'static str, (Value, &'static str, Vec<&'static str>)> {
    let pw = PW;
    HashMap::from([
        (
            "Login",
            (
                json!({"username": "alice", "password": pw}),
                "none",
                vec!["token", "refreshToken"],
            ),
        ),
        ("Logout", (json!({}), "fresh", vec![])),
        ("RenewToken", (json!({}), "fresh", vec!["token"])),
        (
            "EnrollTotp",
            (json!({}), "alice", vec!["secret", "otpauthUri"]),
        ),
        ("ConfirmTotp", (json!({"code": "000000"}), "bob", vec![])),
        (
            "RemoveTotp",
            (json!({"accountId": "{bob}"}), "admin", vec![]),
        ),
        (
            "ChangePassword",
            (
                json!({"currentPassword": "not the password", "newPassword": "another long password"}),
                "alice",
                vec![],
            ),
        ),
        (
            "ValidateToken",
            (json!({"token": "{admin_token}"}), "none", vec![]),
        ),
        (
            "IssueServiceToken",
            (json!({"accountId": "{svc}"}), "admin", vec!["token"]),
        ),
        (
            "RevokeToken",
            (
                json!({"jti": "{revocable}", "reason": "test"}),
                "admin",
                vec![],
            ),
        ),
        ("ListPublicKeys", (json!({}), "none", vec![])),
        ("ListSigningKeys", (json!({}), "admin", vec![])),
        (
            "ResetPassword",
            (
                json!({"accountId": "{bob}"}),
                "admin",
                vec!["temporaryPassword"],
            ),
        ),
        (
            "ListSessions",
            (json!({"accountId": "{alice}"}), "admin", vec![]),
        ),
        (
            "CreateAccount",
            (
                json!({"username": "{unique}", "accountType": "ACCOUNT_TYPE_HUMAN", "password": pw}),
                "admin",
                vec!["id", "username"],
            ),
        ),
        ("ListAccounts", (json!({"pageSize": 2}), "admin", vec![])),
        ("GetAccount", (json!({"id": "{alice}"}), "admin", vec![])),
        (
            "UpdateAccount",
            (
                json!({"id": "{bob}", "status": "ACCOUNT_STATUS_ACTIVE", "updateMask": "status"}),
                "admin",
                vec![],
            ),
        ),
        (
            "UpdateProfile",
            (
                json!({"accountId": "{alice}", "email": "Alice@Example.ORG", "displayName": "Alice A.",
                       "updateMask": "email,displayName"}),
                "alice",
                vec!["updatedAt"],
            ),
        ),
        (
            "DeleteAccount",
            (json!({"id": "{victim}"}), "admin", vec![]),
        ),
        (
            "GetRoles",
            (json!({"accountId": "{alice}"}), "admin", vec![]),
        ),
        (
            "SetRoles",
            (
                json!({"accountId": "{alice}", "roles": ["reader", "db:orders"]}),
                "admin",
                vec![],
            ),
        ),
        (
            "GetPgCreds",
            (json!({"accountId": "{alice}"}), "admin", vec![]),
        ),
        (
            "RefreshToken",
            (
                json!({"refreshToken": "{refresh}"}),
                "none",
                vec!["token", "refreshToken"],
            ),
        ),
        (
            "ClientCredentials",
            (
                json!({"clientId": "svc", "clientSecret": "{svc_secret}"}),
                "none",
                vec!["token"],
            ),
        ),
        (
            "SignOutEverywhere",
            (json!({"accountId": "{victim}"}), "admin", vec![]),
        ),
        (
            "IntrospectToken",
            (json!({"token": "{admin_token}"}), "admin", vec![]),
        ),
        (
            "RevokeTokenValue",
            (json!({"token": "{revocable_value}"}), "none", vec![]),
        ),
        (
            "RotateSigningKey",
            (json!({}), "admin", vec!["kid", "rs256Kid"]),
        ),
        ("RotateRefreshKey", (json!({}), "admin", vec!["keyId"])),
        (
            "RevokeSigningKey",
            (json!({"kid": "{revocable_kid}"}), "admin", vec!["kid"]),
        ),
        (
            "RotateClientSecret",
            (json!({"accountId": "{svc}"}), "admin", vec!["clientSecret"]),
        ),
        (
            "SetPgCreds",
            (
                json!({"accountId": "{alice}", "host": "db", "port": 5432, "database": "d", "username": "u", "password": "p-secret"}),
                "admin",
                vec![],
            ),
        ),
        ("Health", (json!({}), "none", vec![])),
        (
            "CreateClient",
            (
                json!({"client": {"clientId": "{unique}", "name": "App", "clientType": "CLIENT_TYPE_CONFIDENTIAL",
                       "redirectUris": ["https://app.example/cb"], "grantTypes": ["GRANT_TYPE_AUTHORIZATION_CODE"]}}),
                "admin",
                vec!["clientId", "clientSecret"],
            ),
        ),
        ("ListClients", (json!({"pageSize": 2}), "admin", vec![])),
        (
            "GetClient",
            (json!({"clientId": "webapp"}), "admin", vec![]),
        ),
        (
            "UpdateClient",
            (
                json!({"clientId": "webapp", "client": {"name": "Renamed"}, "updateMask": "name"}),
                "admin",
                vec!["updatedAt"],
            ),
        ),
        (
            "DeleteClient",
            (json!({"clientId": "{victim_client}"}), "admin", vec![]),
        ),
        (
            "RotateSecret",
            (json!({"clientId": "webapp"}), "admin", vec!["clientSecret"]),
        ),
        (
            "ListAuditEvents",
            (
                json!({"eventType": "account_create", "pageSize": 3}),
                "admin",
                vec![],
            ),
        ),
    ])
}

fn fill(v: &Value, vars: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) if s.starts_with('{') && s.ends_with('}') => {
            json!(
                vars.get(&s[1..s.len() - 1])
                    .unwrap_or_else(|| panic!("no value for {s}"))
            )
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), fill(x, vars))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, vars)).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn every_rpc_answers_the_same_over_rest_and_grpc() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let alice = s.create(&admin, "alice", AccountType::Human, PW).await;
    let bob = s.create(&admin, "bob", AccountType::Human, PW).await;
    let svc = s.create(&admin, "svc", AccountType::System, "").await;
    let victims = [
        s.create(&admin, "victim0", AccountType::Human, PW).await,
        s.create(&admin, "victim1", AccountType::Human, PW).await,
    ];
    let mut revocable = Vec::new();
    for _ in 0..2 {
        let t = s
            .tokens()
            .await
            .issue_service_token(authed(
                pb::IssueServiceTokenRequest {
                    account_id: svc.clone(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .token;
        let v = s
            .tokens()
            .await
            .validate_token(pb::ValidateTokenRequest { token: t })
            .await
            .unwrap()
            .into_inner();
        revocable.push(v.claims.unwrap().jti);
    }
    s.accounts()
        .await
        .set_pg_creds(authed(
            pb::SetPgCredsRequest {
                account_id: alice.clone(),
                host: "db".into(),
                port: 5432,
                database: "d".into(),
                username: "u".into(),
                password: "p-secret".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let alice_token = s.login("alice", PW).await;
    let mut refresh = Vec::new();
    let mut revocable_value = Vec::new();
    for _ in 0..2 {
        let r = s
            .auth()
            .await
            .login(pb::LoginRequest {
                username: "bob".into(),
                password: PW.into(),
                totp_code: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        refresh.push(r.refresh_token);
        revocable_value.push(s.login("bob", PW).await);
    }
    let svc_secret = s
        .accounts()
        .await
        .rotate_client_secret(authed(
            pb::RotateClientSecretRequest {
                account_id: svc.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    let bob_token = s.login("bob", PW).await;
    for id in ["webapp", "victim-client0", "victim-client1"] {
        s.clients()
            .await
            .create_client(authed(
                pb::CreateClientRequest {
                    client: Some(pb::OAuthClient {
                        client_id: id.into(),
                        name: "Web".into(),
                        client_type: pb::ClientType::Confidential as i32,
                        redirect_uris: vec!["https://web.example/cb".into()],
                        grant_types: vec![pb::GrantType::AuthorizationCode as i32],
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    // Two superseded keys to revoke; every token above is signed by the first.
    let mut revocable_kid = Vec::new();
    for _ in 0..3 {
        revocable_kid.push(s.rotate_signing_key(&admin).await);
    }
    revocable_kid.pop();

    let table = RouteTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET).unwrap();
    let fixtures = fixtures();
    assert_eq!(
        table.routes.len(),
        fixtures.len(),
        "every route needs a fixture"
    );
    let mut checked = 0;
    let mut failed = Vec::new();
    for route in &table.routes {
        let (template, who, volatile) = fixtures
            .get(route.rpc.name())
            .unwrap_or_else(|| panic!("no fixture for {}", route.rpc.name()));
        let mut answers = Vec::new();
        for i in 0..2usize {
            let vars: HashMap<String, String> = HashMap::from([
                ("alice".into(), alice.clone()),
                ("bob".into(), bob.clone()),
                ("svc".into(), svc.clone()),
                ("victim".into(), victims[i].clone()),
                ("revocable".into(), revocable[i].clone()),
                ("unique".into(), format!("newuser{i}")),
                ("admin_token".into(), admin.clone()),
                ("refresh".into(), refresh[i].clone()),
                ("revocable_value".into(), revocable_value[i].clone()),
                ("svc_secret".into(), svc_secret.clone()),
                ("victim_client".into(), format!("victim-client{i}")),
                ("revocable_kid".into(), revocable_kid[i].clone()),
            ]);
            let req = fill(template, &vars);
            let msg = rest::from_json(&route.rpc.input(), req.to_string().as_bytes()).unwrap();
            let token = match *who {
                "none" => None,
                "admin" => Some(admin.clone()),
                "alice" => Some(alice_token.clone()),
                "bob" => Some(bob_token.clone()),
                "fresh" => Some(s.login("bob", PW).await),
                other => panic!("unknown caller {other}"),
            };
            let answer = if i == 0 {
                grpc_call(&s, route, msg, token.as_deref())
                    .await
                    .map(|m| normalize(rest::to_json(&m), volatile))
                    .map_err(|st| {
                        (
                            st.code() as i64,
                            mcias_server::api::status::http_status(st.code()),
                        )
                    })
            } else {
                rest_call(&s, route, &msg, token.as_deref())
                    .await
                    .map(|m| normalize(rest::to_json(&m), volatile))
            };
            answers.push(answer);
        }
        assert_eq!(
            answers[0], answers[1],
            "{} {} differs from gRPC {}",
            route.method, route.template.raw, route.grpc_path
        );
        if answers[0].is_err() {
            failed.push(route.rpc.name().to_owned());
        }
        checked += 1;
    }
    assert_eq!(checked, fixtures.len());
    // The fixtures expect exactly these to fail (the same way on both
    // surfaces); every other RPC succeeded on both.
    failed.sort();
    assert_eq!(failed, vec!["ChangePassword", "ConfirmTotp", "RemoveTotp"]);
}

async fn error_of(res: reqwest::Response) -> (StatusCode, i64, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["code"].as_i64().unwrap(),
        body["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn binding_edge_cases_and_errors() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let http = s.http();
    let base = s.base_url();
    let id = s.create(&admin, "alice", AccountType::Human, PW).await;

    // Path variables are percent-decoded.
    let encoded: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
    let res = http
        .get(format!("{base}/v1/accounts/{encoded}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let acct: Value = res.json().await.unwrap();
    assert_eq!(acct["account"]["id"], json!(id));
    assert_eq!(acct["account"]["accountType"], json!("ACCOUNT_TYPE_HUMAN"));
    assert!(
        acct["account"]["createdAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // Query parameters: camelCase and snake_case, and an unknown one.
    for q in ["pageSize=1", "page_size=1"] {
        let res = http
            .get(format!("{base}/v1/accounts?{q}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["accounts"].as_array().unwrap().len(), 1, "{q}");
        assert!(!body["nextPageToken"].as_str().unwrap().is_empty());
    }
    let (st, code, msg) = error_of(
        http.get(format!("{base}/v1/accounts?colour=red"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code), (StatusCode::BAD_REQUEST, 3));
    assert!(msg.contains("colour"), "{msg}");
    let (st, _, msg) = error_of(
        http.get(format!("{base}/v1/accounts?pageSize=many"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("page_size") && msg.contains("many"), "{msg}");
    // A timestamp in the query takes its JSON string form.
    let res = http
        .get(format!(
            "{base}/v1/audit/events?since=2000-01-01T00:00:00Z&eventType=account_create"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (st, _, msg) = error_of(
        http.get(format!("{base}/v1/audit/events?since=yesterday"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("since"), "{msg}");

    // Bodies: snake_case accepted, unknown fields, wrong types, malformed,
    // query on a body:"*" route, a body where none is taken, oversized.
    let login = |body: String| {
        http.post(format!("{base}/v1/auth/login"))
            .header("content-type", "application/json")
            .body(body)
    };
    let res = login(format!(
        r#"{{"username":"alice","password":"{PW}","totp_code":""}}"#
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().starts_with("eyJ"));
    assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
    for (body, needle) in [
        (r#"{"username":"alice","colour":"red"}"#, "colour"),
        (
            r#"{"username":"alice","username":"admin"}"#,
            "appears twice",
        ),
        (r#"{"username":5}"#, "string"),
        (r#"{"username":"alice""#, "EOF"),
        ("[]", "invalid"),
    ] {
        let (st, code, msg) = error_of(login(body.into()).send().await.unwrap()).await;
        assert_eq!((st, code), (StatusCode::BAD_REQUEST, 3), "{body}");
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let (st, _, msg) = error_of(
        http.post(format!("{base}/v1/auth/login?username=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("query"), "{msg}");
    let (st, _, msg) = error_of(
        http.get(format!("{base}/v1/health"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("no request body"), "{msg}");
    let big = format!(r#"{{"username":"{}"}}"#, "x".repeat(100 * 1024));
    let (st, _, msg) = error_of(login(big).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(msg.contains("larger than"), "{msg}");
    let res = http
        .post(format!("{base}/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Routing.
    let (st, code, _) =
        error_of(http.get(format!("{base}/v2/nothing")).send().await.unwrap()).await;
    assert_eq!((st, code), (StatusCode::NOT_FOUND, 5));
    let res = http.post(format!("{base}/v1/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET");

    // Error mapping, status by status.
    let bob = s.create(&admin, "bob", AccountType::Human, PW).await;
    let bob_token = s.login("bob", PW).await;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, i64)> = vec![
        (http.get(format!("{base}/v1/accounts")), StatusCode::UNAUTHORIZED, 16),
        (http.get(format!("{base}/v1/accounts")).bearer_auth(&bob_token), StatusCode::FORBIDDEN, 7),
        (http.get(format!("{base}/v1/accounts/nope")).bearer_auth(&admin), StatusCode::NOT_FOUND, 5),
        (
            http.post(format!("{base}/v1/accounts")).bearer_auth(&admin).json(&json!({"username": "bob", "accountType": "ACCOUNT_TYPE_HUMAN", "password": PW})),
            StatusCode::CONFLICT,
            6,
        ),
        (
            http.post(format!("{base}/v1/accounts/{bob}/service-token")).bearer_auth(&admin).json(&json!({})),
            StatusCode::BAD_REQUEST,
            9,
        ),
        (
            http.post(format!("{base}/v1/accounts")).bearer_auth(&admin).json(&json!({"username": "x y", "accountType": "ACCOUNT_TYPE_HUMAN"})),
            StatusCode::BAD_REQUEST,
            3,
        ),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.unwrap();
        let unauthorized = res.status() == StatusCode::UNAUTHORIZED;
        let has_challenge = res.headers().contains_key("www-authenticate");
        let (st, c, _) = error_of(res).await;
        assert_eq!((st, c), (status, code));
        assert_eq!(unauthorized, has_challenge);
    }
}

#[tokio::test]
async fn rate_limit_is_429_over_rest() {
    let s = TestServer::start_with(common::Options {
        rps: 1,
        burst: 2,
        ..Default::default()
    })
    .await;
    let http = s.http();
    let mut limited = 0;
    for _ in 0..6 {
        let res = http
            .get(format!("{}/healthz", s.base_url()))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            let (_, code, _) = error_of(res).await;
            assert_eq!(code, 8);
            limited += 1;
        }
    }
    assert!(limited >= 3, "only {limited} of 6 were limited");
}

#[tokio::test]
async fn jwks_etag_and_discovery() {
    let s = TestServer::start().await;
    let http = s.http();
    let base = s.base_url();
    let res = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let jwks: Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "an Ed25519 and an RSA key: {keys:?}");
    let ed = keys.iter().find(|k| k["kty"] == "OKP").unwrap();
    assert_eq!(ed["crv"], "Ed25519");
    assert_eq!(ed["alg"], "EdDSA");
    assert_eq!(ed["use"], "sig");
    let rsa = keys.iter().find(|k| k["kty"] == "RSA").unwrap();
    assert_eq!(rsa["alg"], "RS256");
    assert_eq!(rsa["use"], "sig");
    assert_eq!(rsa["e"], "AQAB");
    assert_eq!(
        mcias_core::crypto::b64url_decode(rsa["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    assert!(rsa.get("x").is_none() && ed.get("n").is_none());
    // The kid in the JWKS is the kid tokens carry, and is the thumbprint.
    let token = s.admin_token().await;
    assert_eq!(
        Some(ed["kid"].as_str().unwrap().to_owned()),
        mcias_core::crypto::jwt::peek_kid(&token)
    );
    let n = mcias_core::crypto::b64url_decode(rsa["n"].as_str().unwrap()).unwrap();
    let public = mcias_core::crypto::rsa::RsaPublicKey::from_components(&n, &[1, 0, 1]).unwrap();
    assert_eq!(rsa["kid"], public.thumbprint().as_str());

    let res = http
        .get(format!("{base}/.well-known/jwks.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    let res = http
        .get(format!("{base}/.well-known/jwks.json"))
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let d = common::get_json(&http, &format!("{base}/.well-known/openid-configuration")).await;
    assert_eq!(d["issuer"], "https://mcias.test");
    assert_eq!(d["jwks_uri"], "https://mcias.test/.well-known/jwks.json");
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );

    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let ready: Value = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn metrics_are_admin_only_and_count() {
    let s = TestServer::start().await;
    let http = s.http();
    let base = s.base_url();
    let admin = s.admin_token().await;
    let _ = s.try_login("admin", "wrong password value", "").await;
    s.create(&admin, "carol", AccountType::Human, PW).await;
    let carol = s.login("carol", PW).await;
    assert_eq!(
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.get(format!("{base}/metrics"))
            .bearer_auth(&carol)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = http
        .get(format!("{base}/metrics"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"mcias_requests_total{method="/mcias.v1.AuthService/Login",code="0"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mcias_requests_total{method="/mcias.v1.AuthService/Login",code="16"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mcias_logins_total{outcome="success"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mcias_logins_total{outcome="failure"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("mcias_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("mcias_password_hash_queue_depth 0"), "{text}");
    assert!(text.contains("mcias_rate_limited_total 0"), "{text}");
}

#[tokio::test]
async fn request_ids_and_trace_context_are_echoed() {
    let s = TestServer::start().await;
    let http = s.http();
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let res = http
        .get(format!("{}/v1/health", s.base_url()))
        .header("x-request-id", "req-42")
        .header("traceparent", tp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-42");
    assert_eq!(res.headers()["traceparent"], tp);
    let res = http
        .get(format!("{}/v1/health", s.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"].len(), 36);
    assert!(
        res.headers()["traceparent"]
            .to_str()
            .unwrap()
            .starts_with("00-")
    );
    // gRPC answers carry them too.
    let mut req = tonic::Request::new(pb::HealthRequest {});
    req.metadata_mut()
        .insert("x-request-id", "grpc-7".parse().unwrap());
    let res = s.admin().await.health(req).await.unwrap();
    assert_eq!(res.metadata().get("x-request-id").unwrap(), "grpc-7");
}

#[tokio::test]
async fn grpc_web_over_http1() {
    // A gRPC-Web call as browsers make it: HTTP/1.1, framed body, trailers
    // in the body.
    let s = TestServer::start().await;
    let ca = reqwest::Certificate::from_pem(s.ca_pem.as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .http1_only()
        .build()
        .unwrap();
    let msg = pb::ValidateTokenRequest {
        token: "nope".into(),
    }
    .encode_to_vec();
    let mut body = bytes::BytesMut::new();
    body.put_u8(0);
    body.put_u32(msg.len() as u32);
    body.put_slice(&msg);
    let res = http
        .post(format!(
            "{}/mcias.v1.TokenService/ValidateToken",
            s.base_url()
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body.freeze())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/grpc-web")
    );
    let mut data = res.bytes().await.unwrap();
    assert_eq!(data.get_u8(), 0, "a data frame first");
    let len = data.get_u32() as usize;
    let reply = pb::ValidateTokenResponse::decode(&data[..len]).unwrap();
    assert!(!reply.valid);
    data.advance(len);
    assert_eq!(data.get_u8(), 0x80, "then the trailers frame");
    let tlen = data.get_u32() as usize;
    let trailers = String::from_utf8(data[..tlen].to_vec()).unwrap();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

#[test]
fn committed_openapi_document_is_current() {
    let generated = mcias_server::api::server::openapi_json().unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/gen/openapi/mcias.openapi.json"
    );
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "gen/openapi/mcias.openapi.json is stale: run `make gen` and commit it"
    );
    let doc: Value = serde_json::from_str(&generated).unwrap();
    let table = RouteTable::from_descriptor_set(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut ops = 0;
    for route in &table.routes {
        let op = &doc["paths"][route.template.openapi_path()]
            [route.method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the document",
            route.method,
            route.template.raw
        );
        ops += 1;
    }
    assert_eq!(ops, table.routes.len());
}

#[tokio::test]
async fn cors_for_allowed_browser_origins_only() {
    let s = TestServer::start_with(common::Options {
        cors: r#"["https://app.example.com"]"#,
        ..Default::default()
    })
    .await;
    let http = s.http();
    let url = format!("{}/mcias.v1.TokenService/ValidateToken", s.base_url());
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-grpc-web, authorization",
            )
    };
    let res = preflight("https://app.example.com").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    for needed in ["content-type", "x-grpc-web", "authorization"] {
        assert!(
            h["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains(needed)
        );
    }
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );

    let res = preflight("https://evil.example.com").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    // The actual call from the allowed origin exposes the gRPC status.
    let msg = pb::ValidateTokenRequest { token: "x".into() }.encode_to_vec();
    let mut body = bytes::BytesMut::new();
    body.put_u8(0);
    body.put_u32(msg.len() as u32);
    body.put_slice(&msg);
    let res = http
        .post(&url)
        .header("origin", "https://app.example.com")
        .header("content-type", "application/grpc-web+proto")
        .body(body.freeze())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        res.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("grpc-status")
    );
    // Other origins, and servers without the setting, add nothing.
    let res = http
        .get(format!("{}/v1/health", s.base_url()))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let plain = TestServer::start().await;
    let res = plain
        .http()
        .get(format!("{}/v1/health", plain.base_url()))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}
