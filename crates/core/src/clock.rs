//! Injected time and randomness, so expiry, TOTP windows and nonces are
//! testable without sleeping or guessing.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in whole Unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(now)))
    }
    /// Moves the clock by `secs` (may be negative).
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A source of cryptographically secure random bytes.
pub trait SecureRandom: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        use rand::RngCore;
        rand::rngs::OsRng.fill_bytes(buf);
    }
}

/// A deterministic generator for tests: a counter run through SHA-256.
#[derive(Debug)]
pub struct SeededRandom {
    seed: u64,
    counter: std::sync::atomic::AtomicU64,
}

impl SeededRandom {
    /// A generator whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Self {
            seed,
            counter: std::sync::atomic::AtomicU64::new(0),
        })
    }
}

impl SecureRandom for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buf.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::SeqCst);
            let mut h = Sha256::new();
            h.update(self.seed.to_le_bytes());
            h.update(n.to_le_bytes());
            let out = h.finalize();
            chunk.copy_from_slice(&out[..chunk.len()]);
        }
    }
}

/// Random bytes of a fixed size from `rng`.
pub fn random_array<const N: usize>(rng: &dyn SecureRandom) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill(&mut out);
    out
}
