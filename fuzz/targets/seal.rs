//! Sealed values: `seal::open` of any bytes under any associated data, and
//! sealing round trips: what is sealed opens at its own table, column and
//! row only.

use mcias_core::clock::SeededRandom;
use mcias_core::crypto::seal::{self, Aad, MasterKey};

/// Input: table, column, row and the sealed bytes (or plaintext),
/// separated by 0xFF.
pub fn run(data: &[u8]) {
    let key = MasterKey::from_bytes([7; 32]);
    let parts = super::split(data, 4);
    let table = String::from_utf8_lossy(parts[0]);
    let column = String::from_utf8_lossy(parts[1]);
    let row = String::from_utf8_lossy(parts[2]);
    let aad = Aad::new(&table, &column, &row);
    let _ = seal::open(&key, aad, parts[3]);

    let rng = SeededRandom::new(u64::from(data.len() as u32));
    let sealed = seal::seal(&key, rng.as_ref(), aad, parts[3]).expect("sealing");
    let opened = seal::open(&key, aad, &sealed).expect("what was sealed opens");
    assert_eq!(&opened[..], parts[3]);
    let elsewhere = format!("{row}.");
    assert!(
        seal::open(&key, Aad::new(&table, &column, &elsewhere), &sealed).is_err(),
        "a sealed value opened at another row"
    );
    let other = MasterKey::from_bytes([8; 32]);
    assert!(seal::open(&other, aad, &sealed).is_err(), "another key");
}
