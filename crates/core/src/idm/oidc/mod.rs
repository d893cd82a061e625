//! The OpenID Connect provider's domain: browser sessions and the page
//! sign-in (`session`), authorization requests, consent and codes
//! (`authorize`), the token endpoint's grants for applications and the ID
//! token (`grant`), and what relying parties read back (`userinfo`).
//! Speaks domain types; the pages and endpoints live in the server's `web`
//! and `api::oauth` modules.

mod authorize;
mod grant;
mod logout;
mod session;
mod userinfo;

pub use authorize::{AuthorizeError, AuthorizeParams, AuthorizeRequest, Next};
pub use grant::{ClientAuth, TokenSet};
pub use logout::EndSession;
pub use session::{NewSession, SignIn};

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};

/// Scopes the provider knows. Others may be registered for a client and are
/// passed through to its access tokens.
pub const STANDARD_SCOPES: &[&str] = &["openid", "profile", "email", "roles", "offline_access"];

/// Claims the provider can put in ID tokens and userinfo.
pub const CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "sid",
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "updated_at",
    "email",
    "email_verified",
    "roles",
];

/// How long an authorization code lives.
pub const CODE_TTL_SECS: i64 = 60;

/// SHA-256 of a secret value (cookie, code) as lowercase hex: what the store
/// keeps instead of the value.
pub(crate) fn secret_hash(value: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(value.as_bytes()))
}

/// An RFC 6749 section 5.2 error of the token endpoint; `code` is the
/// OAuth error name.
pub(crate) fn oauth_error(
    kind: ErrorKind,
    code: &'static str,
    message: impl Into<String>,
) -> Error {
    Error::new(kind, code, message)
}

/// `invalid_grant` with a description.
pub(crate) fn invalid_grant(message: impl Into<String>) -> Error {
    oauth_error(ErrorKind::InvalidArgument, "invalid_grant", message)
}

/// Signing of arbitrary claims with a chosen algorithm and header `typ`.
pub(crate) trait SignJwt {
    /// Signs `claims` with the active key of `alg`.
    fn sign_jwt(
        &self,
        alg: crate::model::SigningAlg,
        typ: &str,
        claims: &serde_json::Value,
    ) -> crate::error::Result<String>;
}

impl SignJwt for crate::idm::keyring::Keys {
    fn sign_jwt(
        &self,
        alg: crate::model::SigningAlg,
        typ: &str,
        claims: &serde_json::Value,
    ) -> crate::error::Result<String> {
        use ed25519_dalek::Signer;
        if alg != crate::model::SigningAlg::EdDsa {
            return Err(Error::internal("no RS256 signing key"));
        }
        let (key, kid) = self.signer();
        let header = serde_json::json!({ "alg": "EdDSA", "typ": typ, "kid": kid });
        let h = serde_json::to_vec(&header).map_err(|e| Error::internal(e.to_string()))?;
        let c = serde_json::to_vec(claims).map_err(|e| Error::internal(e.to_string()))?;
        let input = format!(
            "{}.{}",
            crate::crypto::b64url(&h),
            crate::crypto::b64url(&c)
        );
        let sig = key.sign(input.as_bytes());
        Ok(format!(
            "{input}.{}",
            crate::crypto::b64url(&sig.to_bytes())
        ))
    }
}

/// Verification of any JWT signed by one of our keys (claims unchecked).
pub(crate) trait VerifyJwt {
    /// The claims of a token our keys signed.
    fn verify_jwt(
        &self,
        token: &str,
        now: i64,
    ) -> std::result::Result<serde_json::Map<String, serde_json::Value>, crate::crypto::jwt::JwtError>;
}

impl VerifyJwt for crate::idm::keyring::Keys {
    fn verify_jwt(
        &self,
        token: &str,
        now: i64,
    ) -> std::result::Result<serde_json::Map<String, serde_json::Value>, crate::crypto::jwt::JwtError>
    {
        use crate::crypto::b64url_decode;
        use crate::crypto::jwt::{JwtError, KeyLookup};
        if token.len() > crate::crypto::jwt::MAX_TOKEN_LEN {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(c64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&b64url_decode(h64).ok_or(JwtError::Malformed)?)
                .map_err(|_| JwtError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("EdDSA") {
            return Err(JwtError::Algorithm(String::new()));
        }
        let kid = header
            .get("kid")
            .and_then(|k| k.as_str())
            .ok_or(JwtError::UnknownKey)?;
        let key = self.at(now).key(kid).ok_or(JwtError::UnknownKey)?;
        let sig: [u8; 64] = b64url_decode(s64)
            .ok_or(JwtError::Signature)?
            .try_into()
            .map_err(|_| JwtError::Signature)?;
        key.verify_strict(
            &token.as_bytes()[..h64.len() + 1 + c64.len()],
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| JwtError::Signature)?;
        serde_json::from_slice(&b64url_decode(c64).ok_or(JwtError::Malformed)?)
            .map_err(|_| JwtError::Malformed)
    }
}
