"""Log in to a `mciassrv dev` server as admin, create an account, list accounts.

Run from the repository root after `cargo run --bin mciassrv -- dev`.
"""

from pathlib import Path

import mcias_client

client = mcias_client.Client("localhost:8443", ca_cert="mcias-dev/tls/ca.pem")
print("health:", client.health())

client.login("admin", Path("mcias-dev/admin-password").read_text().strip())
print("logged in; roles:", list(client.validate(client.token).claims.roles))

try:
    account = client.create_account("quickstart-py", "HUMAN", "a long enough password")
    print("created", account.username, account.id)
except mcias_client.AlreadyExists as err:
    print("quickstart-py exists already:", err.message)

for account in client.list_accounts():
    print("account:", account.username)

client.logout()
client.close()
