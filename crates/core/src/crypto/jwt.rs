//! A small, strict JWS/JWT module.
//!
//! Access tokens are Ed25519 (`alg: EdDSA`) only: [`verify`] checks size,
//! structure, `alg` (anything but `EdDSA` is refused before any key is
//! looked at), no `crit` and no `b64: false`, `kid`, signature,
//! `exp`/`nbf` with a small leeway, `iss`, `aud`, `jti`. Revocation is the
//! caller's next step. The header's `typ` is not checked: `JWT` and RFC
//! 9068's `at+jwt` are both accepted.
//!
//! Other JWTs (OpenID Connect ID tokens) are signed with [`sign_json`] by
//! an EdDSA or RS256 key, and [`verify_signature`] checks their signature
//! only: size, structure, `alg` (`EdDSA` or `RS256`, and the type of the
//! key `kid` names: no algorithm confusion), no `crit` or `b64: false`,
//! signature; the claims are the caller's to check.

use std::collections::HashMap;
use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::keys::{self, Jwk};
use super::rsa::{RsaPublicKey, RsaSigningKey};
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

/// A public key that verifies signatures, of either algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519, `alg: EdDSA`.
    EdDsa(VerifyingKey),
    /// RSA, `alg: RS256`.
    Rs256(RsaPublicKey),
}

impl PublicKey {
    /// The JOSE algorithm this key verifies.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::EdDsa(_) => "EdDSA",
            Self::Rs256(_) => "RS256",
        }
    }

    /// The RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> String {
        match self {
            Self::EdDsa(k) => keys::thumbprint(k),
            Self::Rs256(k) => k.thumbprint(),
        }
    }

    /// The public JWK.
    pub fn jwk(&self) -> Jwk {
        match self {
            Self::EdDsa(k) => keys::jwk(k),
            Self::Rs256(k) => k.jwk(),
        }
    }

    /// Whether `signature` is this key's signature of `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::EdDsa(k) => <[u8; 64]>::try_from(signature).is_ok_and(|sig| {
                k.verify_strict(message, &Signature::from_bytes(&sig))
                    .is_ok()
            }),
            Self::Rs256(k) => k.verify(message, signature),
        }
    }
}

/// A private key that signs, of either algorithm.
pub enum PrivateKey {
    /// Ed25519, `alg: EdDSA`.
    EdDsa(SigningKey),
    /// RSA, `alg: RS256`.
    Rs256(RsaSigningKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.alg())
    }
}

impl PrivateKey {
    /// The JOSE algorithm this key signs with.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::EdDsa(_) => "EdDSA",
            Self::Rs256(_) => "RS256",
        }
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        match self {
            Self::EdDsa(k) => PublicKey::EdDsa(k.verifying_key()),
            Self::Rs256(k) => PublicKey::Rs256(k.public().clone()),
        }
    }

    fn sign(&self, message: &[u8]) -> crate::error::Result<Vec<u8>> {
        match self {
            Self::EdDsa(k) => Ok(k.sign(message).to_bytes().to_vec()),
            Self::Rs256(k) => k.sign(message),
        }
    }
}

/// Where [`verify_signature`] finds a key of either algorithm by its `kid`.
pub trait AnyKeyLookup {
    /// The public key for `kid`, if it may verify now.
    fn public_key(&self, kid: &str) -> Option<&PublicKey>;
}

impl AnyKeyLookup for HashMap<String, PublicKey> {
    fn public_key(&self, kid: &str) -> Option<&PublicKey> {
        self.get(kid)
    }
}

/// Why a token was refused. For logs and tests; callers see one generic
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of valid JSON, or too long.
    Malformed,
    /// `alg` is not one accepted here (the value is recorded for the log).
    Algorithm(String),
    /// `alg` is accepted but is not the algorithm of the key `kid` names
    /// (algorithm confusion).
    KeyAlgorithm(String),
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
            Self::KeyAlgorithm(a) => write!(f, "algorithm {a:?} is not the key's"),
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
    typ: &'a str,
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

/// Signs `claims` (any JSON value, normally an object) with `key`, naming it
/// `kid`; the header is `{alg, typ, kid}`.
pub fn sign_json(
    claims: &serde_json::Value,
    key: &PrivateKey,
    kid: &str,
    typ: &str,
) -> crate::error::Result<String> {
    let header = Header {
        alg: key.alg(),
        typ,
        kid,
    };
    let h = serde_json::to_vec(&header)
        .map_err(|e| crate::error::Error::internal(format!("JWT header: {e}")))?;
    let c = serde_json::to_vec(claims)
        .map_err(|e| crate::error::Error::internal(format!("JWT claims: {e}")))?;
    let signing_input = format!("{}.{}", b64url(&h), b64url(&c));
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

/// A token split into its parts, with the header parsed: size and
/// structure checked, nothing else.
struct Parts<'a> {
    h64: &'a str,
    c64: &'a str,
    s64: &'a str,
    header: serde_json::Map<String, serde_json::Value>,
}

impl Parts<'_> {
    /// The bytes the signature covers, exactly as received.
    fn signing_input<'t>(&self, token: &'t str) -> &'t [u8] {
        &token.as_bytes()[..self.h64.len() + 1 + self.c64.len()]
    }

    /// The header's `alg`, when it is one of `accepted`.
    fn alg(&self, accepted: &[&'static str]) -> Result<&'static str, JwtError> {
        match self.header.get("alg").and_then(|a| a.as_str()) {
            Some(a) => accepted
                .iter()
                .find(|x| **x == a)
                .copied()
                .ok_or_else(|| JwtError::Algorithm(a.chars().take(16).collect())),
            None => Err(JwtError::Algorithm(String::new())),
        }
    }

    /// Refuses a header that asks for processing this module does not do:
    /// any `crit` (RFC 7515 4.1.11: a recipient must refuse extensions it
    /// does not understand, and none is understood here), and `b64` other
    /// than `true` (RFC 7797: an unencoded payload; MCIAS never signs one,
    /// so a token that claims it was made by something else). Headers that
    /// name other keys (`jku`, `jwk`, `x5u`, `x5c`) need no check: keys
    /// come only from the key ring by `kid`, and nothing is ever fetched.
    fn no_unsupported_processing(&self) -> Result<(), JwtError> {
        if self.header.contains_key("crit") {
            return Err(JwtError::Malformed);
        }
        match self.header.get("b64") {
            None | Some(serde_json::Value::Bool(true)) => Ok(()),
            Some(_) => Err(JwtError::Malformed),
        }
    }

    fn kid(&self) -> Result<&str, JwtError> {
        self.header
            .get("kid")
            .and_then(|k| k.as_str())
            .ok_or(JwtError::UnknownKey)
    }

    fn claims(&self) -> Result<serde_json::Map<String, serde_json::Value>, JwtError> {
        serde_json::from_slice(&b64url_decode(self.c64).ok_or(JwtError::Malformed)?)
            .map_err(|_| JwtError::Malformed)
    }
}

fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = serde_json::from_slice(&b64url_decode(h64).ok_or(JwtError::Malformed)?)
        .map_err(|_| JwtError::Malformed)?;
    Ok(Parts {
        h64,
        c64,
        s64,
        header,
    })
}

/// Verifies the signature of a token signed with `EdDSA` or `RS256` and
/// returns its claims, checking none of them (`exp`, `iss`, `aud` are the
/// caller's). Order: size, structure, `alg` (only `EdDSA` and `RS256`), no
/// `crit`, `kid` (a key that may verify now), `alg` equal to that key's
/// algorithm, signature, claims a JSON object.
pub fn verify_signature(
    token: &str,
    keys: &dyn AnyKeyLookup,
) -> Result<serde_json::Map<String, serde_json::Value>, JwtError> {
    let parts = split(token)?;
    let alg = parts.alg(&["EdDSA", "RS256"])?;
    parts.no_unsupported_processing()?;
    let key = keys.public_key(parts.kid()?).ok_or(JwtError::UnknownKey)?;
    if key.alg() != alg {
        return Err(JwtError::KeyAlgorithm(alg.to_owned()));
    }
    let sig = b64url_decode(parts.s64).ok_or(JwtError::Signature)?;
    if !key.verifies(parts.signing_input(token), &sig) {
        return Err(JwtError::Signature);
    }
    parts.claims()
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
    let parts = split(token)?;

    // 1. The algorithm, before anything else.
    parts.alg(&["EdDSA"])?;
    parts.no_unsupported_processing()?;

    // 2. The key.
    let key = keys.key(parts.kid()?).ok_or(JwtError::UnknownKey)?;

    // 3. The signature, over the exact bytes received.
    let sig_bytes: [u8; 64] = b64url_decode(parts.s64)
        .ok_or(JwtError::Signature)?
        .try_into()
        .map_err(|_| JwtError::Signature)?;
    key.verify_strict(
        parts.signing_input(token),
        &Signature::from_bytes(&sig_bytes),
    )
    .map_err(|_| JwtError::Signature)?;

    // 4. The claims.
    let raw = parts.claims()?;
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

    /// `crit` and `b64: false` are refused even under the right key (the
    /// attack suite, tests/attack.rs, holds it over the API).
    #[test]
    fn crit_and_unencoded_payloads_are_refused_under_the_right_key() {
        let (key, kid, keys) = setup();
        let body = serde_json::to_string(&claims()).unwrap();
        for header in [
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":["exp"]}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":[]}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","b64":false}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","b64":false,"crit":["b64"]}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","b64":"false"}}"#),
        ] {
            let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
            let sig = key.sign(input.as_bytes()).to_bytes();
            let token = format!("{input}.{}", b64url(&sig));
            assert_eq!(
                verify(&token, &keys, NOW, &expect()),
                Err(JwtError::Malformed),
                "{header}"
            );
        }
        // b64: true is the default spelled out.
        let header = format!(r#"{{"alg":"EdDSA","kid":"{kid}","b64":true}}"#);
        let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
        let sig = key.sign(input.as_bytes()).to_bytes();
        assert!(verify(&format!("{input}.{}", b64url(&sig)), &keys, NOW, &expect()).is_ok());
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
    fn typ_jwt_and_at_jwt_are_accepted() {
        // `typ` is not checked: `JWT` (ours so far), RFC 9068's `at+jwt`,
        // and none at all verify alike; `alg` is still EdDSA only.
        let (key, kid, keys) = setup();
        let body = serde_json::to_string(&claims()).unwrap();
        for header in [
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
        ] {
            let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
            let t = format!("{input}.{}", b64url(&key.sign(input.as_bytes()).to_bytes()));
            assert_eq!(verify(&t, &keys, NOW, &expect()), Ok(claims()), "{header}");
        }
        // sign_json with typ at+jwt, verified as an access token.
        let value = serde_json::to_value(claims()).unwrap();
        let t = sign_json(&value, &PrivateKey::EdDsa(key), &kid, "at+jwt").unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&b64url_decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid})
        );
        assert_eq!(verify(&t, &keys, NOW, &expect()), Ok(claims()));
    }

    /// One RSA key for the tests below (generation is slow).
    fn rsa_key() -> RsaSigningKey {
        static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let der = DER.get_or_init(|| {
            super::super::rsa::generate(SeededRandom::new(99).as_ref())
                .unwrap()
                .to_vec()
        });
        RsaSigningKey::from_pkcs8(der).unwrap()
    }

    /// An Ed25519 and an RSA key with their kids, and a lookup of both.
    fn both() -> (
        PrivateKey,
        String,
        PrivateKey,
        String,
        HashMap<String, PublicKey>,
    ) {
        let (ed, ed_kid, _) = setup();
        let rsa = rsa_key();
        let rsa_kid = rsa.public().thumbprint();
        let mut map = HashMap::new();
        map.insert(ed_kid.clone(), PublicKey::EdDsa(ed.verifying_key()));
        map.insert(rsa_kid.clone(), PublicKey::Rs256(rsa.public().clone()));
        (
            PrivateKey::EdDsa(ed),
            ed_kid,
            PrivateKey::Rs256(rsa),
            rsa_kid,
            map,
        )
    }

    fn id_claims() -> serde_json::Value {
        serde_json::json!({"iss": "https://mcias.test", "sub": "acct-1", "aud": "app", "nonce": "n-1"})
    }

    #[test]
    fn sign_json_and_verify_signature_round_trip() {
        let (ed, ed_kid, rsa, rsa_kid, keys) = both();
        for (key, kid, alg) in [(&ed, &ed_kid, "EdDSA"), (&rsa, &rsa_kid, "RS256")] {
            let t = sign_json(&id_claims(), key, kid, "JWT").unwrap();
            let header: serde_json::Value =
                serde_json::from_slice(&b64url_decode(t.split('.').next().unwrap()).unwrap())
                    .unwrap();
            assert_eq!(
                header,
                serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid})
            );
            let got = verify_signature(&t, &keys).unwrap();
            assert_eq!(serde_json::Value::Object(got), id_claims());
            assert_eq!(peek_kid(&t).as_deref(), Some(kid.as_str()));
        }
        // An RS256 signature is the modulus' length.
        let t = sign_json(&id_claims(), &rsa, &rsa_kid, "JWT").unwrap();
        assert_eq!(
            b64url_decode(t.split('.').nth(2).unwrap()).unwrap().len(),
            256
        );
        // Claims are not checked here: an expired token's signature verifies.
        let old = serde_json::json!({"exp": 1, "iss": "elsewhere"});
        let t = sign_json(&old, &rsa, &rsa_kid, "JWT").unwrap();
        assert!(verify_signature(&t, &keys).is_ok());
        // But access-token verification refuses RS256 outright.
        let t = sign_json(
            &serde_json::to_value(claims()).unwrap(),
            &rsa,
            &rsa_kid,
            "JWT",
        )
        .unwrap();
        assert_eq!(
            verify(&t, &HashMap::<String, VerifyingKey>::new(), NOW, &expect()),
            Err(JwtError::Algorithm("RS256".into()))
        );
    }

    #[test]
    fn verify_signature_refuses_algorithm_confusion() {
        let (ed, ed_kid, rsa, rsa_kid, keys) = both();
        let body = id_claims().to_string();

        // RS256 in the header, the Ed25519 kid: refused for the key's type
        // before any signature is checked, whatever the signature.
        let rs_sig = {
            let header = format!(r#"{{"alg":"RS256","kid":"{ed_kid}"}}"#);
            let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
            let sig = rsa.sign(input.as_bytes()).unwrap();
            format!("{input}.{}", b64url(&sig))
        };
        assert_eq!(
            verify_signature(&rs_sig, &keys),
            Err(JwtError::KeyAlgorithm("RS256".into()))
        );
        // EdDSA in the header, the RSA kid, even signed by the Ed25519 key.
        let header = format!(r#"{{"alg":"EdDSA","kid":"{rsa_kid}"}}"#);
        let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
        let ed_sig = format!("{input}.{}", b64url(&ed.sign(input.as_bytes()).unwrap()));
        assert_eq!(
            verify_signature(&ed_sig, &keys),
            Err(JwtError::KeyAlgorithm("EdDSA".into()))
        );

        // none, with an empty signature, for either kid.
        for kid in [&ed_kid, &rsa_kid] {
            let none = forge(&format!(r#"{{"alg":"none","kid":"{kid}"}}"#), &body, b"");
            assert_eq!(
                verify_signature(&none, &keys),
                Err(JwtError::Algorithm("none".into()))
            );
        }
        // HS256 keyed with the RSA public key's DER (the classic confusion)
        // and with the Ed25519 public key.
        let PublicKey::EdDsa(ed_public) = ed.public() else {
            panic!("not Ed25519")
        };
        for (kid, secret) in [
            (&rsa_kid, keys[&rsa_kid].jwk().n.unwrap().into_bytes()),
            (&ed_kid, ed_public.as_bytes().to_vec()),
        ] {
            let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
            let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
            mac.update(input.as_bytes());
            let hs = format!("{input}.{}", b64url(&mac.finalize().into_bytes()));
            assert_eq!(
                verify_signature(&hs, &keys),
                Err(JwtError::Algorithm("HS256".into()))
            );
        }
        // Other RSA algorithms, lowercase, and a missing alg.
        for alg in ["RS512", "PS256", "rs256", "ES256"] {
            let t = forge(
                &format!(r#"{{"alg":"{alg}","kid":"{rsa_kid}"}}"#),
                &body,
                &[7u8; 256],
            );
            assert_eq!(
                verify_signature(&t, &keys),
                Err(JwtError::Algorithm(alg.into()))
            );
        }
        let t = forge(&format!(r#"{{"kid":"{rsa_kid}"}}"#), &body, &[7u8; 256]);
        assert_eq!(
            verify_signature(&t, &keys),
            Err(JwtError::Algorithm(String::new()))
        );
    }

    #[test]
    fn verify_signature_refuses_tampering_crit_and_unknown_keys() {
        let (ed, ed_kid, rsa, rsa_kid, keys) = both();
        for (key, kid) in [(&ed, &ed_kid), (&rsa, &rsa_kid)] {
            let t = sign_json(&id_claims(), key, kid, "JWT").unwrap();
            let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
            // A flipped signature bit, a truncated signature, none at all.
            let sig = b64url_decode(&parts[2]).unwrap();
            let mut flipped = sig.clone();
            flipped[5] ^= 1;
            for bad in [flipped, sig[1..].to_vec(), Vec::new()] {
                parts[2] = b64url(&bad);
                assert_eq!(
                    verify_signature(&parts.join("."), &keys),
                    Err(JwtError::Signature),
                    "{kid}"
                );
            }
            // Another payload under the original signature.
            parts[2] = b64url(&sig);
            parts[1] = b64url(br#"{"sub":"admin"}"#);
            assert_eq!(
                verify_signature(&parts.join("."), &keys),
                Err(JwtError::Signature)
            );
            // crit, even correctly signed.
            let header = format!(
                r#"{{"alg":"{}","kid":"{kid}","crit":["exp"],"exp":1}}"#,
                key.alg()
            );
            let input = format!("{}.{}", b64url(header.as_bytes()), b64url(b"{}"));
            let t = format!("{input}.{}", b64url(&key.sign(input.as_bytes()).unwrap()));
            assert_eq!(verify_signature(&t, &keys), Err(JwtError::Malformed));
        }
        // A kid we do not know, and no kid.
        let t = sign_json(&id_claims(), &rsa, "no-such-kid", "JWT").unwrap();
        assert_eq!(verify_signature(&t, &keys), Err(JwtError::UnknownKey));
        let t = forge(r#"{"alg":"RS256"}"#, "{}", &[7u8; 256]);
        assert_eq!(verify_signature(&t, &keys), Err(JwtError::UnknownKey));
        // Claims that are not an object; malformed and oversized tokens.
        let t = sign_json(&serde_json::json!([1, 2]), &rsa, &rsa_kid, "JWT").unwrap();
        assert_eq!(verify_signature(&t, &keys), Err(JwtError::Malformed));
        for t in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(verify_signature(t, &keys), Err(JwtError::Malformed), "{t}");
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(verify_signature(&long, &keys), Err(JwtError::Malformed));
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
