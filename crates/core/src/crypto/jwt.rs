//! A small, strict JWS/JWT module for Ed25519 (`alg: EdDSA`) only.
//!
//! Verification order: size, structure, `alg` (anything but `EdDSA` is
//! refused before any key is looked at), `kid`, signature, `exp`/`nbf` with a
//! small leeway, `iss`, `aud`, `jti`. Revocation is the caller's next step.

use std::collections::HashMap;
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{b64url, b64url_decode};

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: i64 = 30;

/// The claims MCIAS puts in an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the account id.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Token id (UUID).
    pub jti: String,
    /// The account's roles at issue time.
    pub roles: Vec<String>,
    /// `human` or `system`.
    pub typ: String,
    /// The account's token version at issue; tokens with an older version
    /// than the account's current one are invalid.
    pub uv: i64,
}

/// Where verification finds a key by its `kid`.
pub trait KeyLookup {
    /// The verifying key for `kid`, if it may verify now.
    fn key(&self, kid: &str) -> Option<VerifyingKey>;
}

impl KeyLookup for HashMap<String, VerifyingKey> {
    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        self.get(kid).copied()
    }
}

/// Why a token was refused. For logs and tests; callers see one generic
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of valid JSON, or too long.
    Malformed,
    /// `alg` is not `EdDSA` (the value is recorded for the log).
    Algorithm(String),
    /// `kid` missing or not a known key.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// Past `exp` (plus leeway).
    Expired,
    /// Before `nbf` (minus leeway).
    NotYetValid,
    /// `iss` is not ours.
    Issuer,
    /// `aud` does not contain ours.
    Audience,
    /// No `jti`.
    MissingJti,
    /// Another required claim is missing or has the wrong type.
    MissingClaim(&'static str),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed token"),
            Self::Algorithm(a) => write!(f, "algorithm {a:?} is not accepted"),
            Self::UnknownKey => f.write_str("unknown key id"),
            Self::Signature => f.write_str("bad signature"),
            Self::Expired => f.write_str("expired"),
            Self::NotYetValid => f.write_str("not yet valid"),
            Self::Issuer => f.write_str("wrong issuer"),
            Self::Audience => f.write_str("wrong audience"),
            Self::MissingJti => f.write_str("missing jti"),
            Self::MissingClaim(c) => write!(f, "missing or invalid claim {c}"),
        }
    }
}

/// What a valid token must say.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Required `iss`.
    pub issuer: String,
    /// Required member of `aud`.
    pub audience: String,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Signs `claims` with `key`, naming it `kid`.
pub fn sign(claims: &Claims, key: &SigningKey, kid: &str) -> String {
    let header = Header {
        alg: "EdDSA",
        typ: "JWT",
        kid,
    };
    // Serializing these plain structs cannot fail.
    let h = serde_json::to_vec(&header).unwrap_or_default();
    let c = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!("{}.{}", b64url(&h), b64url(&c));
    let sig = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&sig.to_bytes()))
}

/// Reads the `kid` of a token's header without verifying anything.
pub fn peek_kid(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let v: serde_json::Value = serde_json::from_slice(&b64url_decode(header)?).ok()?;
    v.get("kid")?.as_str().map(str::to_owned)
}

/// Verifies a token against the known keys at time `now`.
pub fn verify(
    token: &str,
    keys: &dyn KeyLookup,
    now: i64,
    expect: &Expect,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
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

    // 1. The algorithm, before anything else.
    match header.get("alg").and_then(|a| a.as_str()) {
        Some("EdDSA") => {}
        Some(other) => return Err(JwtError::Algorithm(other.chars().take(16).collect())),
        None => return Err(JwtError::Algorithm(String::new())),
    }
    if header.contains_key("crit") {
        return Err(JwtError::Malformed);
    }

    // 2. The key.
    let kid = header
        .get("kid")
        .and_then(|k| k.as_str())
        .ok_or(JwtError::UnknownKey)?;
    let key = keys.key(kid).ok_or(JwtError::UnknownKey)?;

    // 3. The signature, over the exact bytes received.
    let sig_bytes: [u8; 64] = b64url_decode(s64)
        .ok_or(JwtError::Signature)?
        .try_into()
        .map_err(|_| JwtError::Signature)?;
    let signing_input_len = h64.len() + 1 + c64.len();
    key.verify_strict(
        &token.as_bytes()[..signing_input_len],
        &Signature::from_bytes(&sig_bytes),
    )
    .map_err(|_| JwtError::Signature)?;

    // 4. The claims.
    let raw: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&b64url_decode(c64).ok_or(JwtError::Malformed)?)
            .map_err(|_| JwtError::Malformed)?;
    let int = |name: &'static str| {
        raw.get(name)
            .and_then(serde_json::Value::as_i64)
            .ok_or(JwtError::MissingClaim(name))
    };
    let text = |name: &'static str| {
        raw.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or(JwtError::MissingClaim(name))
    };
    let exp = int("exp")?;
    let nbf = int("nbf")?;
    let iat = int("iat")?;
    if now > exp.saturating_add(LEEWAY_SECS) {
        return Err(JwtError::Expired);
    }
    if now < nbf.saturating_sub(LEEWAY_SECS) {
        return Err(JwtError::NotYetValid);
    }
    let iss = text("iss")?;
    if iss != expect.issuer {
        return Err(JwtError::Issuer);
    }
    let aud_ok = match raw.get("aud") {
        Some(serde_json::Value::String(a)) => *a == expect.audience,
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str() == Some(expect.audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(JwtError::Audience);
    }
    let jti = match raw.get("jti").and_then(|v| v.as_str()) {
        Some(j) if !j.is_empty() => j.to_owned(),
        _ => return Err(JwtError::MissingJti),
    };
    let roles = match raw.get("roles") {
        None => Vec::new(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(JwtError::MissingClaim("roles"))?,
        Some(_) => return Err(JwtError::MissingClaim("roles")),
    };
    Ok(Claims {
        iss,
        sub: text("sub")?,
        aud: expect.audience.clone(),
        iat,
        nbf,
        exp,
        jti,
        roles,
        typ: text("typ")?,
        uv: match raw.get("uv") {
            None => 1,
            Some(v) => v.as_i64().ok_or(JwtError::MissingClaim("uv"))?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;
    use crate::crypto::keys;
    use hmac::{Hmac, Mac};

    const NOW: i64 = 1_800_000_000;

    fn expect() -> Expect {
        Expect {
            issuer: "https://mcias.test".into(),
            audience: "mcias".into(),
        }
    }

    fn claims() -> Claims {
        Claims {
            iss: "https://mcias.test".into(),
            sub: "acct-1".into(),
            aud: "mcias".into(),
            iat: NOW,
            nbf: NOW,
            exp: NOW + 3600,
            jti: "8d1c0b6e-0000-4000-8000-000000000001".into(),
            roles: vec!["admin".into()],
            typ: "human".into(),
            uv: 1,
        }
    }

    fn setup() -> (SigningKey, String, HashMap<String, VerifyingKey>) {
        let key = keys::generate(SeededRandom::new(42).as_ref());
        let kid = keys::thumbprint(&key.verifying_key());
        let mut map = HashMap::new();
        map.insert(kid.clone(), key.verifying_key());
        (key, kid, map)
    }

    /// Builds a token from raw header and claims JSON with a given signature.
    fn forge(header: &str, claims: &str, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64url(header.as_bytes()),
            b64url(claims.as_bytes()),
            b64url(sig)
        )
    }

    #[test]
    fn happy_path() {
        let (key, kid, keys) = setup();
        let t = sign(&claims(), &key, &kid);
        assert_eq!(verify(&t, &keys, NOW + 10, &expect()), Ok(claims()));
        assert_eq!(peek_kid(&t), Some(kid));
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let (key, kid, keys) = setup();
        let t = sign(&claims(), &key, &kid);
        assert_eq!(
            verify(&t, &keys, NOW + 3600 + LEEWAY_SECS + 1, &expect()),
            Err(JwtError::Expired)
        );
        assert!(verify(&t, &keys, NOW + 3600 + LEEWAY_SECS, &expect()).is_ok());
        assert_eq!(
            verify(&t, &keys, NOW - LEEWAY_SECS - 1, &expect()),
            Err(JwtError::NotYetValid)
        );
    }

    #[test]
    fn wrong_issuer_and_audience() {
        let (key, kid, keys) = setup();
        let mut c = claims();
        c.iss = "https://evil.test".into();
        assert_eq!(
            verify(&sign(&c, &key, &kid), &keys, NOW, &expect()),
            Err(JwtError::Issuer)
        );
        let mut c = claims();
        c.aud = "other".into();
        assert_eq!(
            verify(&sign(&c, &key, &kid), &keys, NOW, &expect()),
            Err(JwtError::Audience)
        );
    }

    #[test]
    fn tampered_signature_and_payload() {
        let (key, kid, keys) = setup();
        let t = sign(&claims(), &key, &kid);
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        // Flip one signature byte.
        let mut sig = b64url_decode(&parts[2]).unwrap();
        sig[0] ^= 1;
        parts[2] = b64url(&sig);
        assert_eq!(
            verify(&parts.join("."), &keys, NOW, &expect()),
            Err(JwtError::Signature)
        );
        // Swap in a payload with more roles, keep the old signature.
        let mut c = claims();
        c.roles.push("root".into());
        let forged = sign(&c, &key, &kid);
        let mixed = format!(
            "{}.{}.{}",
            t.split('.').next().unwrap_or_default(),
            forged.split('.').nth(1).unwrap_or_default(),
            t.split('.').nth(2).unwrap_or_default()
        );
        assert_eq!(
            verify(&mixed, &keys, NOW, &expect()),
            Err(JwtError::Signature)
        );
        // A key we do not know.
        let other = keys::generate(SeededRandom::new(7).as_ref());
        let t2 = sign(&claims(), &other, &kid);
        assert_eq!(verify(&t2, &keys, NOW, &expect()), Err(JwtError::Signature));
        let t3 = sign(&claims(), &other, "no-such-kid");
        assert_eq!(
            verify(&t3, &keys, NOW, &expect()),
            Err(JwtError::UnknownKey)
        );
    }

    #[test]
    fn missing_jti_is_rejected() {
        let (key, kid, keys) = setup();
        let mut c = claims();
        c.jti = String::new();
        assert_eq!(
            verify(&sign(&c, &key, &kid), &keys, NOW, &expect()),
            Err(JwtError::MissingJti)
        );
        // Absent altogether, with a valid signature.
        let body = r#"{"iss":"https://mcias.test","sub":"a","aud":"mcias","iat":1800000000,"nbf":1800000000,"exp":1800003600,"roles":[],"typ":"human"}"#;
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
        let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
        let sig = key.sign(input.as_bytes());
        let t = format!("{input}.{}", b64url(&sig.to_bytes()));
        assert_eq!(verify(&t, &keys, NOW, &expect()), Err(JwtError::MissingJti));
    }

    #[test]
    fn other_algorithms_are_rejected_first() {
        let (key, kid, keys) = setup();
        let body = serde_json::to_string(&claims()).unwrap();

        // alg = none with an empty signature.
        let none = forge(&format!(r#"{{"alg":"none","kid":"{kid}"}}"#), &body, b"");
        assert_eq!(
            verify(&none, &keys, NOW, &expect()),
            Err(JwtError::Algorithm("none".into()))
        );

        // HS256 with the public key as the HMAC secret (key confusion).
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
        let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.verifying_key().as_bytes()).unwrap();
        mac.update(input.as_bytes());
        let hs = format!("{input}.{}", b64url(&mac.finalize().into_bytes()));
        assert_eq!(
            verify(&hs, &keys, NOW, &expect()),
            Err(JwtError::Algorithm("HS256".into()))
        );

        // RS256 with a 256-byte signature.
        let rs = forge(
            &format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
            &body,
            &[7u8; 256],
        );
        assert_eq!(
            verify(&rs, &keys, NOW, &expect()),
            Err(JwtError::Algorithm("RS256".into()))
        );

        // ES256 and a missing alg.
        let es = forge(
            &format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
            &body,
            &[7u8; 64],
        );
        assert_eq!(
            verify(&es, &keys, NOW, &expect()),
            Err(JwtError::Algorithm("ES256".into()))
        );
        let no_alg = forge(&format!(r#"{{"kid":"{kid}"}}"#), &body, &[7u8; 64]);
        assert_eq!(
            verify(&no_alg, &keys, NOW, &expect()),
            Err(JwtError::Algorithm(String::new()))
        );
    }

    #[test]
    fn malformed_tokens() {
        let (_, _, keys) = setup();
        for t in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                verify(t, &keys, NOW, &expect()),
                Err(JwtError::Malformed),
                "{t}"
            );
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            verify(&long, &keys, NOW, &expect()),
            Err(JwtError::Malformed)
        );
    }
}
