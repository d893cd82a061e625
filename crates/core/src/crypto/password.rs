//! Argon2id password hashing (PHC strings) on a bounded pool.
//!
//! At most one hash per core runs at a time, a short queue waits behind them,
//! and anything beyond is refused at once with RESOURCE_EXHAUSTED, so a login
//! flood cannot exhaust memory (each hash holds `memory_kib` of RAM).
//!
//! Password checks made for a client ([`Hasher::verify_from`]) are admitted
//! fairly: one source (client address) may hold at most
//! [`Hasher::per_source`] of the pool's places (running or waiting); beyond
//! that the source is refused at once, so a flood from one address never
//! takes every place and other clients still get a slot. The table of
//! sources holds only sources with a check in progress, so it is never
//! larger than the pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::clock::SecureRandom;
use crate::error::{Error, Result};

/// Argon2id costs (RFC 9106): memory in KiB, iterations, lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub time: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// Builds the argon2 crate's parameters.
pub fn params(cfg: &Argon2Params) -> Result<Params> {
    Params::new(cfg.memory_kib, cfg.time, cfg.parallelism, None)
        .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))
}

/// Hashes `password` into a PHC string (blocking; call from a blocking thread).
pub fn hash_blocking(params: &Params, rng: &dyn SecureRandom, password: &[u8]) -> Result<String> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(format!("salt: {e}")))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("argon2 hash: {e}")))
}

/// Verifies `password` against a PHC string in constant time (blocking).
pub fn verify_blocking(phc: &str, password: &[u8]) -> Result<bool> {
    let hash = PasswordHash::new(phc).map_err(|e| Error::internal(format!("stored hash: {e}")))?;
    match Argon2::default().verify_password(password, &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(Error::internal(format!("argon2 verify: {e}"))),
    }
}

/// Whether a stored hash was made with other parameters than `params` and
/// should be re-hashed after the next successful login.
pub fn needs_rehash(phc: &str, params: &Params) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return true;
    }
    match Params::try_from(&hash) {
        Ok(p) => {
            p.m_cost() != params.m_cost()
                || p.t_cost() != params.t_cost()
                || p.p_cost() != params.p_cost()
        }
        Err(_) => true,
    }
}

/// The bounded hashing pool.
#[derive(Debug)]
pub struct Hasher {
    params: Params,
    rng: Arc<dyn SecureRandom>,
    admit: Arc<Semaphore>,
    run: Arc<Semaphore>,
    capacity: usize,
    per_source: usize,
    sources: Arc<Mutex<HashMap<String, usize>>>,
    dummy: String,
}

/// A source's place in the pool: released (and the source forgotten when it
/// holds none) on drop.
struct SourcePlace {
    sources: Arc<Mutex<HashMap<String, usize>>>,
    source: String,
    _admitted: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for SourcePlace {
    fn drop(&mut self) {
        let mut map = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.source);
            }
        }
    }
}

/// How many hashes run at once and how many may wait.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    /// Concurrent hashes.
    pub workers: usize,
    /// Waiting callers beyond the running ones.
    pub queue: usize,
}

impl PoolSize {
    /// One worker per core and a queue of twice that.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers: cores,
            queue: cores * 2,
        }
    }
}

impl Hasher {
    /// A pool hashing with `cfg`; computes the dummy hash used for unknown
    /// usernames (one hash at start-up).
    pub fn new(cfg: &Argon2Params, rng: Arc<dyn SecureRandom>, size: PoolSize) -> Result<Self> {
        let params = params(cfg)?;
        let mut dummy_pw = [0u8; 32];
        rng.fill(&mut dummy_pw);
        let dummy = hash_blocking(&params, rng.as_ref(), &dummy_pw)?;
        let workers = size.workers.max(1);
        let capacity = workers + size.queue;
        Ok(Self {
            params,
            rng,
            admit: Arc::new(Semaphore::new(capacity)),
            run: Arc::new(Semaphore::new(workers)),
            capacity,
            per_source: (capacity / 4).max(1),
            sources: Arc::new(Mutex::new(HashMap::new())),
            dummy,
        })
    }

    /// A source's share of places (running or waiting): a quarter of the
    /// pool, at least one. Beyond it a source takes only free places above
    /// this many, which stay for sources within their share.
    pub fn per_source(&self) -> usize {
        self.per_source
    }

    /// Admits one check for `source`, or refuses it at once: the source
    /// already holds its share, or the pool is full.
    fn admit_source(&self, source: &str) -> Result<SourcePlace> {
        let mut map = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let held = map.get(source).copied().unwrap_or(0);
        // Beyond its share a source may still use free places, but never the
        // last `per_source` ones: those stay for sources within their share
        // (many clients share one address behind a NAT or a proxy).
        if held >= self.per_source && self.admit.available_permits() <= self.per_source {
            return Err(Error::exhausted(
                "too many password checks in progress from this address; retry shortly",
            ));
        }
        let admitted =
            self.admit.clone().try_acquire_owned().map_err(|_| {
                Error::exhausted("too many password checks in progress; retry shortly")
            })?;
        map.insert(source.to_owned(), held + 1);
        Ok(SourcePlace {
            sources: self.sources.clone(),
            source: source.to_owned(),
            _admitted: admitted,
        })
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Callers currently running or waiting.
    pub fn depth(&self) -> usize {
        self.capacity - self.admit.available_permits()
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _admitted =
            self.admit.clone().try_acquire_owned().map_err(|_| {
                Error::exhausted("too many password checks in progress; retry shortly")
            })?;
        self.run_admitted(f).await
    }

    async fn run_admitted<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _running = self
            .run
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("hashing pool closed"))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::internal(format!("hashing task: {e}")))?
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String> {
        let params = self.params.clone();
        let rng = self.rng.clone();
        self.run_blocking(move || hash_blocking(&params, rng.as_ref(), password.as_bytes()))
            .await
    }

    /// Verifies a password against a stored hash. With `None` (unknown user
    /// or locked account) it verifies against the dummy hash and returns
    /// false, so the time taken does not reveal which case it was.
    pub async fn verify(&self, phc: Option<String>, password: Zeroizing<String>) -> Result<bool> {
        let real = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.clone());
        let ok = self
            .run_blocking(move || verify_blocking(&phc, password.as_bytes()))
            .await?;
        Ok(ok && real)
    }

    /// [`Hasher::verify`] for a client at `source` (its address): beyond its
    /// share of the pool a source is admitted only while more than a share's
    /// worth of places is free, so one source can never take the places
    /// other sources need.
    pub async fn verify_from(
        &self,
        source: &str,
        phc: Option<String>,
        password: Zeroizing<String>,
    ) -> Result<bool> {
        let _place = self.admit_source(source)?;
        let real = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.clone());
        let ok = self
            .run_admitted(move || verify_blocking(&phc, password.as_bytes()))
            .await?;
        Ok(ok && real)
    }

    /// Sources with a check in progress (for tests and metrics).
    pub fn sources_in_flight(&self) -> usize {
        self.sources.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    fn cheap() -> Argon2Params {
        Argon2Params {
            memory_kib: 19_456,
            time: 2,
            parallelism: 1,
        }
    }

    #[test]
    fn phc_round_trip() -> Result<()> {
        let p = params(&cheap())?;
        let rng = SeededRandom::new(1);
        let phc = hash_blocking(&p, rng.as_ref(), b"correct horse")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking(&phc, b"correct horse")?);
        assert!(!verify_blocking(&phc, b"correct horsf")?);
        assert!(!needs_rehash(&phc, &p));
        Ok(())
    }

    #[test]
    fn outdated_parameters_need_rehash() -> Result<()> {
        let rng = SeededRandom::new(2);
        let old = params(&cheap())?;
        let phc = hash_blocking(&old, rng.as_ref(), b"pw")?;
        let new = params(&Argon2Params {
            memory_kib: 19_456,
            time: 3,
            parallelism: 1,
        })?;
        assert!(needs_rehash(&phc, &new));
        let upgraded = hash_blocking(&new, rng.as_ref(), b"pw")?;
        assert!(!needs_rehash(&upgraded, &new));
        assert!(verify_blocking(&upgraded, b"pw")?);
        assert!(needs_rehash(
            "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            &new
        ));
        assert!(needs_rehash("not a phc string", &new));
        Ok(())
    }

    #[tokio::test]
    async fn pool_refuses_beyond_capacity() -> Result<()> {
        let h = Arc::new(Hasher::new(
            &cheap(),
            SeededRandom::new(3),
            PoolSize {
                workers: 1,
                queue: 1,
            },
        )?);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                h.hash(Zeroizing::new("password".into())).await
            }));
        }
        let mut ok = 0;
        let mut exhausted = 0;
        for t in tasks {
            match t.await.map_err(|e| Error::internal(e.to_string()))? {
                Ok(_) => ok += 1,
                Err(e) if e.kind == crate::error::ErrorKind::ResourceExhausted => exhausted += 1,
                Err(e) => return Err(e),
            }
        }
        assert!(ok >= 2, "at least the running and the queued hash complete");
        assert!(exhausted >= 1, "callers beyond the queue are refused");
        assert_eq!(ok + exhausted, 8);
        assert_eq!(h.depth(), 0);
        Ok(())
    }

    #[tokio::test]
    async fn one_source_holds_only_its_share() -> Result<()> {
        let h = Arc::new(Hasher::new(
            &cheap(),
            SeededRandom::new(5),
            PoolSize {
                workers: 1,
                queue: 3,
            },
        )?);
        assert_eq!(h.per_source(), 1);
        let mut tasks = Vec::new();
        for source in ["a", "a", "a", "a", "b"] {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                h.verify_from(source, None, Zeroizing::new("pw".into()))
                    .await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.map_err(|e| Error::internal(e.to_string()))?);
        }
        // a may use free places beyond its share, but not the last one.
        for r in &results[..3] {
            assert!(r.is_ok(), "{r:?}");
        }
        match &results[3] {
            Err(e) => {
                assert_eq!(e.kind, crate::error::ErrorKind::ResourceExhausted);
                assert!(e.message.contains("from this address"), "{e:?}");
            }
            Ok(_) => panic!("the last place is kept for other sources"),
        }
        assert!(results[4].is_ok(), "b still gets a place");
        assert_eq!((h.depth(), h.sources_in_flight()), (0, 0));
        Ok(())
    }

    #[tokio::test]
    async fn dummy_verification_never_succeeds() -> Result<()> {
        let h = Hasher::new(
            &cheap(),
            SeededRandom::new(4),
            PoolSize {
                workers: 1,
                queue: 1,
            },
        )?;
        assert!(!h.verify(None, Zeroizing::new(String::new())).await?);
        Ok(())
    }
}
