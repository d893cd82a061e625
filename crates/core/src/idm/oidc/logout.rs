//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the
//! `id_token_hint` verified against our keys (its expiry ignored, as the
//! spec allows), and the `post_logout_redirect_uri` accepted only when it is
//! registered, exactly, for the client the hint or `client_id` names.

use serde_json::Value;

use crate::idm::Idm;

/// A validated end-session request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndSession {
    /// Where to send the browser afterwards (registered for the client).
    pub redirect: Option<String>,
    /// The account the hint names.
    pub subject: Option<String>,
    /// The session the hint names.
    pub sid: Option<String>,
    /// The client the request names.
    pub client_id: Option<String>,
}

impl Idm {
    /// Validates an end-session request. The error is a message for a page:
    /// nothing here ever redirects to an unregistered address.
    pub async fn end_session_request(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        client_id: Option<&str>,
    ) -> std::result::Result<EndSession, String> {
        let mut out = EndSession::default();
        if let Some(hint) = id_token_hint {
            let keys = self.keys.snapshot();
            let claims = keys
                .verify_jwt(hint, self.clock.now())
                .map_err(|_| "The id_token_hint is not an ID token issued here.".to_owned())?;
            if claims.get("iss").and_then(Value::as_str) != Some(self.tokens.issuer.as_str()) {
                return Err("The id_token_hint was issued by another provider.".to_owned());
            }
            out.subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
            out.sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
            let aud = match claims.get("aud") {
                Some(Value::String(a)) => Some(a.clone()),
                Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().map(str::to_owned),
                _ => None,
            };
            if let (Some(given), Some(aud)) = (client_id, &aud)
                && given != aud
            {
                return Err("client_id does not match the id_token_hint.".to_owned());
            }
            out.client_id = aud;
        }
        if out.client_id.is_none() {
            out.client_id = client_id.map(str::to_owned);
        }
        if let Some(uri) = post_logout_redirect_uri {
            let Some(cid) = out.client_id.clone() else {
                return Err(
                    "post_logout_redirect_uri needs an id_token_hint or a client_id.".to_owned(),
                );
            };
            let client = match self.store.client(cid).await {
                Ok(Some(c)) => c,
                Ok(None) => return Err("The application (client_id) is not registered.".to_owned()),
                Err(e) => {
                    tracing::error!(error = %e, "loading a client");
                    return Err("The request cannot be served right now; try again.".to_owned());
                }
            };
            if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(
                    "The post_logout_redirect_uri is not registered for this application."
                        .to_owned(),
                );
            }
            out.redirect = Some(uri.to_owned());
        }
        Ok(out)
    }
}
