//! Cryptography: sealing secrets at rest, the master key, password hashing,
//! Ed25519 and RSA signing keys, JWTs and TOTP. Nothing here knows about the database
//! or the wire.

pub mod jwt;
pub mod keys;
pub mod master;
pub mod password;
pub mod rsa;
pub mod seal;
pub mod totp;

/// Base64url without padding, the encoding of JWS and JWK.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}
