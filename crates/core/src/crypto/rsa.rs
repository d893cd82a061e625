//! RSA signing keys for RS256 (the algorithm OpenID Connect requires of ID
//! tokens), with `kid` = the RFC 7638 thumbprint of {e, kty, n}.
//!
//! Generation uses the `rsa` crate, driven by the injected [`SecureRandom`]
//! (so seeded tests are deterministic); the private key is kept as PKCS#8
//! DER and the public key as PKCS#1 `RSAPublicKey` DER. Signing and
//! verification use `ring` only: the `rsa` crate's private-key operation is
//! not constant time (RUSTSEC-2023-0071, the Marvin attack), so it never
//! touches a private key here beyond creating it.

use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use rsa::pkcs1::der::{Decode, Encode};
use rsa::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::b64url;
use super::keys::Jwk;
use crate::clock::SecureRandom;
use crate::error::{Error, Result};

/// The modulus size of generated keys, in bits.
pub const BITS: usize = 2048;

/// The smallest modulus accepted from storage, in bytes (2048 bits, as
/// `RSA_PKCS1_2048_8192_SHA256` verifies).
const MIN_MODULUS_BYTES: usize = 256;
/// The largest, in bytes (8192 bits).
const MAX_MODULUS_BYTES: usize = 1024;

/// [`SecureRandom`] as the `rand_core` generator the `rsa` crate wants.
struct RngAdaptor<'a>(&'a dyn SecureRandom);

impl rand::RngCore for RngAdaptor<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rand::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

// `SecureRandom` is a cryptographically secure source by contract.
impl rand::CryptoRng for RngAdaptor<'_> {}

/// A fresh RSA-2048 private key from `rng`, as PKCS#8 DER.
///
/// Slow: a prime search (tens to hundreds of milliseconds optimized).
pub fn generate(rng: &dyn SecureRandom) -> Result<Zeroizing<Vec<u8>>> {
    let key = rsa::RsaPrivateKey::new(&mut RngAdaptor(rng), BITS)
        .map_err(|e| Error::internal(format!("RSA key generation: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| Error::internal(format!("RSA key encoding: {e}")))?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

/// An RSA public key: modulus and exponent, big-endian without leading
/// zeros, and its PKCS#1 DER encoding (the stored form).
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
    der: Vec<u8>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &(self.n.len() * 8))
            .field("kid", &self.thumbprint())
            .finish()
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

impl RsaPublicKey {
    /// From modulus and exponent (big-endian; leading zeros are dropped).
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let (n, e) = (strip_zeros(n), strip_zeros(e));
        if !(MIN_MODULUS_BYTES..=MAX_MODULUS_BYTES).contains(&n.len()) {
            return Err(Error::internal(format!(
                "RSA modulus of {} bits is out of range",
                n.len() * 8
            )));
        }
        if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b & 1 == 0) {
            return Err(Error::internal("RSA public exponent is invalid"));
        }
        let der = rsa::pkcs1::RsaPublicKey {
            modulus: rsa::pkcs1::UintRef::new(n)
                .map_err(|e| Error::internal(format!("RSA modulus: {e}")))?,
            public_exponent: rsa::pkcs1::UintRef::new(e)
                .map_err(|e| Error::internal(format!("RSA exponent: {e}")))?,
        }
        .to_der()
        .map_err(|e| Error::internal(format!("RSA public key encoding: {e}")))?;
        Ok(Self {
            n: n.to_vec(),
            e: e.to_vec(),
            der,
        })
    }

    /// Parses a stored PKCS#1 `RSAPublicKey` (DER).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let parsed = rsa::pkcs1::RsaPublicKey::from_der(der)
            .map_err(|_| Error::internal("stored RSA public key is not PKCS#1 DER"))?;
        let key =
            Self::from_components(parsed.modulus.as_bytes(), parsed.public_exponent.as_bytes())?;
        if key.der != der {
            return Err(Error::internal(
                "stored RSA public key is not in canonical DER",
            ));
        }
        Ok(key)
    }

    /// The PKCS#1 `RSAPublicKey` DER encoding (the stored form).
    pub fn to_pkcs1_der(&self) -> &[u8] {
        &self.der
    }

    /// The modulus, big-endian without leading zeros.
    pub fn n(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian without leading zeros.
    pub fn e(&self) -> &[u8] {
        &self.e
    }

    /// The RFC 7638 thumbprint: SHA-256 of `{"e":…,"kty":"RSA","n":…}`.
    pub fn thumbprint(&self) -> String {
        // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            b64url(&self.e),
            b64url(&self.n)
        );
        b64url(&Sha256::digest(canonical.as_bytes()))
    }

    /// The public JWK (RFC 7518 §6.3) for RS256.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "RSA",
            crv: None,
            x: None,
            n: Some(b64url(&self.n)),
            e: Some(b64url(&self.e)),
            kid: self.thumbprint(),
            alg: "RS256",
            use_: "sig",
        }
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature
    /// of `message` (ring; moduli of 2048 to 8192 bits).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }
}

/// An RSA private key ready to sign RS256 (ring), with its public key.
pub struct RsaSigningKey {
    pair: RsaKeyPair,
    public: RsaPublicKey,
}

impl std::fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl RsaSigningKey {
    /// Parses (and checks) a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let pair = RsaKeyPair::from_pkcs8(der)
            .map_err(|e| Error::internal(format!("stored RSA private key is invalid: {e}")))?;
        let parts: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let public = RsaPublicKey::from_components(&parts.n, &parts.e)?;
        Ok(Self { pair, public })
    }

    /// The public key.
    pub fn public(&self) -> &RsaPublicKey {
        &self.public
    }

    /// The RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        // PKCS#1 v1.5 padding is deterministic; ring takes a generator for
        // the padding schemes that need one.
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|_| Error::internal("RSA signing failed"))?;
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;
    use crate::crypto::b64url_decode;

    #[test]
    fn rfc7638_thumbprint_vector() -> Result<()> {
        // RFC 7638 §3.1.
        let n = b64url_decode(concat!(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6",
            "4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9",
            "1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ))
        .ok_or_else(|| Error::internal("b64"))?;
        let key = RsaPublicKey::from_components(&n, &[1, 0, 1])?;
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // A leading zero byte changes nothing.
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        assert_eq!(
            RsaPublicKey::from_components(&padded, &[0, 1, 0, 1])?.thumbprint(),
            key.thumbprint()
        );
        let jwk = serde_json::to_value(key.jwk()).map_err(|e| Error::internal(e.to_string()))?;
        assert_eq!(
            jwk,
            serde_json::json!({
                "kty": "RSA",
                "n": b64url(&n),
                "e": "AQAB",
                "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                "alg": "RS256",
                "use": "sig",
            })
        );
        // The stored form round-trips.
        assert_eq!(RsaPublicKey::from_pkcs1_der(key.to_pkcs1_der())?, key);
        Ok(())
    }

    #[test]
    fn generate_sign_verify_round_trip() -> Result<()> {
        let started = std::time::Instant::now();
        let der = generate(SeededRandom::new(1).as_ref())?;
        eprintln!("RSA-{BITS} generation took {:?}", started.elapsed());
        // Deterministic from the seed.
        assert_eq!(*generate(SeededRandom::new(1).as_ref())?, *der);

        let key = RsaSigningKey::from_pkcs8(&der)?;
        assert_eq!(key.public().n().len() * 8, BITS);
        assert_eq!(key.public().e(), [1, 0, 1]);
        let stored = RsaPublicKey::from_pkcs1_der(key.public().to_pkcs1_der())?;
        assert_eq!(&stored, key.public());

        let sig = key.sign(b"message")?;
        assert_eq!(sig.len(), BITS / 8);
        // PKCS#1 v1.5 is deterministic.
        assert_eq!(key.sign(b"message")?, sig);
        assert!(stored.verify(b"message", &sig));
        assert!(!stored.verify(b"messagf", &sig));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(!stored.verify(b"message", &bad));
        assert!(!stored.verify(b"message", &sig[1..]));
        assert!(!stored.verify(b"message", &[]));

        // Another key's signature does not verify.
        let other = RsaSigningKey::from_pkcs8(&generate(SeededRandom::new(2).as_ref())?)?;
        assert_ne!(other.public().thumbprint(), stored.thumbprint());
        assert!(!stored.verify(b"message", &other.sign(b"message")?));
        Ok(())
    }

    /// How long generation takes in this build (`cargo test -p mcias-core
    /// --lib keygen_time -- --ignored --nocapture`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn keygen_time() -> Result<()> {
        let mut times = Vec::new();
        for seed in 0..10 {
            let started = std::time::Instant::now();
            generate(SeededRandom::new(seed).as_ref())?;
            times.push(started.elapsed());
        }
        times.sort();
        let total: std::time::Duration = times.iter().sum();
        eprintln!(
            "RSA-{BITS} generation, 10 keys: min {:?}, median {:?}, max {:?}, mean {:?}",
            times[0],
            times[5],
            times[9],
            total / 10
        );
        Ok(())
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(RsaSigningKey::from_pkcs8(b"not a key").is_err());
        assert!(RsaPublicKey::from_pkcs1_der(b"not a key").is_err());
        // Too small a modulus, an even or empty exponent.
        assert!(RsaPublicKey::from_components(&[0xff; 128], &[1, 0, 1]).is_err());
        assert!(RsaPublicKey::from_components(&[0xff; 256], &[2]).is_err());
        assert!(RsaPublicKey::from_components(&[0xff; 256], &[]).is_err());
    }
}
