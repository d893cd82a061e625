//! `client create|list|get|update|delete|rotate-secret`: applications
//! (OAuth clients).

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::cli::{ClientCommand, ClientKind, ClientSettings, Grant, IdTokenAlg};
use super::{Ctx, R};
use crate::output::{Printer, ts};
use mcias_client::pb;

/// The table columns of an application.
const COLUMNS: &[&str] = &[
    "client_id",
    "name",
    "type",
    "grant_types",
    "redirect_uris",
    "first_party",
    "has_secret",
];

/// Every field of an application, in `get` order.
const FIELDS: &[&str] = &[
    "client_id",
    "name",
    "type",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "scopes",
    "audience",
    "access_token_ttl_seconds",
    "refresh_token_ttl_seconds",
    "first_party",
    "id_token_signing_alg",
    "has_secret",
    "created_at",
    "updated_at",
];

fn row(c: &pb::OAuthClient) -> Value {
    let kind = match pb::ClientType::try_from(c.client_type) {
        Ok(pb::ClientType::Confidential) => "confidential",
        Ok(pb::ClientType::Public) => "public",
        _ => "unspecified",
    };
    let grants: Vec<&str> = c
        .grant_types
        .iter()
        .map(|g| match pb::GrantType::try_from(*g) {
            Ok(pb::GrantType::AuthorizationCode) => "authorization_code",
            Ok(pb::GrantType::RefreshToken) => "refresh_token",
            Ok(pb::GrantType::ClientCredentials) => "client_credentials",
            _ => "unspecified",
        })
        .collect();
    let alg = match pb::SigningAlgorithm::try_from(c.id_token_signing_alg) {
        Ok(pb::SigningAlgorithm::Rs256) => "RS256",
        _ => "EdDSA",
    };
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "type": kind,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": grants,
        "scopes": c.scopes,
        "audience": c.audience,
        "access_token_ttl_seconds": c.access_token_ttl_seconds,
        "refresh_token_ttl_seconds": c.refresh_token_ttl_seconds,
        "first_party": c.first_party,
        "id_token_signing_alg": alg,
        "has_secret": c.has_secret,
        "created_at": ts(c.created_at.as_ref()),
        "updated_at": ts(c.updated_at.as_ref()),
    })
}

/// The message and the update-mask paths of the settings given.
fn message(s: ClientSettings) -> (pb::OAuthClient, Vec<String>) {
    let mut paths = Vec::new();
    let mut c = pb::OAuthClient::default();
    let mut given = |on: bool, path: &str| {
        if on {
            paths.push(path.to_owned());
        }
    };
    given(s.name.is_some(), "name");
    given(!s.redirect_uris.is_empty(), "redirect_uris");
    given(
        !s.post_logout_redirect_uris.is_empty(),
        "post_logout_redirect_uris",
    );
    given(!s.grants.is_empty(), "grant_types");
    given(!s.scopes.is_empty(), "scopes");
    given(s.audience.is_some(), "audience");
    given(s.access_token_ttl.is_some(), "access_token_ttl_seconds");
    given(s.refresh_token_ttl.is_some(), "refresh_token_ttl_seconds");
    given(s.first_party.is_some(), "first_party");
    given(s.id_token_alg.is_some(), "id_token_signing_alg");
    c.name = s.name.unwrap_or_default();
    c.redirect_uris = s.redirect_uris;
    c.post_logout_redirect_uris = s.post_logout_redirect_uris;
    c.grant_types = s
        .grants
        .iter()
        .map(|g| match g {
            Grant::AuthorizationCode => pb::GrantType::AuthorizationCode,
            Grant::RefreshToken => pb::GrantType::RefreshToken,
            Grant::ClientCredentials => pb::GrantType::ClientCredentials,
        } as i32)
        .collect();
    c.scopes = s.scopes;
    c.audience = s.audience.unwrap_or_default();
    c.access_token_ttl_seconds = s.access_token_ttl.unwrap_or_default();
    c.refresh_token_ttl_seconds = s.refresh_token_ttl.unwrap_or_default();
    c.first_party = s.first_party.unwrap_or_default();
    c.id_token_signing_alg = match s.id_token_alg {
        None => pb::SigningAlgorithm::Unspecified,
        Some(IdTokenAlg::EdDsa) => pb::SigningAlgorithm::Eddsa,
        Some(IdTokenAlg::Rs256) => pb::SigningAlgorithm::Rs256,
    } as i32;
    (c, paths)
}

/// Prints a secret that is shown only once.
fn secret_once(p: &Printer, client_id: &str, secret: &str) {
    p.record(
        &json!({ "client_id": client_id, "client_secret": secret }),
        &["client_id", "client_secret"],
    );
    if !p.is_json() {
        eprintln!("The secret is shown only this once; store it now.");
    }
}

pub(super) async fn run(cx: &Ctx, c: ClientCommand) -> R<()> {
    let client = cx.authed().await?;
    match c {
        ClientCommand::Create {
            client_id,
            kind,
            settings,
        } => {
            let (mut msg, _) = message(settings);
            msg.client_id = client_id.unwrap_or_default();
            msg.client_type = match kind {
                ClientKind::Confidential => pb::ClientType::Confidential,
                ClientKind::Public => pb::ClientType::Public,
            } as i32;
            let (created, secret) = client.create_client(msg).await?;
            let secret = Zeroizing::new(secret);
            if secret.is_empty() {
                cx.p.record(&row(&created), FIELDS);
            } else if cx.p.is_json() {
                let mut v = row(&created);
                v["client_secret"] = json!(secret.as_str());
                cx.p.line(&v);
            } else {
                cx.p.record(&row(&created), FIELDS);
                secret_once(&cx.p, &created.client_id, &secret);
            }
        }
        ClientCommand::List { page_size } => {
            let rows: Vec<_> = client
                .list_clients(page_size)
                .await?
                .iter()
                .map(row)
                .collect();
            cx.p.rows(COLUMNS, &rows);
        }
        ClientCommand::Get { client_id } => {
            cx.p.record(&row(&client.get_client(&client_id).await?), FIELDS);
        }
        ClientCommand::Update {
            client_id,
            settings,
        } => {
            let (msg, paths) = message(settings);
            if paths.is_empty() {
                return Err(super::Fail::Usage(
                    "nothing to change: give at least one setting".into(),
                ));
            }
            let updated = client.update_client(&client_id, msg, paths).await?;
            cx.p.record(&row(&updated), FIELDS);
        }
        ClientCommand::Delete { client_id } => {
            client.delete_client(&client_id).await?;
            cx.p.ack(
                &format!("deleted client {client_id}"),
                json!({ "client_id": client_id, "deleted": true }),
            );
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = Zeroizing::new(client.rotate_oauth_client_secret(&client_id).await?);
            secret_once(&cx.p, &client_id, &secret);
        }
    }
    Ok(())
}
