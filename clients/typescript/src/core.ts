import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client as ServiceClient, type Interceptor, type Transport, createClient } from "@connectrpc/connect";

import { type Account, AccountStatus, AccountType } from "../../../gen/ts/mcias/v1/account_pb.js";
import { AccountService, type PgCreds } from "../../../gen/ts/mcias/v1/account_service_pb.js";
import { AdminService, type AuditEvent } from "../../../gen/ts/mcias/v1/admin_service_pb.js";
import {
  AuthService,
  type LoginResponse,
  type RenewTokenResponse,
} from "../../../gen/ts/mcias/v1/auth_service_pb.js";
import {
  type IssueServiceTokenResponse,
  type Jwk,
  TokenService,
  type ValidateTokenResponse,
} from "../../../gen/ts/mcias/v1/token_service_pb.js";
import { toMciasError } from "./errors.js";

export { AccountStatus, AccountType };
export type {
  Account,
  AuditEvent,
  IssueServiceTokenResponse,
  Jwk,
  LoginResponse,
  PgCreds,
  RenewTokenResponse,
  ValidateTokenResponse,
};

/** Options common to every transport. */
export interface ClientOptions {
  /** A bearer token to start with. */
  token?: string;
  /** Per-call timeout in milliseconds (default 30000). */
  timeoutMs?: number;
}

/** Filters for {@link BaseClient.listAuditEvents}; empty fields do not filter. */
export interface AuditFilter {
  accountId?: string;
  eventType?: string;
  since?: Date;
  pageSize?: number;
}

/** Parses `HUMAN`/`SYSTEM` or passes an AccountType through. */
function accountType(v: AccountType | "HUMAN" | "SYSTEM"): AccountType {
  return typeof v === "string" ? AccountType[v] : v;
}

/** Parses `ACTIVE`/`INACTIVE`/`SUSPENDED` or passes an AccountStatus through. */
function accountStatus(v: AccountStatus | "ACTIVE" | "INACTIVE" | "SUSPENDED"): AccountStatus {
  return typeof v === "string" ? AccountStatus[v] : v;
}

/** `https://host:port` from `host:port` or a URL. */
export function baseUrl(server: string): string {
  const s = server.replace(/\/+$/, "");
  return /^https?:\/\//.test(s) ? s : `https://${s}`;
}

/**
 * The client surface, independent of the transport. Use `Client` from
 * `@mcias/client` (Node, gRPC) or `@mcias/client/web` (browsers, gRPC-Web).
 * Every method rejects with a subclass of MciasError.
 */
export class BaseClient {
  #token: string;
  readonly #timeoutMs: number;
  readonly #auth: ServiceClient<typeof AuthService>;
  readonly #tokens: ServiceClient<typeof TokenService>;
  readonly #accounts: ServiceClient<typeof AccountService>;
  readonly #admin: ServiceClient<typeof AdminService>;

  /** `makeTransport` builds the transport with the interceptors it is given (the bearer token). */
  protected constructor(makeTransport: (interceptors: Interceptor[]) => Transport, opts: ClientOptions = {}) {
    this.#token = opts.token ?? "";
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    const bearer: Interceptor = (next) => async (req) => {
      const token = this.#token;
      if (token !== "") req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    const transport = makeTransport([bearer]);
    this.#auth = createClient(AuthService, transport);
    this.#tokens = createClient(TokenService, transport);
    this.#accounts = createClient(AccountService, transport);
    this.#admin = createClient(AdminService, transport);
  }

  /** The token the client currently sends (`""` when none). */
  get token(): string {
    return this.#token;
  }

  set token(value: string) {
    this.#token = value;
  }

  async #call<T>(f: (opts: { timeoutMs: number }) => Promise<T>): Promise<T> {
    try {
      return await f({ timeoutMs: this.#timeoutMs });
    } catch (err) {
      throw toMciasError(err);
    }
  }

  /** Exchanges credentials for a token, which the client then holds. */
  async login(username: string, password: string, totpCode = ""): Promise<LoginResponse> {
    const res = await this.#call((o) => this.#auth.login({ username, password, totpCode }, o));
    this.#token = res.token;
    return res;
  }

  /** Revokes the held token and forgets it. */
  async logout(): Promise<void> {
    await this.#call((o) => this.#auth.logout({}, o));
    this.#token = "";
  }

  /** Replaces the held token with a fresh one; the old one is revoked. */
  async renew(): Promise<RenewTokenResponse> {
    const res = await this.#call((o) => this.#auth.renewToken({}, o));
    this.#token = res.token;
    return res;
  }

  /** Checks any token; an invalid token resolves with `valid: false`. */
  validate(token: string): Promise<ValidateTokenResponse> {
    return this.#call((o) => this.#tokens.validateToken({ token }, o));
  }

  /** The JWKs that verify tokens. */
  async publicKeys(): Promise<Jwk[]> {
    return (await this.#call((o) => this.#tokens.listPublicKeys({}, o))).keys;
  }

  /** The server's status, `SERVING` when it can serve. */
  async health(): Promise<string> {
    return (await this.#call((o) => this.#admin.health({}, o))).status;
  }

  /** Creates an account (admin); system accounts take no password. */
  async createAccount(
    username: string,
    type: AccountType | "HUMAN" | "SYSTEM" = "HUMAN",
    password = "",
  ): Promise<Account> {
    const res = await this.#call((o) =>
      this.#accounts.createAccount({ username, accountType: accountType(type), password }, o),
    );
    return res.account!;
  }

  /** Iterates over every account that is not deleted, page by page (admin). */
  async *listAccounts(pageSize = 0): AsyncGenerator<Account> {
    let pageToken = "";
    do {
      const res = await this.#call((o) => this.#accounts.listAccounts({ pageSize, pageToken }, o));
      yield* res.accounts;
      pageToken = res.nextPageToken;
    } while (pageToken !== "");
  }

  /** One account, deleted ones included (admin). */
  async getAccount(id: string): Promise<Account> {
    return (await this.#call((o) => this.#accounts.getAccount({ id }, o))).account!;
  }

  /** Sets an account's status (admin); leaving ACTIVE revokes its tokens. */
  async updateAccount(id: string, status: AccountStatus | "ACTIVE" | "INACTIVE" | "SUSPENDED"): Promise<Account> {
    const updateMask = create(FieldMaskSchema, { paths: ["status"] });
    const res = await this.#call((o) =>
      this.#accounts.updateAccount({ id, status: accountStatus(status), updateMask }, o),
    );
    return res.account!;
  }

  /** Soft-deletes an account and revokes its tokens (admin). */
  async deleteAccount(id: string): Promise<void> {
    await this.#call((o) => this.#accounts.deleteAccount({ id }, o));
  }

  /** An account's roles, sorted (admin). */
  async getRoles(accountId: string): Promise<string[]> {
    return (await this.#call((o) => this.#accounts.getRoles({ accountId }, o))).roles;
  }

  /** Replaces an account's roles; returns them sorted (admin). */
  async setRoles(accountId: string, roles: string[]): Promise<string[]> {
    return (await this.#call((o) => this.#accounts.setRoles({ accountId, roles }, o))).roles;
  }

  /** Issues a token for a system account (admin); the client keeps its own. */
  issueServiceToken(accountId: string): Promise<IssueServiceTokenResponse> {
    return this.#call((o) => this.#tokens.issueServiceToken({ accountId }, o));
  }

  /** Revokes a token by its jti (admin). */
  async revokeToken(jti: string, reason = ""): Promise<void> {
    await this.#call((o) => this.#tokens.revokeToken({ jti, reason }, o));
  }

  /** Stored PostgreSQL credentials, password included (self or admin). */
  async getPgCreds(accountId: string): Promise<PgCreds> {
    return (await this.#call((o) => this.#accounts.getPgCreds({ accountId }, o))).creds!;
  }

  /** Stores PostgreSQL credentials for an account (self or admin). */
  async setPgCreds(
    accountId: string,
    creds: { host: string; port: number; database: string; username: string; password: string },
  ): Promise<void> {
    await this.#call((o) => this.#accounts.setPgCreds({ accountId, ...creds }, o));
  }

  /** Iterates over matching audit events, newest first, page by page (admin). */
  async *listAuditEvents(filter: AuditFilter = {}): AsyncGenerator<AuditEvent> {
    let pageToken = "";
    do {
      const res = await this.#call((o) =>
        this.#admin.listAuditEvents(
          {
            accountId: filter.accountId ?? "",
            eventType: filter.eventType ?? "",
            since: filter.since ? timestampFromDate(filter.since) : undefined,
            pageSize: filter.pageSize ?? 0,
            pageToken,
          },
          o,
        ),
      );
      yield* res.events;
      pageToken = res.nextPageToken;
    } while (pageToken !== "");
  }
}
