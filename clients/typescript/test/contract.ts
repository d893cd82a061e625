// Runs clients/testdata/contract.json against any client of this package
// (Node gRPC or gRPC-Web), talking to a real `mciassrv dev`
// (clients/testdata/with-server.sh).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import { type Account, AccountStatus, AccountType, type BaseClient } from "../src/core.js";
import { MciasError } from "../src/errors.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Result = Record<string, Json>;

interface Step {
  name: string;
  client: string;
  call: string;
  args: Record<string, Json>;
  save?: Record<string, string>;
  expect: {
    error?: string;
    result?: Result;
    contains?: Result;
    excludes?: Result;
    nonempty?: string[];
  };
}

export function env(): { server: string; ca: string; adminPassword: string; contract: string } {
  const server = process.env.MCIAS_SERVER ?? "";
  const ca = process.env.MCIAS_CA_CERT ?? "";
  const adminPassword = process.env.MCIAS_ADMIN_PASSWORD ?? "";
  const contract = process.env.MCIAS_CONTRACT ?? "";
  if (!server || !ca || !adminPassword || !contract) {
    throw new Error("run the tests through clients/testdata/with-server.sh");
  }
  return { server, ca, adminPassword, contract };
}

function subst(v: Json, vars: Record<string, Json>): Json {
  if (typeof v === "string") return v.replace(/\$\{(\w+)\}/g, (_, k: string) => String(vars[k]));
  if (Array.isArray(v)) return v.map((e) => subst(e, vars));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, subst(e, vars)]));
  }
  return v;
}

const str = (a: Record<string, Json>, k: string): string => (typeof a[k] === "string" ? (a[k] as string) : "");
const num = (a: Record<string, Json>, k: string): number => (typeof a[k] === "number" ? (a[k] as number) : 0);

function account(a: Account): Result {
  return {
    id: a.id,
    username: a.username,
    account_type: AccountType[a.accountType].replace(/^ACCOUNT_TYPE_/, ""),
    status: AccountStatus[a.status].replace(/^ACCOUNT_STATUS_/, ""),
    totp_enabled: a.totpEnabled,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function call(c: BaseClient, name: string, a: Record<string, Json>): Promise<Result> {
  switch (name) {
    case "health":
      return { status: await c.health() };
    case "public_keys":
      return { kids: (await c.publicKeys()).map((k) => k.kid) };
    case "login":
      return { token: (await c.login(str(a, "username"), str(a, "password"), str(a, "totp_code"))).token };
    case "logout":
      await c.logout();
      return {};
    case "renew":
      return { token: (await c.renew()).token };
    case "validate": {
      const r = await c.validate(str(a, "token"));
      return {
        valid: r.valid,
        subject: r.claims?.subject ?? "",
        roles: r.claims?.roles ?? [],
        jti: r.claims?.jti ?? "",
        token_type: r.claims?.tokenType ?? "",
      };
    }
    case "create_account":
      return account(
        await c.createAccount(str(a, "username"), str(a, "account_type") as "HUMAN" | "SYSTEM", str(a, "password")),
      );
    case "get_account":
      return account(await c.getAccount(str(a, "id")));
    case "update_account":
      return account(await c.updateAccount(str(a, "id"), str(a, "status") as "ACTIVE" | "INACTIVE" | "SUSPENDED"));
    case "delete_account":
      await c.deleteAccount(str(a, "id"));
      return {};
    case "list_accounts":
      return { usernames: (await collect(c.listAccounts(num(a, "page_size")))).map((x) => x.username) };
    case "get_roles":
      return { roles: await c.getRoles(str(a, "account_id")) };
    case "set_roles":
      return { roles: await c.setRoles(str(a, "account_id"), (a.roles ?? []) as string[]) };
    case "issue_service_token":
      return { token: (await c.issueServiceToken(str(a, "account_id"))).token };
    case "revoke_token":
      await c.revokeToken(str(a, "jti"), str(a, "reason"));
      return {};
    case "get_pg_creds": {
      const p = await c.getPgCreds(str(a, "account_id"));
      return { host: p.host, port: p.port, database: p.database, username: p.username, password: p.password };
    }
    case "set_pg_creds":
      await c.setPgCreds(str(a, "account_id"), {
        host: str(a, "host"),
        port: num(a, "port"),
        database: str(a, "database"),
        username: str(a, "username"),
        password: str(a, "password"),
      });
      return {};
    case "list_audit_events": {
      const events = await collect(
        c.listAuditEvents({ accountId: str(a, "account_id"), eventType: str(a, "event_type") }),
      );
      return { event_types: events.map((e) => e.eventType) };
    }
    default:
      throw new Error(`unknown call ${name}`);
  }
}

const asList = (v: Json): Json[] => (Array.isArray(v) ? v : [v]);
const listOf = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);

/** Runs every step; returns the number of steps. */
export async function runContract(make: (server: string, ca: string) => BaseClient): Promise<number> {
  const { server, ca, adminPassword, contract } = env();
  const spec = JSON.parse(readFileSync(contract, "utf8")) as { clients: string[]; steps: Step[] };
  const clients = new Map(spec.clients.map((n) => [n, make(server, ca)]));
  const vars: Record<string, Json> = { admin_password: adminPassword, run: randomBytes(4).toString("hex") };
  assert.ok(spec.steps.length > 10);
  for (const [i, step] of spec.steps.entries()) {
    const label = `step ${i + 1} '${step.name}' (${step.call})`;
    const args = subst(step.args, vars) as Record<string, Json>;
    let res: Result | undefined;
    let err: unknown;
    try {
      res = await call(clients.get(step.client)!, step.call, args);
    } catch (e) {
      err = e;
    }
    if (step.expect.error !== undefined) {
      assert.ok(err instanceof MciasError, `${label}: want ${step.expect.error}, got ${String(err)}`);
      assert.equal(err.code, step.expect.error, `${label}: ${err.message}`);
      assert.ok(err.serverMessage !== "", `${label}: the error carries no message`);
      continue;
    }
    if (err !== undefined) assert.fail(`${label}: ${String(err)}`);
    const r = res!;
    for (const [k, want] of Object.entries((subst(step.expect.result ?? {}, vars) as Result))) {
      assert.deepEqual(r[k], want, `${label}: ${k}`);
    }
    for (const [k, want] of Object.entries((subst(step.expect.contains ?? {}, vars) as Result))) {
      for (const w of asList(want)) assert.ok(listOf(r[k]).includes(w), `${label}: ${k} = ${JSON.stringify(r[k])} lacks ${String(w)}`);
    }
    for (const [k, want] of Object.entries((subst(step.expect.excludes ?? {}, vars) as Result))) {
      for (const w of asList(want)) assert.ok(!listOf(r[k]).includes(w), `${label}: ${k} = ${JSON.stringify(r[k])} has ${String(w)}`);
    }
    for (const k of step.expect.nonempty ?? []) {
      const v = r[k];
      assert.ok(v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0), `${label}: ${k} is empty`);
    }
    for (const [v, field] of Object.entries(step.save ?? {})) vars[v] = r[field] ?? null;
  }
  return spec.steps.length;
}
