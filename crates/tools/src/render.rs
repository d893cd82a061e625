//! The records both tools print, written once: accounts, roles, stored
//! credentials, audit events and token acknowledgements, from the API's
//! messages (`mciasctl`) or the domain's records (`mciasdb`), as table rows
//! or JSON lines through [`Printer`].

use serde_json::{Value, json};

use crate::output::{self, Printer};
use mcias_client::pb;
use mcias_core::model::{AccountRecord, AuditRecord};

/// The columns of an account listing.
pub const ACCOUNT_COLUMNS: &[&str] = &["id", "username", "type", "status", "totp_enabled"];

/// What both tools show of an account.
struct AccountFields<'a> {
    id: &'a str,
    username: &'a str,
    kind: &'a str,
    status: &'a str,
    totp_enabled: bool,
    created_at: String,
    updated_at: String,
}

impl AccountFields<'_> {
    fn json(self) -> Value {
        json!({
            "id": self.id,
            "username": self.username,
            "type": self.kind,
            "status": self.status,
            "totp_enabled": self.totp_enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// The profile columns of an account record.
pub const PROFILE_COLUMNS: &[&str] = &[
    "email",
    "email_verified",
    "display_name",
    "given_name",
    "family_name",
];

/// An account from the API.
pub fn account_pb(a: &pb::Account) -> Value {
    let kind = match pb::AccountType::try_from(a.account_type) {
        Ok(pb::AccountType::Human) => "human",
        Ok(pb::AccountType::System) => "system",
        _ => "unspecified",
    };
    let status = match pb::AccountStatus::try_from(a.status) {
        Ok(pb::AccountStatus::Active) => "active",
        Ok(pb::AccountStatus::Inactive) => "inactive",
        Ok(pb::AccountStatus::Suspended) => "suspended",
        Ok(pb::AccountStatus::Deleted) => "deleted",
        _ => "unspecified",
    };
    let mut v = AccountFields {
        id: &a.id,
        username: &a.username,
        kind,
        status,
        totp_enabled: a.totp_enabled,
        created_at: output::ts(a.created_at.as_ref()),
        updated_at: output::ts(a.updated_at.as_ref()),
    }
    .json();
    v["email"] = json!(a.email);
    v["email_verified"] = json!(a.email_verified);
    v["display_name"] = json!(a.display_name);
    v["given_name"] = json!(a.given_name);
    v["family_name"] = json!(a.family_name);
    v
}

/// An account from the database, with its lockout state.
pub fn account_record(a: &AccountRecord) -> Value {
    let mut v = AccountFields {
        id: &a.id,
        username: &a.username,
        kind: a.account_type.as_str(),
        status: a.status.as_str(),
        totp_enabled: a.totp_enabled,
        created_at: output::unix(a.created_at),
        updated_at: output::unix(a.updated_at),
    }
    .json();
    v["failed_logins"] = json!(a.failed_logins);
    v["locked_until"] = json!(if a.locked_until > 0 {
        output::unix(a.locked_until)
    } else {
        String::new()
    });
    v
}

/// Accounts as a listing.
pub fn accounts(p: &Printer, rows: &[Value]) {
    p.rows(ACCOUNT_COLUMNS, rows);
}

/// An account's roles; `username` when the tool knows it.
pub fn roles(p: &Printer, account_id: &str, username: Option<&str>, roles: &[String]) {
    match username {
        Some(u) => p.record(
            &json!({ "account_id": account_id, "username": u, "roles": roles }),
            &["account_id", "username", "roles"],
        ),
        None => p.record(
            &json!({ "account_id": account_id, "roles": roles }),
            &["account_id", "roles"],
        ),
    }
}

/// Stored PostgreSQL credentials, password included.
pub fn pgcreds(
    p: &Printer,
    account_id: &str,
    host: &str,
    port: u32,
    database: &str,
    username: &str,
    password: &str,
) {
    p.record(
        &json!({
            "account_id": account_id,
            "host": host,
            "port": port,
            "database": database,
            "username": username,
            "password": password,
        }),
        &[
            "account_id",
            "host",
            "port",
            "database",
            "username",
            "password",
        ],
    );
}

/// The acknowledgement of stored credentials; `id_key` names the account
/// id's field (`account_id` from mciasctl, `id` from mciasdb).
pub fn pgcreds_stored(p: &Printer, who: &str, id_key: &str, id: &str) {
    let mut v = json!({ "stored": true });
    v[id_key] = json!(id);
    p.ack(&format!("stored the credentials of {who}"), v);
}

/// The acknowledgement of a removed TOTP factor (`id_key` as in
/// [`pgcreds_stored`]).
pub fn totp_removed(p: &Printer, who: &str, id_key: &str, id: &str) {
    let mut v = json!({ "totp_enabled": false });
    v[id_key] = json!(id);
    p.ack(&format!("removed the TOTP factor of {who}"), v);
}

/// The acknowledgement of a token revoked by its id.
pub fn token_revoked(p: &Printer, jti: &str) {
    p.ack(
        &format!("revoked token {jti}"),
        json!({ "jti": jti, "revoked": true }),
    );
}

/// An audit event from the API.
pub fn audit_pb(e: &pb::AuditEvent) -> Value {
    output::audit_event(
        e.id,
        output::ts(e.occurred_at.as_ref()),
        &e.event_type,
        &e.outcome,
        Some(&e.actor_id),
        Some(&e.target_id),
        Some(&e.peer),
        &e.details,
    )
}

/// An audit event from the database.
pub fn audit_record(e: &AuditRecord) -> Value {
    output::audit_event(
        e.id,
        output::unix(e.occurred_at),
        &e.event_type,
        &e.outcome,
        e.actor_id.as_deref(),
        e.target_id.as_deref(),
        e.peer.as_deref(),
        &e.details,
    )
}

/// Audit events as a listing (`continued`: more rows of a listing already
/// started, without the header).
pub fn audit(p: &Printer, rows: &[Value], continued: bool) {
    if continued {
        p.rows_continued(output::AUDIT_COLUMNS, rows);
    } else {
        p.rows(output::AUDIT_COLUMNS, rows);
    }
}
