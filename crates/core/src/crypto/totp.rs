//! TOTP (RFC 6238, HMAC-SHA1, 6 digits, 30 s steps) with a ±1 step window and
//! replay rejection: a code is accepted only for a step later than the last
//! accepted one.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const WINDOW: i64 = 1;
/// Secret length in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// The code for a counter value (RFC 4226 HOTP).
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bin = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    bin % 10u32.pow(DIGITS)
}

/// The step number for a Unix time.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP_SECS)
}

/// The 6-digit code for a Unix time, zero-padded.
pub fn code_at(secret: &[u8], now: i64) -> String {
    format!(
        "{:06}",
        hotp(secret, u64::try_from(step_at(now)).unwrap_or(0))
    )
}

/// Checks `code` at time `now`. Returns the matched step when the code
/// belongs to a step within the window that is later than `last_step`.
pub fn verify(secret: &[u8], code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    let mut matched = None;
    // Check every candidate so the time taken does not depend on which matched.
    for step in (current - WINDOW)..=(current + WINDOW) {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let expect = format!("{:06}", hotp(secret, counter));
        let eq: bool = expect.as_bytes().ct_eq(code.as_bytes()).into();
        if eq && step > last_step && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// Base32 (RFC 4648, no padding) as authenticator apps expect.
pub fn secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// An `otpauth://` URI for authenticator apps.
pub fn otpauth_uri(issuer: &str, username: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(username),
        secret_base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 secret.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        // The RFC lists 8-digit codes; the last 6 digits are ours.
        for (t, code8) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(RFC_SECRET, t), code8[2..], "t={t}");
        }
    }

    #[test]
    fn window_accepts_neighbours_only() {
        let now = 1_700_000_000;
        let prev = code_at(RFC_SECRET, now - 30);
        let next = code_at(RFC_SECRET, now + 30);
        let old = code_at(RFC_SECRET, now - 90);
        assert_eq!(verify(RFC_SECRET, &prev, now, 0), Some(step_at(now) - 1));
        assert_eq!(verify(RFC_SECRET, &next, now, 0), Some(step_at(now) + 1));
        assert_eq!(verify(RFC_SECRET, &old, now, 0), None);
        assert_eq!(verify(RFC_SECRET, "12345", now, 0), None);
        assert_eq!(verify(RFC_SECRET, "abcdef", now, 0), None);
    }

    #[test]
    fn replay_is_rejected() {
        let now = 1_700_000_000;
        let code = code_at(RFC_SECRET, now);
        let step = verify(RFC_SECRET, &code, now, 0);
        assert_eq!(step, Some(step_at(now)));
        // The same code again, with the accepted step recorded, fails.
        assert_eq!(verify(RFC_SECRET, &code, now + 5, step_at(now)), None);
        // So does an earlier step's code.
        let prev = code_at(RFC_SECRET, now - 30);
        assert_eq!(verify(RFC_SECRET, &prev, now, step_at(now)), None);
        // The next step's code is fine.
        let next = code_at(RFC_SECRET, now + 30);
        assert_eq!(
            verify(RFC_SECRET, &next, now + 30, step_at(now)),
            Some(step_at(now) + 1)
        );
    }

    #[test]
    fn uri_is_escaped() {
        let uri = otpauth_uri("MCIAS", "a b", RFC_SECRET);
        assert!(
            uri.starts_with("otpauth://totp/MCIAS:a%20b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&"),
            "{uri}"
        );
    }
}
