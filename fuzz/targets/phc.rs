//! PHC string parsing: `password::needs_rehash` on any string, and
//! verification when the parameters it names are small enough to run (the
//! strings come from the database, never from a client, but must not panic
//! whatever they say).

use mcias_core::crypto::password::{self, Argon2Params};

fn param(phc: &str, name: &str) -> Option<u64> {
    phc.split(['$', ','])
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

pub fn run(data: &[u8]) {
    let params = password::params(&Argon2Params {
        memory_kib: 19456,
        time: 2,
        parallelism: 1,
    })
    .expect("params");
    let Some((&pw_len, rest)) = data.split_first() else {
        return;
    };
    let (pw, phc) = rest.split_at(usize::from(pw_len).min(rest.len()));
    let phc = String::from_utf8_lossy(phc);
    let _ = password::needs_rehash(&phc, &params);
    let small = param(&phc, "m").is_some_and(|m| m <= 256)
        && param(&phc, "t").is_some_and(|t| t <= 2)
        && param(&phc, "p").is_some_and(|p| p <= 2);
    if small {
        let _ = password::verify_blocking(&phc, pw);
    }
}
