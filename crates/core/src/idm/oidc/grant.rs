//! The token endpoint's grants for applications: client authentication,
//! the authorization-code exchange (single use, PKCE, redirect URI, a reused
//! code revokes what it issued), refresh scoped to the client, and the
//! tokens they issue — access tokens per RFC 9068 (`typ: at+jwt`,
//! `client_id`, `scope`, the client's audience) and ID tokens signed with
//! the client's algorithm.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use super::authorize::pkce_matches;
use super::{invalid_grant, oauth_error, secret_hash};
use crate::error::{ErrorKind, Result};
use crate::idm::{Caller, Idm};
use crate::model::{
    AccountRecord, AccountStatus, ClientRecord, ClientType, CodeOutcome, GrantType, NewToken,
    OAuthGrant, Outcome, SigningAlg, TokenKind,
};

/// How the client authenticated at the token endpoint.
pub struct ClientAuth {
    /// The client id (from Basic auth, or the `client_id` parameter).
    pub client_id: String,
    /// The secret (`client_secret_basic` or `client_secret_post`); `None`
    /// for a public client.
    pub secret: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What the token endpoint returns to an application.
pub struct TokenSet {
    /// The access token (RFC 9068 JWT).
    pub access_token: Zeroizing<String>,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The ID token, when `openid` was granted.
    pub id_token: Option<String>,
    /// A refresh token, when the client may refresh.
    pub refresh_token: Option<Zeroizing<String>>,
    /// The granted scopes, space-separated.
    pub scope: String,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn invalid_client() -> crate::error::Error {
    oauth_error(
        ErrorKind::Unauthenticated,
        "invalid_client",
        "client authentication failed",
    )
}

/// The left half of the hash of an access token (OpenID Connect Core
/// 3.1.3.6): SHA-256 for RS256, SHA-512 for EdDSA over Ed25519.
fn at_hash(alg: SigningAlg, token: &str) -> String {
    match alg {
        SigningAlg::Rs256 => crate::crypto::b64url(&Sha256::digest(token.as_bytes())[..16]),
        SigningAlg::EdDsa => crate::crypto::b64url(&Sha512::digest(token.as_bytes())[..32]),
    }
}

/// `acr`: "2" after a second factor, else "1".
fn acr(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") {
        "2"
    } else {
        "1"
    }
}

/// The claims the granted scopes release about an account (ID token and
/// userinfo).
pub(super) fn scope_claims(
    account: &AccountRecord,
    roles: &[String],
    scopes: &[&str],
    out: &mut Map<String, Value>,
) {
    let p = &account.profile;
    if scopes.contains(&"profile") {
        out.insert(
            "name".into(),
            json!(p.display_name.as_deref().unwrap_or(&account.username)),
        );
        out.insert("preferred_username".into(), json!(account.username));
        if let Some(g) = &p.given_name {
            out.insert("given_name".into(), json!(g));
        }
        if let Some(f) = &p.family_name {
            out.insert("family_name".into(), json!(f));
        }
        out.insert("updated_at".into(), json!(account.updated_at));
    }
    if scopes.contains(&"email")
        && let Some(e) = &p.email
    {
        out.insert("email".into(), json!(e));
        out.insert("email_verified".into(), json!(p.email_verified));
    }
    if scopes.contains(&"roles") {
        out.insert("roles".into(), json!(roles));
    }
}

impl Idm {
    /// Authenticates an application at the token endpoint: a confidential
    /// client by its secret (constant-time), a public client by its id
    /// alone (it must not present a secret). Failures are `invalid_client`.
    pub async fn authenticate_client(&self, auth: &ClientAuth) -> Result<ClientRecord> {
        if crate::idm::check_client_id(&auth.client_id).is_err() {
            return Err(invalid_client());
        }
        match &auth.secret {
            Some(secret) => {
                let client = self
                    .verify_oauth_client_secret(&auth.client_id, secret)
                    .await?;
                if client.client_type != ClientType::Confidential {
                    return Err(invalid_client());
                }
                Ok(client)
            }
            None => match self.store.client(auth.client_id.clone()).await? {
                Some(c) if c.client_type == ClientType::Public => Ok(c),
                _ => Err(invalid_client()),
            },
        }
    }

    fn client_access_ttl(&self, client: &ClientRecord) -> i64 {
        if client.access_token_ttl > 0 {
            client.access_token_ttl
        } else {
            self.tokens.access_ttl.secs_i64()
        }
    }

    /// Signs an access token for `client` (RFC 9068) and the record of it.
    async fn mint_client_access(
        &self,
        account: &AccountRecord,
        client: &ClientRecord,
        grant: &OAuthGrant,
    ) -> Result<(Zeroizing<String>, NewToken, Vec<String>)> {
        let now = self.clock.now();
        let exp = now.saturating_add(self.client_access_ttl(client));
        let jti = self.new_id();
        let roles = self.store.roles(account.id.clone()).await?;
        let scopes: Vec<&str> = grant.scope.split(' ').collect();
        let audience = if client.audience.is_empty() {
            client.client_id.clone()
        } else {
            client.audience.clone()
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.tokens.issuer));
        claims.insert("sub".into(), json!(account.id));
        claims.insert("aud".into(), json!(audience));
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(now));
        claims.insert("exp".into(), json!(exp));
        claims.insert("jti".into(), json!(jti));
        claims.insert("client_id".into(), json!(client.client_id));
        claims.insert("scope".into(), json!(grant.scope));
        claims.insert("auth_time".into(), json!(grant.auth_time));
        claims.insert("typ".into(), json!(account.account_type.as_str()));
        claims.insert("uv".into(), json!(account.token_version));
        if let Some(sid) = &grant.sid {
            claims.insert("sid".into(), json!(sid));
        }
        if scopes.contains(&"roles") {
            claims.insert("roles".into(), json!(roles));
        }
        let token = Zeroizing::new(self.keys.snapshot().sign_jwt(
            SigningAlg::EdDsa,
            "at+jwt",
            &Value::Object(claims),
        )?);
        Ok((
            token,
            NewToken {
                jti,
                account_id: account.id.clone(),
                kind: TokenKind::Session,
                issued_at: now,
                expires_at: exp,
                family_id: Some(grant.family_id.clone()),
            },
            roles,
        ))
    }

    /// An ID token for `grant`, signed with the client's algorithm.
    fn id_token(
        &self,
        account: &AccountRecord,
        roles: &[String],
        client: &ClientRecord,
        grant: &OAuthGrant,
        nonce: Option<&str>,
        access_token: &str,
    ) -> Result<String> {
        let now = self.clock.now();
        let scopes: Vec<&str> = grant.scope.split(' ').collect();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.tokens.issuer));
        claims.insert("sub".into(), json!(account.id));
        claims.insert("aud".into(), json!(client.client_id));
        claims.insert("azp".into(), json!(client.client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert(
            "exp".into(),
            json!(now.saturating_add(self.client_access_ttl(client))),
        );
        claims.insert("auth_time".into(), json!(grant.auth_time));
        if let Some(n) = nonce {
            claims.insert("nonce".into(), json!(n));
        }
        claims.insert("amr".into(), json!(grant.amr));
        claims.insert("acr".into(), json!(acr(&grant.amr)));
        claims.insert(
            "at_hash".into(),
            json!(at_hash(client.id_token_alg, access_token)),
        );
        if let Some(sid) = &grant.sid {
            claims.insert("sid".into(), json!(sid));
        }
        scope_claims(account, roles, &scopes, &mut claims);
        self.keys
            .snapshot()
            .sign_jwt(client.id_token_alg, "JWT", &Value::Object(claims))
    }

    /// The `authorization_code` grant: the code is used up (a second use
    /// revokes what the first issued), must have been issued to `client`
    /// for `redirect_uri`, and the PKCE verifier must match its challenge.
    pub async fn exchange_code(
        &self,
        caller: &Caller,
        client: &ClientRecord,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> Result<TokenSet> {
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(oauth_error(
                ErrorKind::PermissionDenied,
                "unauthorized_client",
                "this application may not use the authorization code grant",
            ));
        }
        if code.is_empty() || code.len() > 128 {
            return Err(invalid_grant("invalid authorization code"));
        }
        let code_hash = secret_hash(code);
        let reuse = self.audit(
            "oauth_code_reuse",
            caller,
            None,
            Outcome::Failure,
            json!({ "client_id": client.client_id }),
        );
        let found = match self
            .store
            .take_auth_code(code_hash.clone(), self.clock.now(), reuse)
            .await?
        {
            CodeOutcome::Fresh(c) => c,
            CodeOutcome::Reused(c, revoked) => {
                tracing::warn!(client_id = %c.client_id, "authorization code reused: its grant is revoked");
                self.mirror_revocations(revoked);
                return Err(invalid_grant("the authorization code was already used"));
            }
            CodeOutcome::Invalid => {
                return Err(invalid_grant("invalid or expired authorization code"));
            }
        };
        if found.client_id != client.client_id {
            return Err(invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if found.redirect_uri != redirect_uri {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&found.code_challenge, verifier) {
            (Some(ch), Some(v)) if pkce_matches(v, ch) => {}
            (Some(_), Some(_)) => return Err(invalid_grant("code_verifier does not match")),
            (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "code_verifier given, but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        let account = match self.store.account(found.account_id.clone()).await? {
            Some(a) if a.status == AccountStatus::Active => a,
            _ => return Err(invalid_grant("the account is not active")),
        };
        let grant = OAuthGrant {
            family_id: self.new_id(),
            client_id: client.client_id.clone(),
            account_id: account.id.clone(),
            scope: found.scope.clone(),
            sid: Some(found.sid.clone()),
            auth_time: found.auth_time,
            amr: found.amr.clone(),
            created_at: self.clock.now(),
        };
        let (access, record, roles) = self.mint_client_access(&account, client, &grant).await?;
        let id_token = if grant.scope.split(' ').any(|s| s == "openid") {
            Some(self.id_token(
                &account,
                &roles,
                client,
                &grant,
                found.nonce.as_deref(),
                &access,
            )?)
        } else {
            None
        };
        let refresh = if client.grant_types.contains(&GrantType::RefreshToken) {
            let (value, mut rec) =
                self.new_refresh(&account.id, &grant.family_id, account.token_version, None)?;
            if client.refresh_token_ttl > 0 {
                rec.expires_at = rec.issued_at.saturating_add(client.refresh_token_ttl);
            }
            Some((value, rec))
        } else {
            None
        };
        let mut audit = self.audit(
            "oauth_token",
            caller,
            Some(&account.id),
            Outcome::Success,
            json!({
                "client_id": client.client_id,
                "grant_type": "authorization_code",
                "scope": grant.scope,
                "jti": record.jti,
                "family": grant.family_id,
            }),
        );
        audit.actor_id = Some(account.id.clone());
        let expires_in = record.expires_at - record.issued_at;
        let scope = grant.scope.clone();
        let (refresh_value, refresh_rec) = match refresh {
            Some((v, r)) => (Some(v), Some(r)),
            None => (None, None),
        };
        self.store
            .issue_grant(grant, Some(code_hash), record, refresh_rec, audit)
            .await?;
        Ok(TokenSet {
            access_token: access,
            expires_in,
            id_token,
            refresh_token: refresh_value,
            scope,
        })
    }

    /// The `refresh_token` grant for an application: the refresh token must
    /// belong to a grant of `client`; rotation, grace and reuse detection
    /// are the API refresh's. `scope` may narrow the new access token to
    /// part of the grant.
    pub async fn refresh_for_client(
        &self,
        caller: &Caller,
        client: &ClientRecord,
        token: &str,
        scope: Option<&str>,
    ) -> Result<TokenSet> {
        if !client.grant_types.contains(&GrantType::RefreshToken) {
            return Err(oauth_error(
                ErrorKind::PermissionDenied,
                "unauthorized_client",
                "this application may not use the refresh_token grant",
            ));
        }
        let (issued, grant, account, roles) = self
            .rotate_refresh_token(caller, token, Some(client), scope)
            .await?;
        let Some(grant) = grant else {
            return Err(invalid_grant("invalid, expired or revoked refresh token"));
        };
        let id_token = if grant.scope.split(' ').any(|s| s == "openid") {
            Some(self.id_token(&account, &roles, client, &grant, None, &issued.token)?)
        } else {
            None
        };
        Ok(TokenSet {
            expires_in: issued.expires_at - self.clock.now(),
            access_token: issued.token,
            id_token,
            refresh_token: issued.refresh.map(|(v, _)| v),
            scope: grant.scope,
        })
    }

    /// Mints an application's access token during refresh rotation.
    pub(in crate::idm) async fn mint_for_grant(
        &self,
        account: &AccountRecord,
        client: &ClientRecord,
        grant: &OAuthGrant,
    ) -> Result<(crate::idm::IssuedToken, NewToken, Vec<String>)> {
        let (token, record, roles) = self.mint_client_access(account, client, grant).await?;
        Ok((
            crate::idm::IssuedToken {
                token,
                expires_at: record.expires_at,
                refresh: None,
            },
            record,
            roles,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half() {
        // OpenID Connect Core, A.3/A.4 style: left-most half of the hash.
        let t = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(SigningAlg::Rs256, t).len(), 22);
        assert_eq!(at_hash(SigningAlg::EdDsa, t).len(), 43);
        assert_eq!(acr(&["pwd".into()]), "1");
        assert_eq!(acr(&["pwd".into(), "otp".into(), "mfa".into()]), "2");
    }
}
