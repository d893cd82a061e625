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
