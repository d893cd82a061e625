// The browser client (gRPC-Web over fetch) against a real `mciassrv dev`.
// fetch has no per-request CA option: the test command sets
// NODE_EXTRA_CA_CERTS to the development CA, as a browser would trust it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, PermissionDenied } from "../src/web.js";
import { env, runContract } from "./contract.js";

test("contract over gRPC-Web", async () => {
  assert.ok((await runContract((server) => new Client(server))) > 10);
});

test("gRPC-Web errors are typed", async () => {
  const { server, adminPassword } = env();
  const c = new Client(server);
  await c.login("admin", adminPassword);
  await assert.rejects(c.setRoles("00000000-0000-4000-8000-000000000000", ["x"]), (e: unknown) => {
    // An unknown account is NOT_FOUND, never PERMISSION_DENIED for an admin.
    assert.ok(!(e instanceof PermissionDenied));
    return true;
  });
  await c.logout();
});
