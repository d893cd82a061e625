//! What relying parties and resource servers read back: the userinfo
//! claims (OpenID Connect Core 5.3) by the granted scopes, and
//! introspection for an authenticated client (RFC 7662), which answers only
//! about tokens issued to that client or naming it as their audience.

use serde_json::{Map, Value, json};

use super::grant::scope_claims;
use crate::crypto::{b64url_decode, jwt};
use crate::error::{Error, ErrorKind, Result};
use crate::idm::Idm;
use crate::model::ClientRecord;

fn invalid_token() -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        "invalid_token",
        "missing, invalid, expired or revoked access token",
    )
}

/// The claims of a JWT's payload, unverified (to learn its audience before
/// verifying against it).
fn payload(token: &str) -> Option<Map<String, Value>> {
    let c64 = token.split('.').nth(1)?;
    serde_json::from_slice(&b64url_decode(c64)?).ok()
}

impl Idm {
    /// Verifies an access token issued to an application (signature, issuer,
    /// expiry, revocation, the account's token version) and returns its
    /// claims. Tokens from API sign-in are not application tokens.
    pub(in crate::idm) fn verify_client_access(&self, token: &str) -> Result<Map<String, Value>> {
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Err(invalid_token());
        }
        let unverified = payload(token).ok_or_else(invalid_token)?;
        let audience = match unverified.get("aud") {
            Some(Value::String(a)) => a.clone(),
            _ => return Err(invalid_token()),
        };
        let keys = self.keys.snapshot();
        let now = self.clock.now();
        let expect = jwt::Expect {
            issuer: self.tokens.issuer.clone(),
            audience,
        };
        let claims =
            jwt::verify(token, &keys.at(now), now, &expect).map_err(|_| invalid_token())?;
        if !self.current(&claims) {
            return Err(invalid_token());
        }
        // The signature held, so the payload read above is the token's.
        if !unverified.get("client_id").is_some_and(Value::is_string) {
            return Err(invalid_token());
        }
        Ok(unverified)
    }

    /// Userinfo: `sub` and the claims the token's scopes release. The token
    /// must carry `openid`.
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>> {
        let claims = self.verify_client_access(token)?;
        let scope = claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let scopes: Vec<&str> = scope.split(' ').collect();
        if !scopes.contains(&"openid") {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "insufficient_scope",
                "the access token was not granted the openid scope",
            ));
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(invalid_token)?;
        let account = self.live_account(sub).await.map_err(|_| invalid_token())?;
        let roles = self.store.roles(account.id.clone()).await?;
        let mut out = Map::new();
        out.insert("sub".into(), json!(account.id));
        scope_claims(&account, &roles, &scopes, &mut out);
        Ok(out)
    }

    /// RFC 7662 introspection for an authenticated client: `{"active":
    /// false}` for any token that is invalid, or not issued to `client` and
    /// not naming it in `aud` — indistinguishable on purpose.
    pub async fn introspect_for_client(
        &self,
        client: &ClientRecord,
        token: &str,
    ) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        out.insert("active".into(), json!(false));
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Ok(out);
        }
        if token.matches('.').count() == 2 {
            let Ok(claims) = self.verify_client_access(token) else {
                return Ok(out);
            };
            let text = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default();
            if text("client_id") != client.client_id && text("aud") != client.client_id {
                return Ok(out);
            }
            let username = match self.live_account(text("sub")).await {
                Ok(a) => a.username,
                Err(_) => return Ok(out),
            };
            out.insert("active".into(), json!(true));
            out.insert("token_type".into(), json!("Bearer"));
            out.insert("username".into(), json!(username));
            for name in ["scope", "client_id", "sub", "aud", "iss", "jti"] {
                out.insert(name.into(), json!(text(name)));
            }
            for name in ["exp", "iat", "nbf"] {
                if let Some(v) = claims.get(name) {
                    out.insert(name.into(), v.clone());
                }
            }
            return Ok(out);
        }
        let Some(hash) = self.refresh_secrets.hash(token) else {
            return Ok(out);
        };
        let Some(rec) = self.store.refresh_token(hash).await? else {
            return Ok(out);
        };
        let Some(grant) = self.store.oauth_grant(rec.family_id.clone()).await? else {
            return Ok(out);
        };
        let now = self.clock.now();
        let live = rec.used_at.is_none()
            && rec.revoked_at.is_none()
            && rec.expires_at >= now
            && self.versions.get(&rec.account_id) == Some(rec.token_version);
        if !live || grant.client_id != client.client_id {
            return Ok(out);
        }
        let Ok(account) = self.live_account(&rec.account_id).await else {
            return Ok(out);
        };
        out.insert("active".into(), json!(true));
        out.insert("token_type".into(), json!("refresh_token"));
        out.insert("scope".into(), json!(grant.scope));
        out.insert("client_id".into(), json!(grant.client_id));
        out.insert("username".into(), json!(account.username));
        out.insert("sub".into(), json!(account.id));
        out.insert("iss".into(), json!(self.tokens.issuer));
        out.insert("iat".into(), json!(rec.issued_at));
        out.insert("exp".into(), json!(rec.expires_at));
        Ok(out)
    }

    /// RFC 7009 revocation by an authenticated client: only its own tokens
    /// (as introspection sees them); anything else is left alone, and the
    /// answer is the same.
    pub async fn revoke_for_client(
        &self,
        caller: &crate::idm::Caller,
        client: &ClientRecord,
        token: &str,
    ) -> Result<()> {
        let seen = self.introspect_for_client(client, token).await?;
        if seen.get("active") == Some(&json!(true)) {
            self.revoke_value(caller, token).await?;
        }
        Ok(())
    }
}
