//! Logs in to a `mciassrv dev` server as admin, creates an account and lists
//! every account. Run from the repository root after
//! `cargo run --bin mciassrv -- dev`:
//! `cargo run -p mcias-client --example quickstart`.

use std::path::Path;

use mcias_client::{Client, Error, pb::AccountType};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::new(
        "localhost:8443",
        Some(Path::new("mcias-dev/tls/ca.pem")),
        None,
    )?;
    println!("health: {}", client.health().await?);

    let password = std::fs::read_to_string("mcias-dev/admin-password")?;
    client.login("admin", password.trim(), "").await?;
    let claims = client
        .validate(&client.token())
        .await?
        .claims
        .unwrap_or_default();
    println!("logged in; roles: {:?}", claims.roles);

    match client
        .create_account(
            "quickstart-rs",
            AccountType::Human,
            "a long enough password",
        )
        .await
    {
        Ok(account) => println!("created {} {}", account.username, account.id),
        Err(Error::AlreadyExists(msg)) => println!("quickstart-rs exists already: {msg}"),
        Err(e) => return Err(e.into()),
    }

    for account in client.list_accounts(0).await? {
        println!("account: {} {:?}", account.username, account.status());
    }
    client.logout().await?;
    Ok(())
}
