// Log in to a `mciassrv dev` server as admin, create an account, list
// accounts. Run from clients/typescript (after `npm ci && npm run build`)
// once `cargo run --bin mciassrv -- dev` serves in the repository root.
import { readFileSync } from "node:fs";

import { AlreadyExists, Client } from "@mcias/client";

const client = new Client("localhost:8443", { caCert: "../../mcias-dev/tls/ca.pem" });
console.log("health:", await client.health());

await client.login("admin", readFileSync("../../mcias-dev/admin-password", "utf8").trim());
console.log("logged in; roles:", (await client.validate(client.token)).claims?.roles);

try {
  const account = await client.createAccount("quickstart-ts", "HUMAN", "a long enough password");
  console.log("created", account.username, account.id);
} catch (err) {
  if (!(err instanceof AlreadyExists)) throw err;
  console.log("quickstart-ts exists already:", err.serverMessage);
}

for await (const account of client.listAccounts()) {
  console.log("account:", account.username);
}
await client.logout();
