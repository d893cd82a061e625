//! Ed25519 signing keys and the public JWK form of every signing key (Ed25519
//! here, RSA in [`super::rsa`]), with `kid` = the RFC 7638 thumbprint.

use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::b64url;
use crate::clock::SecureRandom;
use crate::error::{Error, Result};

/// A public signing key as a JWK: Ed25519 (RFC 8037 `OKP`: `crv`, `x`) or
/// RSA (RFC 7518 `RSA`: `n`, `e`); the members of the other type are absent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Jwk {
    /// `OKP` or `RSA`.
    pub kty: &'static str,
    /// `Ed25519` (OKP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    /// The public key, base64url (OKP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// The modulus, base64url (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// The public exponent, base64url (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// `EdDSA` or `RS256`.
    pub alg: &'static str,
    /// `sig`
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// The RFC 7638 thumbprint of an Ed25519 public key.
pub fn thumbprint(public: &VerifyingKey) -> String {
    // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        b64url(public.as_bytes())
    );
    b64url(&Sha256::digest(canonical.as_bytes()))
}

/// The JWK of a public key.
pub fn jwk(public: &VerifyingKey) -> Jwk {
    Jwk {
        kty: "OKP",
        crv: Some("Ed25519"),
        x: Some(b64url(public.as_bytes())),
        n: None,
        e: None,
        kid: thumbprint(public),
        alg: "EdDSA",
        use_: "sig",
    }
}

/// A fresh signing key from `rng`.
pub fn generate(rng: &dyn SecureRandom) -> SigningKey {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill(seed.as_mut());
    SigningKey::from_bytes(&seed)
}

/// Rebuilds a signing key from its 32-byte seed.
pub fn from_seed(seed: &[u8]) -> Result<SigningKey> {
    let arr: [u8; 32] = seed
        .try_into()
        .map_err(|_| Error::internal("stored signing key has the wrong length"))?;
    Ok(SigningKey::from_bytes(&arr))
}

/// Parses a stored public key.
pub fn public_from_bytes(bytes: &[u8]) -> Result<VerifyingKey> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::internal("stored public key has the wrong length"))?;
    VerifyingKey::from_bytes(&arr).map_err(|_| Error::internal("stored public key is invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8037_thumbprint_vector() -> Result<()> {
        // RFC 8037 appendix A.3.
        let x = crate::crypto::b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .ok_or_else(|| Error::internal("b64"))?;
        let public = public_from_bytes(&x)?;
        assert_eq!(
            thumbprint(&public),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        // The JWK: OKP members only, with alg and use.
        let jwk = serde_json::to_value(jwk(&public)).map_err(|e| Error::internal(e.to_string()))?;
        assert_eq!(
            jwk,
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
                "alg": "EdDSA",
                "use": "sig",
            })
        );
        Ok(())
    }
}
