//! Properties of the API read from the compiled descriptor set: every RPC
//! declares a permission, and no response can carry a secret.

use std::collections::BTreeSet;

use mcias_proto::FILE_DESCRIPTOR_SET;
use mcias_server::api::permissions::{self, PermissionTable};
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

fn pool() -> DescriptorPool {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).unwrap()
}

#[test]
fn every_rpc_declares_a_permission() {
    let pool = pool();
    let declared = permissions::declared(&pool).unwrap();
    let rpc_count: usize = pool
        .services()
        .filter(|s| s.package_name() == "mcias.v1")
        .map(|s| s.methods().len())
        .sum();
    assert!(
        rpc_count >= 22,
        "expected the whole API, found {rpc_count} RPCs"
    );
    assert_eq!(declared.len(), rpc_count);
    let missing: Vec<_> = declared
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(m, _)| m)
        .collect();
    assert!(missing.is_empty(), "RPCs without a permission: {missing:?}");
    // The table the server builds agrees.
    let table = PermissionTable::from_descriptor_set(FILE_DESCRIPTOR_SET, &[]).unwrap();
    assert_eq!(table.len(), rpc_count);
    assert_eq!(
        table.get("/mcias.v1.AccountService/ListAccounts"),
        Some(permissions::Permission::Admin)
    );
    assert_eq!(
        table.get("/mcias.v1.AuthService/Login"),
        Some(permissions::Permission::Public)
    );
    assert_eq!(table.get("/mcias.v1.Nope/Nothing"), None);
}

#[test]
fn every_rpc_has_an_http_rule() {
    let pool = pool();
    let http = pool.get_extension_by_name("google.api.http").unwrap();
    for s in pool.services().filter(|s| s.package_name() == "mcias.v1") {
        for m in s.methods() {
            assert!(
                m.options().has_extension(&http),
                "{} lacks google.api.http",
                m.full_name()
            );
        }
    }
}

/// Field names that could carry a credential or key material.
fn sensitive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // Refresh tokens themselves are issued credentials like access tokens;
    // what must never leave is their stored hash (caught by "hash").
    [
        "password", "hash", "secret", "private", "seed", "otp_key", "master",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn walk(msg: &MessageDescriptor, path: &str, seen: &mut BTreeSet<String>, found: &mut Vec<String>) {
    if !seen.insert(format!("{path}|{}", msg.full_name())) {
        return;
    }
    for f in msg.fields() {
        let p = format!("{path}.{}", f.name());
        // Only text and bytes can carry a credential (`has_secret` is a
        // flag).
        if sensitive(f.name()) && matches!(f.kind(), Kind::String | Kind::Bytes) {
            found.push(p.clone());
        }
        if let Kind::Message(m) = f.kind() {
            walk(&m, &p, seen, found);
        }
    }
}

#[test]
fn no_response_carries_a_secret_except_the_documented_ones() {
    let pool = pool();
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for s in pool.services().filter(|s| s.package_name() == "mcias.v1") {
        for m in s.methods() {
            let out = m.output();
            walk(&out, out.name(), &mut seen, &mut found);
        }
    }
    found.sort();
    assert_eq!(
        found,
        vec![
            // A new application's secret, once, to the admin who created it.
            "CreateClientResponse.client_secret".to_string(),
            // The one-time TOTP enrollment answer.
            "EnrollTotpResponse.secret".to_string(),
            // Stored database credentials, to their owner or an admin.
            "GetPgCredsResponse.creds.password".to_string(),
            // A temporary password, once, to the admin who reset it.
            "ResetPasswordResponse.temporary_password".to_string(),
            // A new client secret, once, to the admin who rotated it.
            "RotateClientSecretResponse.client_secret".to_string(),
            // A new application secret, once, to the admin who rotated it.
            "RotateSecretResponse.client_secret".to_string(),
        ],
        "a response message can carry a secret"
    );
}
