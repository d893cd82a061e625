// The Node gRPC client against a real `mciassrv dev`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, MciasError, NotFound, Unauthenticated } from "../src/index.js";
import { env, runContract } from "./contract.js";

test("contract over gRPC", async () => {
  assert.ok((await runContract((server, ca) => new Client(server, { caCert: ca }))) > 10);
});

test("error classes and the token option", async () => {
  const { server, ca, adminPassword } = env();
  const anon = new Client(server, { caCert: ca });
  await assert.rejects(anon.login("admin", "wrong password"), (e: unknown) => {
    assert.ok(e instanceof Unauthenticated && e instanceof MciasError);
    assert.equal(e.code, "UNAUTHENTICATED");
    return true;
  });
  const token = (await anon.login("admin", adminPassword)).token;
  const c = new Client(`https://${server}`, { caCert: ca, token });
  assert.equal(c.token, token);
  // Concurrent calls share the held token.
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => c.getRoles("00000000-0000-4000-8000-000000000000")));
  for (const r of results) {
    assert.equal(r.status, "rejected");
    assert.ok(r.status === "rejected" && r.reason instanceof NotFound);
  }
  await c.logout();
  assert.equal(c.token, "");
});
