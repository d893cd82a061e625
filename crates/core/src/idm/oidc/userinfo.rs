//! What a relying party reads back with an access token issued to it: the
//! userinfo claims (OpenID Connect Core 5.3), by the granted scopes.

use serde_json::{Map, Value, json};

use super::grant::scope_claims;
use crate::crypto::{b64url_decode, jwt};
use crate::error::{Error, ErrorKind, Result};
use crate::idm::Idm;

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
    pub(super) fn verify_client_access(&self, token: &str) -> Result<Map<String, Value>> {
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
}
