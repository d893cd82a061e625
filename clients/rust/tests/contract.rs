//! The Rust client against a real `mciassrv dev` started by
//! `clients/testdata/with-server.sh`; runs `clients/testdata/contract.json`.

use std::collections::HashMap;
use std::path::Path;

use mcias_client::{AuditFilter, Client, Error, pb};
use serde_json::{Map, Value, json};

struct Env {
    server: String,
    ca: String,
    admin_password: String,
    contract: String,
}

fn env() -> Env {
    let get = |k: &str| std::env::var(k).unwrap_or_default();
    let e = Env {
        server: get("MCIAS_SERVER"),
        ca: get("MCIAS_CA_CERT"),
        admin_password: get("MCIAS_ADMIN_PASSWORD"),
        contract: get("MCIAS_CONTRACT"),
    };
    assert!(
        !e.server.is_empty() && !e.ca.is_empty() && !e.admin_password.is_empty(),
        "run the tests through clients/testdata/with-server.sh (make test-rust)"
    );
    e
}

fn subst(v: &Value, vars: &HashMap<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let end = rest[i..].find('}').expect("unclosed ${") + i;
                let name = &rest[i + 2..end];
                match vars.get(name) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => panic!("unknown variable {name}"),
                }
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|e| subst(e, vars)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, e)| (k.clone(), subst(e, vars))).collect())
        }
        other => other.clone(),
    }
}

fn s(a: &Value, k: &str) -> String {
    a.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn n(a: &Value, k: &str) -> i64 {
    a.get(k).and_then(Value::as_i64).unwrap_or_default()
}

fn account(a: &pb::Account) -> Value {
    let t = a
        .account_type()
        .as_str_name()
        .trim_start_matches("ACCOUNT_TYPE_")
        .to_owned();
    let st = a
        .status()
        .as_str_name()
        .trim_start_matches("ACCOUNT_STATUS_")
        .to_owned();
    json!({"id": a.id, "username": a.username, "account_type": t, "status": st, "totp_enabled": a.totp_enabled})
}

async fn call(c: &Client, name: &str, a: &Value) -> Result<Value, Error> {
    Ok(match name {
        "health" => json!({"status": c.health().await?}),
        "public_keys" => {
            let kids: Vec<String> = c.public_keys().await?.into_iter().map(|k| k.kid).collect();
            json!({"kids": kids})
        }
        "login" => {
            json!({"token": c.login(&s(a, "username"), &s(a, "password"), &s(a, "totp_code")).await?.token})
        }
        "logout" => {
            c.logout().await?;
            json!({})
        }
        "renew" => json!({"token": c.renew().await?.token}),
        "validate" => {
            let r = c.validate(&s(a, "token")).await?;
            let cl = r.claims.unwrap_or_default();
            json!({"valid": r.valid, "subject": cl.subject, "roles": cl.roles, "jti": cl.jti, "token_type": cl.token_type})
        }
        "create_account" => {
            let t =
                pb::AccountType::from_str_name(&format!("ACCOUNT_TYPE_{}", s(a, "account_type")))
                    .unwrap_or_default();
            account(
                &c.create_account(&s(a, "username"), t, &s(a, "password"))
                    .await?,
            )
        }
        "get_account" => account(&c.get_account(&s(a, "id")).await?),
        "update_account" => {
            let st =
                pb::AccountStatus::from_str_name(&format!("ACCOUNT_STATUS_{}", s(a, "status")))
                    .unwrap_or_default();
            account(&c.update_account(&s(a, "id"), st).await?)
        }
        "delete_account" => {
            c.delete_account(&s(a, "id")).await?;
            json!({})
        }
        "list_accounts" => {
            let names: Vec<String> = c
                .list_accounts(n(a, "page_size") as i32)
                .await?
                .into_iter()
                .map(|x| x.username)
                .collect();
            json!({"usernames": names})
        }
        "get_roles" => json!({"roles": c.get_roles(&s(a, "account_id")).await?}),
        "set_roles" => {
            let roles: Vec<String> = a["roles"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            json!({"roles": c.set_roles(&s(a, "account_id"), &roles).await?})
        }
        "issue_service_token" => {
            json!({"token": c.issue_service_token(&s(a, "account_id")).await?.token})
        }
        "revoke_token" => {
            c.revoke_token(&s(a, "jti"), &s(a, "reason")).await?;
            json!({})
        }
        "get_pg_creds" => {
            let p = c.get_pg_creds(&s(a, "account_id")).await?;
            json!({"host": p.host, "port": p.port, "database": p.database, "username": p.username, "password": p.password})
        }
        "set_pg_creds" => {
            let creds = pb::PgCreds {
                host: s(a, "host"),
                port: n(a, "port") as u32,
                database: s(a, "database"),
                username: s(a, "username"),
                password: s(a, "password"),
            };
            c.set_pg_creds(&s(a, "account_id"), &creds).await?;
            json!({})
        }
        "list_audit_events" => {
            let f = AuditFilter {
                account_id: s(a, "account_id"),
                event_type: s(a, "event_type"),
                ..AuditFilter::default()
            };
            let types: Vec<String> = c
                .list_audit_events(&f)
                .await?
                .into_iter()
                .map(|e| e.event_type)
                .collect();
            json!({"event_types": types})
        }
        other => panic!("unknown call {other}"),
    })
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn has(list: Option<&Value>, want: &Value) -> bool {
    list.and_then(Value::as_array)
        .is_some_and(|l| l.contains(want))
}

fn object(v: Option<&Value>, vars: &HashMap<String, Value>) -> Map<String, Value> {
    v.map(|v| subst(v, vars))
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

fn run_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:08x}",
        (nanos ^ (u128::from(std::process::id()) << 32)) as u32
    )
}

#[tokio::test]
async fn contract() {
    let e = env();
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(&e.contract).unwrap()).unwrap();
    let mut clients = HashMap::new();
    for name in spec["clients"].as_array().unwrap() {
        let c = Client::new(&e.server, Some(Path::new(&e.ca)), None).unwrap();
        clients.insert(name.as_str().unwrap().to_owned(), c);
    }
    let mut vars: HashMap<String, Value> = HashMap::new();
    vars.insert("admin_password".into(), json!(e.admin_password));
    vars.insert("run".into(), json!(run_suffix()));
    let steps = spec["steps"].as_array().unwrap();
    assert!(steps.len() > 10);
    for (i, step) in steps.iter().enumerate() {
        let label = format!("step {} {:?} ({})", i + 1, step["name"], step["call"]);
        let args = subst(&step["args"], &vars);
        let client = &clients[step["client"].as_str().unwrap()];
        let res = call(client, step["call"].as_str().unwrap(), &args).await;
        let expect = &step["expect"];
        if let Some(want) = expect.get("error").and_then(Value::as_str) {
            match res {
                Err(err) => {
                    assert_eq!(err.code(), want, "{label}: {err}");
                    assert!(
                        !err.message().is_empty(),
                        "{label}: the error carries no message"
                    );
                }
                Ok(v) => panic!("{label}: want {want}, got {v}"),
            }
            continue;
        }
        let res = res.unwrap_or_else(|err| panic!("{label}: {err}"));
        for (k, want) in object(expect.get("result"), &vars) {
            assert_eq!(res.get(&k), Some(&want), "{label}: {k}");
        }
        for (k, want) in object(expect.get("contains"), &vars) {
            for w in as_list(&want) {
                assert!(
                    has(res.get(&k), &w),
                    "{label}: {k} = {:?} lacks {w}",
                    res.get(&k)
                );
            }
        }
        for (k, want) in object(expect.get("excludes"), &vars) {
            for w in as_list(&want) {
                assert!(
                    !has(res.get(&k), &w),
                    "{label}: {k} = {:?} has {w}",
                    res.get(&k)
                );
            }
        }
        for k in expect
            .get("nonempty")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let v = res.get(k.as_str().unwrap());
            let empty = match v {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            assert!(!empty, "{label}: {k} is empty");
        }
        if let Some(save) = step.get("save").and_then(Value::as_object) {
            for (var, field) in save {
                vars.insert(var.clone(), res[field.as_str().unwrap()].clone());
            }
        }
    }
}

#[tokio::test]
async fn errors_and_shared_token() {
    let e = env();
    let c = Client::new(
        &format!("https://{}", e.server),
        Some(Path::new(&e.ca)),
        None,
    )
    .unwrap();
    let err = c.login("admin", "wrong password", "").await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated(_)), "{err:?}");
    c.login("admin", &e.admin_password, "").await.unwrap();
    // Clones share the token; concurrent calls use it.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.get_roles("00000000-0000-4000-8000-000000000000").await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(Error::NotFound(_))));
    }
    let other = Client::new(&e.server, Some(Path::new(&e.ca)), Some(c.token())).unwrap();
    assert!(
        other
            .list_accounts(1)
            .await
            .unwrap()
            .iter()
            .any(|a| a.username == "admin")
    );
    c.logout().await.unwrap();
    assert_eq!(c.token(), "");
    assert!(matches!(
        other.list_accounts(0).await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        Client::new(&e.server, Some(Path::new("/nonexistent/ca.pem")), None),
        Err(Error::Config(_))
    ));
}
