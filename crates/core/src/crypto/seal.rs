//! AES-256-GCM sealing of secrets at rest.
//!
//! A sealed value is `version (1 byte) || nonce (12 bytes) || ciphertext+tag`.
//! The associated data binds it to its table, column and row, so a ciphertext
//! copied into another row or column does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::clock::SecureRandom;
use crate::error::{Error, Result};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The 32-byte master key. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw bytes (for deriving sub-keys only).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Where a sealed value lives: table, column and row key.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    /// Table name.
    pub table: &'a str,
    /// Column name.
    pub column: &'a str,
    /// The row's primary key, as text.
    pub row: &'a str,
}

impl<'a> Aad<'a> {
    /// Names a location.
    pub fn new(table: &'a str, column: &'a str, row: &'a str) -> Self {
        Self { table, column, row }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + self.table.len() + self.column.len() + self.row.len());
        v.extend_from_slice(b"mcias.seal.v1\0");
        for part in [self.table, self.column, self.row] {
            v.extend_from_slice(&(part.len() as u64).to_be_bytes());
            v.extend_from_slice(part.as_bytes());
        }
        v
    }
}

/// Seals `plaintext` for the location `aad` under `key` with a fresh nonce.
pub fn seal(
    key: &MasterKey,
    rng: &dyn SecureRandom,
    aad: Aad<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key.as_bytes())
        .map_err(|_| Error::internal("seal: bad key length"))?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce);
    let aad_bytes = aad.bytes();
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad_bytes,
            },
        )
        .map_err(|_| Error::internal("seal: encryption failed"))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a sealed value; fails for a wrong key, a wrong location or any
/// tampering, without saying which.
pub fn open(key: &MasterKey, aad: Aad<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let fail = || {
        Error::internal(format!(
            "sealed value at {}.{}[{}] does not open (wrong master key or tampered data)",
            aad.table, aad.column, aad.row
        ))
    };
    if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
        return Err(fail());
    }
    let cipher = Aes256Gcm::new_from_slice(key.as_bytes()).map_err(|_| fail())?;
    let aad_bytes = aad.bytes();
    cipher
        .decrypt(
            Nonce::from_slice(&sealed[1..1 + NONCE_LEN]),
            Payload {
                msg: &sealed[1 + NONCE_LEN..],
                aad: &aad_bytes,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| fail())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{OsRandom, SeededRandom};

    fn key(b: u8) -> MasterKey {
        MasterKey::from_bytes([b; 32])
    }

    #[test]
    fn round_trip() -> Result<()> {
        let rng = SeededRandom::new(1);
        let aad = Aad::new("accounts", "totp_secret", "id-1");
        let sealed = seal(&key(7), rng.as_ref(), aad, b"secret")?;
        assert_ne!(&sealed[1 + NONCE_LEN..], b"secret");
        assert_eq!(open(&key(7), aad, &sealed)?.as_slice(), b"secret");
        Ok(())
    }

    #[test]
    fn wrong_key_does_not_open() -> Result<()> {
        let rng = SeededRandom::new(2);
        let aad = Aad::new("t", "c", "r");
        let sealed = seal(&key(1), rng.as_ref(), aad, b"x")?;
        assert!(open(&key(2), aad, &sealed).is_err());
        Ok(())
    }

    #[test]
    fn aad_mismatch_does_not_open() -> Result<()> {
        let rng = SeededRandom::new(3);
        let sealed = seal(&key(1), rng.as_ref(), Aad::new("t", "c", "row-1"), b"x")?;
        assert!(open(&key(1), Aad::new("t", "c", "row-2"), &sealed).is_err());
        assert!(open(&key(1), Aad::new("t", "d", "row-1"), &sealed).is_err());
        assert!(open(&key(1), Aad::new("u", "c", "row-1"), &sealed).is_err());
        // The length prefix keeps ("ab","c") apart from ("a","bc").
        let sealed = seal(&key(1), rng.as_ref(), Aad::new("ab", "c", "r"), b"x")?;
        assert!(open(&key(1), Aad::new("a", "bc", "r"), &sealed).is_err());
        Ok(())
    }

    #[test]
    fn tampering_is_detected() -> Result<()> {
        let rng = SeededRandom::new(4);
        let aad = Aad::new("t", "c", "r");
        let mut sealed = seal(&key(1), rng.as_ref(), aad, b"hello")?;
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(open(&key(1), aad, &sealed).is_err());
        assert!(open(&key(1), aad, &sealed[..10]).is_err());
        Ok(())
    }

    #[test]
    fn nonces_are_unique() -> Result<()> {
        let aad = Aad::new("t", "c", "r");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let sealed = seal(&key(1), &OsRandom, aad, b"same plaintext")?;
            assert!(
                seen.insert(sealed[1..1 + NONCE_LEN].to_vec()),
                "nonce repeated"
            );
        }
        Ok(())
    }
}
