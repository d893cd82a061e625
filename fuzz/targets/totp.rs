//! TOTP code parsing: `totp::verify` with any code text, time and last used
//! step; an accepted code is the six digits of a step in the window, later
//! than the last one used.

use mcias_core::crypto::totp;

pub fn run(data: &[u8]) {
    if data.len() < 16 {
        return;
    }
    let now = i64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let last = i64::from_le_bytes(data[8..16].try_into().expect("8 bytes"));
    let code = String::from_utf8_lossy(&data[16..]);
    let secret = b"12345678901234567890";
    let current = totp::step_at(now);
    // The time the fuzzer gives, and a time where `code` may well match.
    for (t, last) in [(now, last), (1_800_000_000, i64::MIN)] {
        if let Some(step) = totp::verify(secret, &code, t, last) {
            let trimmed = code.trim();
            assert_eq!(trimmed.len(), 6);
            assert!(trimmed.bytes().all(|b| b.is_ascii_digit()));
            assert!(step > last);
            let here = totp::step_at(t);
            assert!((here - 1..=here + 1).contains(&step), "step {step} at {t}");
            assert_eq!(totp::code_at(secret, step * 30), trimmed);
        }
    }
    let _ = current;
}
