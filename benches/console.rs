//! The console's account search at scale: a store seeded with N accounts
//! (straight into SQLite in one transaction — a test-only seeder, not a way
//! to create real accounts), then prefix searches by username and by email,
//! a status filter and the first page without a query, each timed over
//! repeated runs.
//!
//! `make bench` (release build, N = 100,000). Prints figures; asserts
//! nothing about speed. Under `cargo test --all-targets` it runs as a quick
//! smoke with N = 2,000.

use std::time::Instant;

use mcias_core::model::AccountStatus;
use mcias_core::store::{Backend, Store};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Seeds `n` accounts: `user000000`…, emails `person{i}@example{i % 50}.org`,
/// every 100th suspended.
fn seed(path: &std::path::Path, n: usize) -> Res<()> {
    let mut c = rusqlite::Connection::open(path)?;
    let tx = c.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO accounts (id, username, account_type, status, created_at, updated_at, email)
             VALUES (?1, ?2, 1, ?3, 1700000000, 1700000000, ?4)",
        )?;
        for i in 0..n {
            let status = if i % 100 == 0 { 3 } else { 1 };
            stmt.execute(rusqlite::params![
                format!("{i:032x}"),
                format!("user{i:06}"),
                status,
                format!("person{i}@example{}.org", i % 50),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

async fn time<F, Fut>(label: &str, runs: usize, mut f: F) -> Res<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<usize>>,
{
    let mut samples = Vec::with_capacity(runs);
    let mut found = 0;
    for _ in 0..runs {
        let t = Instant::now();
        found = f().await?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "{label:<44} {found:>4} rows   p50 {:>7.2} ms   max {:>7.2} ms",
        samples[samples.len() / 2],
        samples[samples.len() - 1]
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, runs) = if full { (100_000, 20) } else { (2_000, 3) };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("mcias.db");
    let store = Store::open(&path)?;
    store.migrate(1_700_000_000)?;
    let t = Instant::now();
    seed(&path, n)?;
    println!("seeded {n} accounts in {:.1} s", t.elapsed().as_secs_f64());
    let s: &dyn Backend = &store;
    let page = 50;
    time("username prefix `user05` (first page)", runs, || async {
        Ok(s.search_accounts(Some("user05".into()), None, None, page)
            .await?
            .len())
    })
    .await?;
    time("username prefix `user0999` (exact-ish)", runs, || async {
        Ok(s.search_accounts(Some("user0999".into()), None, None, page)
            .await?
            .len())
    })
    .await?;
    time("email prefix `person4` (first page)", runs, || async {
        Ok(s.search_accounts(Some("person4".into()), None, None, page)
            .await?
            .len())
    })
    .await?;
    time("status suspended (first page)", runs, || async {
        Ok(
            s.search_accounts(None, Some(AccountStatus::Suspended), None, page)
                .await?
                .len(),
        )
    })
    .await?;
    time("no query (first page)", runs, || async {
        Ok(s.search_accounts(None, None, None, page).await?.len())
    })
    .await?;
    time("no query (page after the middle id)", runs, || async {
        let after = format!("{:032x}", n / 2);
        Ok(s.search_accounts(None, None, Some(after), page)
            .await?
            .len())
    })
    .await?;
    time("prefix matching nothing `zzz`", runs, || async {
        Ok(s.search_accounts(Some("zzz".into()), None, None, page)
            .await?
            .len())
    })
    .await?;
    Ok(())
}
