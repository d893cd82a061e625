//! Applications (OAuth clients): creation, lookup, paging, update, soft
//! deletion and the secret's HMAC. List columns are JSON arrays.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::audit::append;
use super::{Store, sql_err};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AuditEntry, ClientRecord, ClientType, GrantType, SigningAlg};

const COLUMNS: &str = "client_id, name, client_type, redirect_uris, post_logout_redirect_uris, \
     grant_types, scopes, audience, access_token_ttl, refresh_token_ttl, first_party, \
     id_token_alg, secret_hash, created_at, updated_at";

fn to_json(v: &[String]) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(format!("client list column: {e}")))
}

fn from_json(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| Error::internal(format!("stored client list: {e}")))
}

fn grants_json(g: &[GrantType]) -> Result<String> {
    let names: Vec<String> = g.iter().map(|g| g.as_str().to_owned()).collect();
    to_json(&names)
}

/// A client's values in [`COLUMNS`] order (`?1` to `?15`).
fn values(c: &ClientRecord) -> Result<Vec<Value>> {
    Ok(vec![
        c.client_id.clone().into(),
        c.name.clone().into(),
        (c.client_type as i64).into(),
        to_json(&c.redirect_uris)?.into(),
        to_json(&c.post_logout_redirect_uris)?.into(),
        grants_json(&c.grant_types)?.into(),
        to_json(&c.scopes)?.into(),
        c.audience.clone().into(),
        c.access_token_ttl.into(),
        c.refresh_token_ttl.into(),
        c.first_party.into(),
        (c.id_token_alg as i64).into(),
        c.secret_hash.clone().into(),
        c.created_at.into(),
        c.updated_at.into(),
    ])
}

/// The raw row: lists and enums still encoded.
type RawRow = (
    String,
    String,
    i64,
    [String; 4],
    String,
    i64,
    i64,
    bool,
    i64,
    Option<String>,
    i64,
    i64,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
    ))
}

fn finish(row: RawRow) -> Result<ClientRecord> {
    let (
        client_id,
        name,
        ty,
        [redirect, logout, grants, scopes],
        audience,
        at,
        rt,
        fp,
        alg,
        hash,
        c,
        u,
    ) = row;
    let grant_types = from_json(&grants)?
        .iter()
        .map(|g| GrantType::parse(g).ok_or_else(|| Error::internal(format!("stored grant {g:?}"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(ClientRecord {
        client_id,
        name,
        client_type: ClientType::from_i64(ty)?,
        redirect_uris: from_json(&redirect)?,
        post_logout_redirect_uris: from_json(&logout)?,
        grant_types,
        scopes: from_json(&scopes)?,
        audience,
        access_token_ttl: at,
        refresh_token_ttl: rt,
        first_party: fp,
        id_token_alg: SigningAlg::from_i64(alg)?,
        secret_hash: hash,
        created_at: c,
        updated_at: u,
    })
}

fn get_live(c: &Connection, client_id: &str) -> Result<Option<ClientRecord>> {
    let sql =
        format!("SELECT {COLUMNS} FROM oauth_clients WHERE client_id = ?1 AND deleted_at IS NULL");
    c.query_row(&sql, [client_id], raw)
        .optional()
        .map_err(sql_err)?
        .map(finish)
        .transpose()
}

fn changed(n: usize) -> Result<()> {
    if n == 1 {
        Ok(())
    } else {
        Err(Error::not_found("client"))
    }
}

impl Store {
    /// Registers a client; a taken client id (deleted ones included) is
    /// ALREADY_EXISTS (`client_id_taken`).
    pub async fn create_client(&self, client: ClientRecord, audit: AuditEntry) -> Result<()> {
        self.write(move |tx| {
            let res = tx.execute(
                &format!("INSERT INTO oauth_clients ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
                params_from_iter(values(&client)?),
            );
            match res {
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        "client_id_taken",
                        format!("a client with id {:?} exists or existed", client.client_id),
                    ));
                }
                other => {
                    other.map_err(sql_err)?;
                }
            }
            append(tx, &audit)
        })
        .await
    }

    /// A client that is not deleted.
    pub async fn client(&self, client_id: String) -> Result<Option<ClientRecord>> {
        self.read(move |c| get_live(c, &client_id)).await
    }

    /// Clients that are not deleted, by client id, after `after_id`, at most
    /// `limit`.
    pub async fn list_clients(
        &self,
        after_id: Option<String>,
        limit: u32,
    ) -> Result<Vec<ClientRecord>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM oauth_clients WHERE deleted_at IS NULL AND (?1 IS NULL OR client_id > ?1)
                 ORDER BY client_id LIMIT ?2"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
            let rows = stmt
                .query_map(params![after_id, limit], raw)
                .map_err(sql_err)?;
            rows.map(|r| r.map_err(sql_err).and_then(finish)).collect()
        })
        .await
    }

    /// Replaces a live client's settings (not its id, type, secret or
    /// creation time); NOT_FOUND when it is unknown or deleted.
    pub async fn update_client(&self, client: ClientRecord, audit: AuditEntry) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE oauth_clients SET name = ?2, redirect_uris = ?4, post_logout_redirect_uris = ?5,
                     grant_types = ?6, scopes = ?7, audience = ?8, access_token_ttl = ?9,
                     refresh_token_ttl = ?10, first_party = ?11, id_token_alg = ?12, updated_at = ?15
                     WHERE client_id = ?1 AND deleted_at IS NULL",
                    params_from_iter(values(&client)?),
                )
                .map_err(sql_err)?;
            changed(n)?;
            append(tx, &audit)
        })
        .await
    }

    /// Soft-deletes a live client and forgets its secret; NOT_FOUND when it
    /// is unknown or already deleted.
    pub async fn delete_client(
        &self,
        client_id: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE oauth_clients SET deleted_at = ?2, updated_at = ?2, secret_hash = NULL
                     WHERE client_id = ?1 AND deleted_at IS NULL",
                    params![client_id, now],
                )
                .map_err(sql_err)?;
            changed(n)?;
            append(tx, &audit)
        })
        .await
    }

    /// Replaces a live client's secret HMAC; NOT_FOUND when it is unknown or
    /// deleted.
    pub async fn set_client_secret_hash(
        &self,
        client_id: String,
        hash: String,
        now: i64,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE oauth_clients SET secret_hash = ?2, updated_at = ?3
                     WHERE client_id = ?1 AND deleted_at IS NULL",
                    params![client_id, hash, now],
                )
                .map_err(sql_err)?;
            changed(n)?;
            append(tx, &audit)
        })
        .await
    }
}
