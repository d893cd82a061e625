//! Authorization requests (RFC 6749 section 4.1, OpenID Connect Core 3.1.2):
//! validation in the order that keeps redirects safe — client, then the
//! exact redirect URI (errors before this point are shown, never
//! redirected), then everything else (errors go back to the client) —,
//! what the browser needs next (sign-in, consent, or a code), consent, and
//! single-use codes bound to client, redirect URI, PKCE challenge and nonce.

use serde_json::json;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{CODE_TTL_SECS, secret_hash};
use crate::error::Result;
use crate::idm::{Caller, Idm};
use crate::model::{AuthCode, ClientRecord, ClientType, GrantType, Outcome, WebSession};

/// The longest `state` and `nonce` accepted.
const MAX_STATE: usize = 1024;
/// The longest `scope`, `login_hint` accepted.
const MAX_PARAM: usize = 1024;

/// The parameters of an authorization request, as received.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// `response_type`
    pub response_type: Option<String>,
    /// `response_mode`
    pub response_mode: Option<String>,
    /// `client_id`
    pub client_id: Option<String>,
    /// `redirect_uri`
    pub redirect_uri: Option<String>,
    /// `scope`
    pub scope: Option<String>,
    /// `state`
    pub state: Option<String>,
    /// `nonce`
    pub nonce: Option<String>,
    /// `code_challenge`
    pub code_challenge: Option<String>,
    /// `code_challenge_method`
    pub code_challenge_method: Option<String>,
    /// `prompt`
    pub prompt: Option<String>,
    /// `max_age`
    pub max_age: Option<String>,
    /// `login_hint`
    pub login_hint: Option<String>,
    /// `request` or `request_uri` was present (not supported).
    pub request_object: bool,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// The application.
    pub client: ClientRecord,
    /// The registered redirect URI it named.
    pub redirect_uri: String,
    /// The scopes requested (all allowed for the client), in request order.
    pub scopes: Vec<String>,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// The client's `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt=none`
    pub prompt_none: bool,
    /// `prompt=login`
    pub prompt_login: bool,
    /// `prompt=consent`
    pub prompt_consent: bool,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// `login_hint`, a username to prefill.
    pub login_hint: Option<String>,
}

/// Why an authorization request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Before the redirect URI is known to be the client's: shown on a
    /// page, never redirected.
    Page(String),
    /// Sent back to the client's redirect URI (RFC 6749 section 4.1.2.1).
    Redirect {
        /// The validated redirect URI.
        redirect_uri: String,
        /// The OAuth error code.
        error: &'static str,
        /// A description naming the problem.
        description: String,
        /// The client's `state`.
        state: Option<String>,
    },
}

/// What the browser needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Sign in (again).
    SignIn,
    /// Ask for consent.
    Consent,
    /// Issue a code.
    Issue,
}

fn too_long(v: &Option<String>, max: usize) -> bool {
    v.as_ref().is_some_and(|s| s.len() > max)
}

/// A PKCE S256 challenge: 43 characters of base64url (a SHA-256).
fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AuthorizeRequest {
    /// An error for the client, at its validated redirect URI.
    pub fn error(&self, error: &'static str, description: impl Into<String>) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: description.into(),
            state: self.state.clone(),
        }
    }

    /// The scopes as one space-separated string.
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

impl Idm {
    /// Validates an authorization request.
    pub async fn authorization_request(
        &self,
        p: &AuthorizeParams,
    ) -> std::result::Result<AuthorizeRequest, AuthorizeError> {
        let page = |m: &str| AuthorizeError::Page(m.to_owned());
        let client_id = match p.client_id.as_deref() {
            None | Some("") => return Err(page("The request names no application (client_id).")),
            Some(id) => id,
        };
        if crate::idm::check_client_id(client_id).is_err() {
            return Err(page("The application (client_id) is not registered."));
        }
        let client = match self.store.client(client_id.to_owned()).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(page("The application (client_id) is not registered.")),
            Err(e) => {
                tracing::error!(error = %e, "loading a client");
                return Err(page("The request cannot be served right now; try again."));
            }
        };
        let redirect_uri = match p.redirect_uri.as_deref() {
            None | Some("") => {
                return Err(page("The request names no redirect_uri."));
            }
            Some(r) => r,
        };
        // Exact string comparison with a registered URI: no prefix, no
        // normalisation.
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(page(
                "The redirect_uri is not registered for this application.",
            ));
        }
        let mut req = AuthorizeRequest {
            redirect_uri: redirect_uri.to_owned(),
            scopes: Vec::new(),
            state: p.state.clone().filter(|s| !s.is_empty()),
            nonce: p.nonce.clone().filter(|s| !s.is_empty()),
            code_challenge: None,
            prompt_none: false,
            prompt_login: false,
            prompt_consent: false,
            max_age: None,
            login_hint: p.login_hint.clone().filter(|s| !s.is_empty()),
            client,
        };
        if too_long(&p.state, MAX_STATE) {
            req.state = None;
            return Err(req.error("invalid_request", "state is too long"));
        }
        if too_long(&p.nonce, MAX_STATE)
            || too_long(&p.scope, MAX_PARAM)
            || too_long(&p.login_hint, MAX_PARAM)
            || too_long(&p.code_challenge, 128)
        {
            return Err(req.error(
                "invalid_request",
                "nonce, scope, login_hint or code_challenge is too long",
            ));
        }
        if p.request_object {
            return Err(req.error(
                "request_not_supported",
                "request objects (request, request_uri) are not supported",
            ));
        }
        if !req
            .client
            .grant_types
            .contains(&GrantType::AuthorizationCode)
        {
            return Err(req.error(
                "unauthorized_client",
                "this application may not use the authorization code grant",
            ));
        }
        match p.response_type.as_deref() {
            Some("code") => {}
            None | Some("") => {
                return Err(req.error("invalid_request", "response_type is required"));
            }
            Some(_) => {
                return Err(req.error(
                    "unsupported_response_type",
                    "only response_type=code is supported",
                ));
            }
        }
        match p.response_mode.as_deref() {
            None | Some("") | Some("query") => {}
            Some(_) => {
                return Err(req.error("invalid_request", "only response_mode=query is supported"));
            }
        }
        let scope = p.scope.as_deref().unwrap_or_default();
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            if !req.client.scopes.iter().any(|a| a == s) {
                return Err(req.error(
                    "invalid_scope",
                    format!("scope {s:?} is not allowed for this application"),
                ));
            }
            if !req.scopes.iter().any(|x| x == s) {
                req.scopes.push(s.to_owned());
            }
        }
        if req.scopes.is_empty() {
            return Err(req.error("invalid_scope", "scope is required"));
        }
        match (
            p.code_challenge.as_deref().filter(|c| !c.is_empty()),
            p.code_challenge_method.as_deref(),
        ) {
            (Some(c), Some("S256")) if valid_challenge(c) => {
                req.code_challenge = Some(c.to_owned())
            }
            (Some(_), Some("S256")) => {
                return Err(req.error(
                    "invalid_request",
                    "code_challenge must be 43 characters of base64url (S256)",
                ));
            }
            (Some(_), _) => {
                return Err(req.error("invalid_request", "code_challenge_method must be S256"));
            }
            (None, Some(_)) => {
                return Err(req.error(
                    "invalid_request",
                    "code_challenge_method without code_challenge",
                ));
            }
            (None, None) if req.client.client_type == ClientType::Public => {
                return Err(req.error(
                    "invalid_request",
                    "this application must use PKCE (code_challenge with S256)",
                ));
            }
            (None, None) => {}
        }
        for prompt in p
            .prompt
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            match prompt {
                "none" => req.prompt_none = true,
                "login" | "select_account" => req.prompt_login = true,
                "consent" => req.prompt_consent = true,
                other => {
                    return Err(req.error(
                        "invalid_request",
                        format!("prompt {other:?} is not supported"),
                    ));
                }
            }
        }
        if req.prompt_none && (req.prompt_login || req.prompt_consent) {
            return Err(req.error(
                "invalid_request",
                "prompt=none cannot be combined with another prompt",
            ));
        }
        if let Some(m) = p.max_age.as_deref().filter(|m| !m.is_empty()) {
            match m.parse::<i64>() {
                Ok(v) if v >= 0 => req.max_age = Some(v),
                _ => {
                    return Err(req.error(
                        "invalid_request",
                        "max_age must be a non-negative number of seconds",
                    ));
                }
            }
        }
        Ok(req)
    }

    /// What the browser needs next for `req`, given its session.
    /// `prompt=none` turns a needed page into an error for the client.
    pub async fn authorize_next(
        &self,
        req: &AuthorizeRequest,
        session: Option<&WebSession>,
    ) -> std::result::Result<Next, AuthorizeError> {
        let now = self.clock.now();
        let Some(session) = session else {
            return if req.prompt_none {
                Err(req.error("login_required", "the user is not signed in"))
            } else {
                Ok(Next::SignIn)
            };
        };
        let too_old = req
            .max_age
            .is_some_and(|m| now.saturating_sub(session.auth_time) > m);
        if req.prompt_login || too_old {
            return if req.prompt_none {
                Err(req.error("login_required", "the sign-in is older than max_age"))
            } else {
                Ok(Next::SignIn)
            };
        }
        if req.prompt_consent {
            return Ok(Next::Consent);
        }
        if req.client.first_party {
            return Ok(Next::Issue);
        }
        let remembered = self
            .store
            .consent(session.account_id.clone(), req.client.client_id.clone())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "loading consent");
                req.error("server_error", "consent could not be checked")
            })?;
        let covered = remembered
            .is_some_and(|granted| req.scopes.iter().all(|s| granted.iter().any(|g| g == s)));
        match (covered, req.prompt_none) {
            (true, _) => Ok(Next::Issue),
            (false, true) => Err(req.error(
                "consent_required",
                "the user has not consented to this application",
            )),
            (false, false) => Ok(Next::Consent),
        }
    }

    /// Records the user's consent decision (audited as `consent_grant` or
    /// `consent_deny`); a remembered grant skips the consent page next time.
    pub async fn record_consent(
        &self,
        caller: &Caller,
        session: &WebSession,
        req: &AuthorizeRequest,
        allow: bool,
        remember: bool,
    ) -> Result<()> {
        let mut audit = self.audit(
            if allow {
                "consent_grant"
            } else {
                "consent_deny"
            },
            caller,
            Some(&session.account_id),
            if allow {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            json!({
                "client_id": req.client.client_id,
                "scopes": req.scopes,
                "remembered": allow && remember,
            }),
        );
        audit.actor_id = Some(session.account_id.clone());
        if allow && remember {
            self.store
                .set_consent(
                    session.account_id.clone(),
                    req.client.client_id.clone(),
                    req.scopes.clone(),
                    self.clock.now(),
                    audit,
                )
                .await
        } else {
            self.store.append_audit(audit).await
        }
    }

    /// Issues a single-use code for `req` in `session` (audited as
    /// `oauth_authorize`); the value is returned once and stored only as a
    /// hash.
    pub async fn issue_code(
        &self,
        caller: &Caller,
        req: &AuthorizeRequest,
        session: &WebSession,
    ) -> Result<Zeroizing<String>> {
        let now = self.clock.now();
        let random: Zeroizing<[u8; 32]> =
            Zeroizing::new(crate::clock::random_array(self.rng.as_ref()));
        let code = Zeroizing::new(crate::crypto::b64url(random.as_ref()));
        let mut audit = self.audit(
            "oauth_authorize",
            caller,
            Some(&session.account_id),
            Outcome::Success,
            json!({ "client_id": req.client.client_id, "scope": req.scope(), "session": session.sid }),
        );
        audit.actor_id = Some(session.account_id.clone());
        self.store
            .insert_auth_code(
                AuthCode {
                    code_hash: secret_hash(&code),
                    client_id: req.client.client_id.clone(),
                    account_id: session.account_id.clone(),
                    redirect_uri: req.redirect_uri.clone(),
                    scope: req.scope(),
                    nonce: req.nonce.clone(),
                    code_challenge: req.code_challenge.clone(),
                    sid: session.sid.clone(),
                    auth_time: session.auth_time,
                    amr: session.amr.clone(),
                    created_at: now,
                    expires_at: now + CODE_TTL_SECS,
                    used_at: None,
                    family_id: None,
                },
                audit,
            )
            .await?;
        Ok(code)
    }
}

/// Whether a PKCE verifier matches an S256 challenge (RFC 7636 section
/// 4.6), compared in constant time. The verifier must be 43 to 128
/// unreserved characters.
pub(super) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use sha2::{Digest, Sha256};
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = crate::crypto::b64url(&Sha256::digest(verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
        assert!(valid_challenge(challenge));
        assert!(!valid_challenge("plain-challenge"));
    }
}
