//! Applications (OAuth clients): validation naming the field, creation,
//! listing, update, soft deletion, and client secrets.
//!
//! A client secret is 256 random bits, returned once. It is made and stored
//! like a refresh token: `<secret id>.<base64url>`, kept only as
//! HMAC-SHA256 under the sealed refresh secret its prefix names
//! ([`super::RefreshSecrets`]), and compared in constant time. Never a
//! password hash: the secret has full entropy, and checking it sits on the
//! token endpoint's path.

use serde_json::json;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::Caller;
use super::Idm;
use super::accounts::{cut_page, decode_page_token, page_size};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ClientRecord, ClientType, GrantType, Outcome, SigningAlg};

/// Most redirect URIs (of each kind) a client may register.
pub const MAX_REDIRECT_URIS: usize = 20;
/// Most scopes a client may be allowed.
pub const MAX_SCOPES: usize = 50;
/// Longest redirect URI.
const MAX_URI_LEN: usize = 2000;
/// Access-token lifetime bounds (as `tokens.access_ttl` in the config).
const ACCESS_TTL: std::ops::RangeInclusive<i64> = 60..=86_400;
/// Longest refresh-token lifetime (as `tokens.refresh_ttl`).
const MAX_REFRESH_TTL: i64 = 365 * 86_400;

/// What an admin says about a client: everything but its id, secret and
/// times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    /// Display name.
    pub name: String,
    /// Confidential or public (fixed after creation).
    pub client_type: ClientType,
    /// Exact-match redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact-match post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grants.
    pub grant_types: Vec<GrantType>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Access-token audience; empty for the client id.
    pub audience: String,
    /// Access-token lifetime in seconds; 0 for the default.
    pub access_token_ttl: i64,
    /// Refresh-token lifetime in seconds; 0 for the default.
    pub refresh_token_ttl: i64,
    /// Skips consent.
    pub first_party: bool,
    /// ID-token signing algorithm; `None` means EdDSA.
    pub id_token_alg: Option<SigningAlg>,
}

/// The fields an update changes; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientChanges {
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grants.
    pub grant_types: Option<Vec<GrantType>>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Audience.
    pub audience: Option<String>,
    /// Access-token lifetime.
    pub access_token_ttl: Option<i64>,
    /// Refresh-token lifetime.
    pub refresh_token_ttl: Option<i64>,
    /// First-party flag.
    pub first_party: Option<bool>,
    /// ID-token signing algorithm.
    pub id_token_alg: Option<SigningAlg>,
}

/// One page of clients.
#[derive(Debug)]
pub struct ClientPage {
    /// The clients.
    pub clients: Vec<ClientRecord>,
    /// The token for the next page, empty on the last.
    pub next_page_token: String,
}

fn field_err(code: &'static str, field: &str, problem: impl std::fmt::Display) -> Error {
    Error::invalid(code, format!("{field}: {problem}"))
}

/// Checks a client id: 3 to 64 lowercase letters, digits, '.', '_' or '-',
/// starting with a letter or digit.
pub fn check_client_id(id: &str) -> Result<()> {
    let ok = (3..=64).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(field_err(
            "invalid_client_id",
            "client_id",
            "must be 3 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

/// Checks one redirect URI: absolute; https, or http on a loopback host
/// with any port (RFC 8252 section 7.3); no fragment, no wildcard, no user
/// information, no whitespace.
pub fn check_redirect_uri(field: &str, uri: &str) -> Result<()> {
    let bad = |problem: &str| {
        field_err(
            "invalid_redirect_uri",
            field,
            format!("{:?} {problem}", uri.chars().take(80).collect::<String>()),
        )
    };
    if uri.len() > MAX_URI_LEN {
        return Err(bad(&format!("is longer than {MAX_URI_LEN} characters")));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or control characters"));
    }
    if uri.contains('#') {
        return Err(bad("has a fragment; redirect URIs must not"));
    }
    if uri.contains('*') {
        return Err(bad("has a wildcard; redirect URIs are matched exactly"));
    }
    let (secure, rest) = if let Some(r) = uri.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = uri.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("is not an absolute https (or loopback http) URI"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("has user information"));
    }
    let host = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => &authority[..=end],
            None => return Err(bad("has an invalid host")),
        }
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let port = &authority[host.len()..];
    if host.is_empty()
        || !(port.is_empty()
            || port.strip_prefix(':').is_some_and(|p| {
                !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
            }))
    {
        return Err(bad("has an invalid host or port"));
    }
    if !secure
        && !matches!(
            host.to_ascii_lowercase().as_str(),
            "127.0.0.1" | "[::1]" | "localhost"
        )
    {
        return Err(bad(
            "must use https; plain http is allowed only on 127.0.0.1, [::1] or localhost (native apps, any port)",
        ));
    }
    Ok(())
}

fn check_uris(field: &str, uris: &[String]) -> Result<Vec<String>> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(field_err(
            "too_many_redirect_uris",
            field,
            format!("at most {MAX_REDIRECT_URIS}"),
        ));
    }
    let mut out = Vec::with_capacity(uris.len());
    for (i, u) in uris.iter().enumerate() {
        check_redirect_uri(&format!("{field}[{i}]"), u)?;
        if !out.contains(u) {
            out.push(u.clone());
        }
    }
    Ok(out)
}

/// Checks a scope token (RFC 6749 section 3.3), at most 64 characters.
fn check_scopes(scopes: &[String]) -> Result<Vec<String>> {
    if scopes.len() > MAX_SCOPES {
        return Err(field_err(
            "too_many_scopes",
            "scopes",
            format!("at most {MAX_SCOPES}"),
        ));
    }
    let mut out = Vec::with_capacity(scopes.len());
    for (i, s) in scopes.iter().enumerate() {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !ok {
            return Err(field_err(
                "invalid_scope",
                &format!("scopes[{i}]"),
                "must be 1 to 64 printable ASCII characters without space, '\"' or '\\'",
            ));
        }
        out.push(s.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Validates and normalizes a specification against the server's default
/// access-token lifetime.
fn check_spec(mut spec: ClientSpec, default_access_ttl: i64) -> Result<ClientSpec> {
    let name_len = spec.name.chars().count();
    if !(1..=100).contains(&name_len) || spec.name.chars().any(char::is_control) {
        return Err(field_err(
            "invalid_name",
            "name",
            "must be 1 to 100 characters without control characters",
        ));
    }
    spec.redirect_uris = check_uris("redirect_uris", &spec.redirect_uris)?;
    spec.post_logout_redirect_uris =
        check_uris("post_logout_redirect_uris", &spec.post_logout_redirect_uris)?;
    spec.grant_types.sort();
    spec.grant_types.dedup();
    let has = |g| spec.grant_types.contains(&g);
    if spec.grant_types.is_empty() {
        return Err(field_err(
            "invalid_grant_types",
            "grant_types",
            "at least one grant is required",
        ));
    }
    if has(GrantType::ClientCredentials) && spec.client_type == ClientType::Public {
        return Err(field_err(
            "invalid_grant_types",
            "grant_types",
            "client_credentials needs a confidential client",
        ));
    }
    if has(GrantType::RefreshToken) && !has(GrantType::AuthorizationCode) {
        return Err(field_err(
            "invalid_grant_types",
            "grant_types",
            "refresh_token needs authorization_code",
        ));
    }
    if has(GrantType::AuthorizationCode) && spec.redirect_uris.is_empty() {
        return Err(field_err(
            "invalid_redirect_uri",
            "redirect_uris",
            "at least one is required with the authorization_code grant",
        ));
    }
    spec.scopes = check_scopes(&spec.scopes)?;
    if spec.audience.len() > 256 || spec.audience.chars().any(char::is_control) {
        return Err(field_err(
            "invalid_audience",
            "audience",
            "must be at most 256 characters without control characters",
        ));
    }
    if spec.access_token_ttl != 0 && !ACCESS_TTL.contains(&spec.access_token_ttl) {
        return Err(field_err(
            "invalid_lifetime",
            "access_token_ttl_seconds",
            "must be 0 (the server's default) or 60 to 86400",
        ));
    }
    let access = if spec.access_token_ttl == 0 {
        default_access_ttl
    } else {
        spec.access_token_ttl
    };
    if spec.refresh_token_ttl != 0 && !(access..=MAX_REFRESH_TTL).contains(&spec.refresh_token_ttl)
    {
        return Err(field_err(
            "invalid_lifetime",
            "refresh_token_ttl_seconds",
            format!(
                "must be 0 (the server's default) or from the access-token lifetime ({access}) to 365 days"
            ),
        ));
    }
    spec.id_token_alg = Some(spec.id_token_alg.unwrap_or(SigningAlg::EdDsa));
    Ok(spec)
}

/// The record of a validated specification.
fn record(
    client_id: String,
    spec: ClientSpec,
    secret_hash: Option<String>,
    created_at: i64,
    updated_at: i64,
) -> ClientRecord {
    ClientRecord {
        client_id,
        name: spec.name,
        client_type: spec.client_type,
        redirect_uris: spec.redirect_uris,
        post_logout_redirect_uris: spec.post_logout_redirect_uris,
        grant_types: spec.grant_types,
        scopes: spec.scopes,
        audience: spec.audience,
        access_token_ttl: spec.access_token_ttl,
        refresh_token_ttl: spec.refresh_token_ttl,
        first_party: spec.first_party,
        id_token_alg: spec.id_token_alg.unwrap_or(SigningAlg::EdDsa),
        secret_hash,
        created_at,
        updated_at,
    }
}

fn audit_details(c: &ClientRecord) -> serde_json::Value {
    json!({
        "name": c.name,
        "type": c.client_type.as_str(),
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scopes": c.scopes,
        "first_party": c.first_party,
        "id_token_alg": c.id_token_alg.as_str(),
    })
}

impl Idm {
    fn default_access_ttl(&self) -> i64 {
        self.tokens.access_ttl.secs_i64()
    }

    /// A new client secret and its HMAC.
    fn new_client_secret(&self) -> Result<(Zeroizing<String>, String)> {
        self.refresh_secrets
            .mint(self.rng.as_ref())
            .map(|(secret, hash, _)| (secret, hash))
            .ok_or_else(|| Error::internal("refresh secrets unavailable"))
    }

    /// Registers a client. Returns it and, for a confidential client, its
    /// secret (shown once). An empty `client_id` gets a generated one.
    pub async fn create_client(
        &self,
        caller: &Caller,
        client_id: &str,
        spec: ClientSpec,
    ) -> Result<(ClientRecord, Option<Zeroizing<String>>)> {
        let client_id = if client_id.is_empty() {
            self.new_id()
        } else {
            check_client_id(client_id)?;
            client_id.to_owned()
        };
        let spec = check_spec(spec, self.default_access_ttl())?;
        let (secret, secret_hash) = match spec.client_type {
            ClientType::Confidential => {
                let (s, h) = self.new_client_secret()?;
                (Some(s), Some(h))
            }
            ClientType::Public => (None, None),
        };
        let now = self.clock.now();
        let record = record(client_id, spec, secret_hash, now, now);
        let audit = self.audit(
            "client_create",
            caller,
            Some(&record.client_id),
            Outcome::Success,
            audit_details(&record),
        );
        self.store.create_client(record.clone(), audit).await?;
        Ok((record, secret))
    }

    /// One page of clients that are not deleted, by client id.
    pub async fn list_clients(&self, page_size_req: i32, page_token: &str) -> Result<ClientPage> {
        let size = page_size(page_size_req)?;
        let after = decode_page_token("c", page_token)?;
        let mut clients = self.store.list_clients(after, size + 1).await?;
        let next_page_token = cut_page(&mut clients, size, "c", |c| &c.client_id);
        Ok(ClientPage {
            clients,
            next_page_token,
        })
    }

    /// One client that is not deleted.
    pub async fn get_client(&self, client_id: &str) -> Result<ClientRecord> {
        check_client_id(client_id)?;
        self.store
            .client(client_id.to_owned())
            .await?
            .ok_or_else(|| Error::not_found("client"))
    }

    /// Changes the fields `changes` names; the result is validated as a
    /// whole.
    pub async fn update_client(
        &self,
        caller: &Caller,
        client_id: &str,
        changes: ClientChanges,
    ) -> Result<ClientRecord> {
        let current = self.get_client(client_id).await?;
        let spec = ClientSpec {
            name: changes.name.unwrap_or(current.name),
            client_type: current.client_type,
            redirect_uris: changes.redirect_uris.unwrap_or(current.redirect_uris),
            post_logout_redirect_uris: changes
                .post_logout_redirect_uris
                .unwrap_or(current.post_logout_redirect_uris),
            grant_types: changes.grant_types.unwrap_or(current.grant_types),
            scopes: changes.scopes.unwrap_or(current.scopes),
            audience: changes.audience.unwrap_or(current.audience),
            access_token_ttl: changes.access_token_ttl.unwrap_or(current.access_token_ttl),
            refresh_token_ttl: changes
                .refresh_token_ttl
                .unwrap_or(current.refresh_token_ttl),
            first_party: changes.first_party.unwrap_or(current.first_party),
            id_token_alg: Some(changes.id_token_alg.unwrap_or(current.id_token_alg)),
        };
        let spec = check_spec(spec, self.default_access_ttl())?;
        let updated = record(
            current.client_id,
            spec,
            current.secret_hash,
            current.created_at,
            self.clock.now(),
        );
        let audit = self.audit(
            "client_update",
            caller,
            Some(&updated.client_id),
            Outcome::Success,
            audit_details(&updated),
        );
        self.store.update_client(updated.clone(), audit).await?;
        Ok(updated)
    }

    /// Deletes a client (soft: the id stays taken, the secret is forgotten).
    pub async fn delete_client(&self, caller: &Caller, client_id: &str) -> Result<()> {
        check_client_id(client_id)?;
        let audit = self.audit(
            "client_delete",
            caller,
            Some(client_id),
            Outcome::Success,
            json!({}),
        );
        self.store
            .delete_client(client_id.to_owned(), self.clock.now(), audit)
            .await
    }

    /// Replaces a confidential client's secret; the new one is returned once
    /// and the old one stops working.
    pub async fn rotate_oauth_client_secret(
        &self,
        caller: &Caller,
        client_id: &str,
    ) -> Result<Zeroizing<String>> {
        let client = self.get_client(client_id).await?;
        if client.client_type == ClientType::Public {
            return Err(Error::precondition(
                "public_client",
                "client_id: a public client has no secret",
            ));
        }
        let (secret, hash) = self.new_client_secret()?;
        let audit = self.audit(
            "client_secret_rotate",
            caller,
            Some(client_id),
            Outcome::Success,
            json!({}),
        );
        self.store
            .set_client_secret_hash(client_id.to_owned(), hash, self.clock.now(), audit)
            .await?;
        Ok(secret)
    }

    /// Authenticates a confidential client by its secret (constant-time
    /// comparison of the HMACs). Every failure is the same UNAUTHENTICATED.
    pub async fn verify_oauth_client_secret(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<ClientRecord> {
        let invalid = || {
            Error::new(
                ErrorKind::Unauthenticated,
                "invalid_client",
                "client authentication failed",
            )
        };
        if check_client_id(client_id).is_err() || secret.len() > 256 {
            return Err(invalid());
        }
        let client = self
            .store
            .client(client_id.to_owned())
            .await?
            .ok_or_else(invalid)?;
        let presented = self.refresh_secrets.hash(secret).ok_or_else(invalid)?;
        let stored = client.secret_hash.as_deref().ok_or_else(invalid)?;
        if bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) {
            Ok(client)
        } else {
            Err(invalid())
        }
    }
}
