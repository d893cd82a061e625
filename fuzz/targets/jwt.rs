//! JWT parsing and verification: `jwt::verify` (access tokens, EdDSA only)
//! and `jwt::verify_signature` (ID tokens and hints, EdDSA or RS256) against
//! a fixed key set, and `peek_kid`.

use std::collections::HashMap;
use std::sync::OnceLock;

use mcias_core::clock::SeededRandom;
use mcias_core::crypto::jwt::{self, Expect, PublicKey};
use mcias_core::crypto::{b64url_decode, keys, rsa};

pub const ISSUER: &str = "https://mcias.fuzz";
pub const AUDIENCE: &str = "mcias";
/// The time tokens are checked at.
pub const NOW: i64 = 1_800_000_000;

pub struct Keys {
    pub ed: ed25519_dalek::SigningKey,
    pub ed_kid: String,
    pub rsa: rsa::RsaSigningKey,
    pub rsa_der: Vec<u8>,
    pub rsa_kid: String,
    pub access: HashMap<String, ed25519_dalek::VerifyingKey>,
    pub any: HashMap<String, PublicKey>,
}

/// One Ed25519 and one RSA key, the same in every run (seeded).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rng = SeededRandom::new(7);
        let ed = keys::generate(rng.as_ref());
        let ed_kid = keys::thumbprint(&ed.verifying_key());
        let der = rsa::generate(rng.as_ref()).expect("RSA key");
        let rsa = rsa::RsaSigningKey::from_pkcs8(&der).expect("RSA key");
        let rsa_kid = rsa.public().thumbprint();
        let mut access = HashMap::new();
        access.insert(ed_kid.clone(), ed.verifying_key());
        let mut any = HashMap::new();
        any.insert(ed_kid.clone(), PublicKey::EdDsa(ed.verifying_key()));
        any.insert(rsa_kid.clone(), PublicKey::Rs256(rsa.public().clone()));
        Keys {
            ed,
            ed_kid,
            rsa,
            rsa_der: der.to_vec(),
            rsa_kid,
            access,
            any,
        }
    })
}

fn header(token: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(&b64url_decode(token.split('.').next()?)?).ok()
}

pub fn run(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let k = keys();
    let expect = Expect {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
    };
    let _ = jwt::peek_kid(&token);
    if let Ok(claims) = jwt::verify(&token, &k.access, NOW, &expect) {
        // Whatever passes is an EdDSA token of our key, for us, in date.
        let h = header(&token).expect("an accepted token has a header");
        assert_eq!(h["alg"], "EdDSA", "accepted {token}");
        assert_eq!(h["kid"].as_str(), Some(k.ed_kid.as_str()));
        assert!(h.get("crit").is_none());
        assert_eq!(claims.iss, ISSUER);
        assert!(claims.exp + jwt::LEEWAY_SECS >= NOW);
        assert!(!claims.jti.is_empty());
    }
    if jwt::verify_signature(&token, &k.any).is_ok() {
        let h = header(&token).expect("an accepted token has a header");
        let alg = h["alg"].as_str().unwrap_or_default();
        let kid = h["kid"].as_str().unwrap_or_default();
        // The algorithm is the one of the key the kid names.
        assert!(
            (alg == "EdDSA" && kid == k.ed_kid) || (alg == "RS256" && kid == k.rsa_kid),
            "accepted {alg} with {kid}"
        );
        assert!(h.get("crit").is_none());
    }
}
