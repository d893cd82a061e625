//! The master key: read from a keyfile or derived from a passphrase with
//! Argon2id and a stored salt, and checked against a sealed check value so a
//! wrong key is refused before anything is written.

use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use super::seal::{self, Aad, MasterKey};
use crate::clock::SecureRandom;
use crate::error::{Error, Result};

/// The plaintext sealed as the check value.
const CHECK_PLAINTEXT: &[u8] = b"mcias master key check v1";

/// Where the check value lives (for its associated data).
const CHECK_AAD: Aad<'static> = Aad {
    table: "server_config",
    column: "value",
    row: "master_key_check",
};

/// Argon2id parameters and salt used to derive the key from a passphrase.
/// Stored in the database in the clear: the salt is not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub time: u32,
    /// Lanes.
    pub parallelism: u32,
    /// 16 random bytes.
    pub salt: [u8; 16],
}

impl KdfParams {
    /// Fresh parameters with a random salt.
    pub fn generate(rng: &dyn SecureRandom) -> Self {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        Self {
            memory_kib: 65_536,
            time: 3,
            parallelism: 1,
            salt,
        }
    }

    /// `argon2id;m=..;t=..;p=..;<hex salt>`
    pub fn encode(&self) -> String {
        format!(
            "argon2id;m={};t={};p={};{}",
            self.memory_kib,
            self.time,
            self.parallelism,
            data_encoding::HEXLOWER.encode(&self.salt)
        )
    }

    /// Parses [`KdfParams::encode`]'s output.
    pub fn decode(text: &str) -> Result<Self> {
        let bad = || Error::internal("stored master key KDF parameters are malformed");
        let parts: Vec<&str> = text.split(';').collect();
        let [alg, m, t, p, salt] = parts.as_slice() else {
            return Err(bad());
        };
        if *alg != "argon2id" {
            return Err(bad());
        }
        let num = |s: &str, prefix: &str| -> Result<u32> {
            s.strip_prefix(prefix)
                .and_then(|v| v.parse().ok())
                .ok_or_else(bad)
        };
        let salt_bytes = data_encoding::HEXLOWER
            .decode(salt.as_bytes())
            .map_err(|_| bad())?;
        Ok(Self {
            memory_kib: num(m, "m=")?,
            time: num(t, "t=")?,
            parallelism: num(p, "p=")?,
            salt: salt_bytes.try_into().map_err(|_| bad())?,
        })
    }
}

/// Derives the master key from a passphrase.
pub fn derive_from_passphrase(passphrase: &[u8], params: &KdfParams) -> Result<MasterKey> {
    if passphrase.len() < 16 {
        return Err(Error::invalid(
            "weak_passphrase",
            "the master key passphrase must be at least 16 bytes long",
        ));
    }
    let p = argon2::Params::new(params.memory_kib, params.time, params.parallelism, Some(32))
        .map_err(|e| Error::internal(format!("master key KDF parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, &params.salt, out.as_mut())
        .map_err(|e| Error::internal(format!("master key KDF: {e}")))?;
    Ok(MasterKey::from_bytes(*out))
}

/// Reads a keyfile holding 32 bytes as 64 hex characters, base64, or raw.
/// Refuses a file that group or others can read.
pub fn read_keyfile(path: &Path) -> Result<MasterKey> {
    let unreadable = |e: std::io::Error| {
        Error::invalid(
            "keyfile_unreadable",
            format!("cannot read master keyfile {}: {e}", path.display()),
        )
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(unreadable)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::invalid(
                "keyfile_permissions",
                format!(
                    "master keyfile {} is accessible by group or others (mode {:o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    let raw = Zeroizing::new(std::fs::read(path).map_err(unreadable)?);
    parse_key_bytes(&raw).ok_or_else(|| {
        Error::invalid(
            "keyfile_malformed",
            format!(
                "master keyfile {} must hold 32 bytes as 64 hex characters, base64 or raw bytes",
                path.display()
            ),
        )
    })
}

fn parse_key_bytes(raw: &[u8]) -> Option<MasterKey> {
    use base64::Engine;
    let to_key = |v: &[u8]| -> Option<MasterKey> {
        let arr: [u8; 32] = v.try_into().ok()?;
        Some(MasterKey::from_bytes(arr))
    };
    if raw.len() == 32 {
        return to_key(raw);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.len() == 64
        && let Ok(v) = data_encoding::HEXLOWER_PERMISSIVE.decode(text.as_bytes())
    {
        return to_key(&Zeroizing::new(v));
    }
    let v = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .ok()?;
    to_key(&Zeroizing::new(v))
}

/// Writes a new random keyfile (hex, mode 0600). Fails if the file exists.
pub fn create_keyfile(path: &Path, rng: &dyn SecureRandom) -> Result<()> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill(bytes.as_mut());
    let hex = Zeroizing::new(data_encoding::HEXLOWER.encode(bytes.as_ref()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        Error::invalid(
            "keyfile_create",
            format!("cannot create master keyfile {}: {e}", path.display()),
        )
    })?;
    f.write_all(hex.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::internal(format!("writing keyfile {}: {e}", path.display())))
}

/// Seals the check value under `key`.
pub fn make_check(key: &MasterKey, rng: &dyn SecureRandom) -> Result<Vec<u8>> {
    seal::seal(key, rng, CHECK_AAD, CHECK_PLAINTEXT)
}

/// Confirms that `key` opens the stored check value.
pub fn verify_check(key: &MasterKey, sealed: &[u8]) -> Result<()> {
    match seal::open(key, CHECK_AAD, sealed) {
        Ok(p) if p.as_slice() == CHECK_PLAINTEXT => Ok(()),
        _ => Err(Error::precondition(
            "wrong_master_key",
            "the master key does not open this database (wrong keyfile or passphrase); nothing was changed",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[test]
    fn check_value_detects_wrong_key() -> Result<()> {
        let rng = SeededRandom::new(9);
        let good = MasterKey::from_bytes([1; 32]);
        let check = make_check(&good, rng.as_ref())?;
        verify_check(&good, &check)?;
        let e = verify_check(&MasterKey::from_bytes([2; 32]), &check);
        assert_eq!(e.map_err(|e| e.code), Err("wrong_master_key"));
        Ok(())
    }

    #[test]
    fn passphrase_derivation_is_deterministic_per_salt() -> Result<()> {
        let rng = SeededRandom::new(1);
        let mut params = KdfParams::generate(rng.as_ref());
        params.memory_kib = 8192; // keep the unit test quick; production uses 64 MiB
        let a = derive_from_passphrase(b"correct horse battery staple", &params)?;
        let b = derive_from_passphrase(b"correct horse battery staple", &params)?;
        assert_eq!(a.as_bytes(), b.as_bytes());
        let c = derive_from_passphrase(b"correct horse battery stapler", &params)?;
        assert_ne!(a.as_bytes(), c.as_bytes());
        assert_eq!(KdfParams::decode(&params.encode())?, params);
        assert!(derive_from_passphrase(b"short", &params).is_err());
        Ok(())
    }

    #[test]
    fn keyfile_formats_and_permissions() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        let p = dir.path().join("k");
        create_keyfile(&p, SeededRandom::new(3).as_ref())?;
        let k = read_keyfile(&p)?;
        assert!(
            create_keyfile(&p, SeededRandom::new(3).as_ref()).is_err(),
            "must not overwrite"
        );
        assert!(parse_key_bytes(&[5u8; 32]).is_some());
        assert!(parse_key_bytes(b"too short").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| Error::internal(e.to_string()))?;
            let e = read_keyfile(&p).map(|_| ()).map_err(|e| e.code);
            assert_eq!(e, Err("keyfile_permissions"));
        }
        assert_eq!(k.as_bytes().len(), 32);
        Ok(())
    }
}
