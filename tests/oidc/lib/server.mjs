// A real `mciassrv dev` for one test file: a free loopback port, a temporary
// data directory, reached as https://localhost:PORT with the dev CA trusted
// for Node's fetches (an undici Agent; nothing global is changed), plus the
// admin REST calls the tests use to set up clients, accounts, profiles and
// TOTP and to read back what the server recorded (audit log, introspection).

import { spawn } from 'node:child_process';
import { createHash, createHmac, createPublicKey, verify as cryptoVerify, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = process.env.MCIAS_BIN
  ? resolve(ROOT, process.env.MCIAS_BIN)
  : join(ROOT, 'target', 'debug', 'mciassrv');

/** Resolves after `ms` milliseconds. */
export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function until(what, fn, { timeoutMs = 60_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await delay(intervalMs);
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** RFC 7636 S256 pair. */
export function pkce() {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

export const randomToken = () => b64url(randomBytes(16));

/** Decodes a JWT without verifying it: { header, payload }. */
export function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

/** OIDC Core 3.1.3.6 at_hash / c_hash: the left half of the hash of the
 * value, the hash chosen by the JWS alg (SHA-512 for Ed25519, per the
 * errata set 2 text). */
export function halfHash(alg, value) {
  const h = { RS256: 'sha256', ES256: 'sha256', PS256: 'sha256', EdDSA: 'sha512' }[alg];
  if (!h) throw new Error(`no hash for alg ${alg}`);
  const d = createHash(h).update(value, 'ascii').digest();
  return b64url(d.subarray(0, d.length / 2));
}

/** RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 secret and step. */
export function totpCode(secretBase32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretBase32.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`bad base32 character ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[19] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1_000_000).padStart(6, '0');
}

/** A TOTP factor: hands out codes of strictly increasing steps inside the
 * server's ±1 step window (it refuses a step it has already accepted). */
export class Totp {
  constructor(secret) {
    this.secret = secret;
    this.last = -Infinity;
  }

  async next() {
    for (;;) {
      const nowSec = Date.now() / 1000;
      const now = Math.floor(nowSec / 30);
      // The previous step only when the current one is young, so that it is
      // still inside the window when the server checks it.
      let step = Math.max(this.last + 1, nowSec % 30 < 20 ? now - 1 : now);
      if (step <= now + 1) {
        this.last = step;
        return totpCode(this.secret, step);
      }
      await delay((30 - (nowSec % 30)) * 1000 + 200);
    }
  }
}

/** A minimal cookie jar for fetch-driven browser flows. */
export class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a))
        || attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** The value of every hidden input of the first form whose action matches. */
export function formFields(html, action) {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  const form = forms.find((m) => !action || new RegExp(`action\\s*=\\s*["']${action}`).test(m[1]));
  if (!form) throw new Error(`no form posting to ${action} in:\n${html.slice(0, 2000)}`);
  const fields = {};
  for (const m of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const tag = m[0];
    const name = /\bname\s*=\s*["']([^"']*)["']/i.exec(tag)?.[1];
    const value = /\bvalue\s*=\s*["']([^"']*)["']/i.exec(tag)?.[1] ?? '';
    const type = /\btype\s*=\s*["']([^"']*)["']/i.exec(tag)?.[1] ?? 'text';
    if (name && type.toLowerCase() === 'hidden') fields[name] = decodeEntities(value);
  }
  return fields;
}

export function decodeEntities(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x2F;|&#47;/g, '/')
    .replace(/&#x3D;|&#61;/g, '=')
    .replace(/&amp;/g, '&');
}

export class McIasServer {
  constructor({ dir, dataDir, port, proc, logPath }) {
    this.dir = dir;
    this.dataDir = dataDir;
    this.port = port;
    this.proc = proc;
    this.logPath = logPath;
    this.issuer = `https://localhost:${port}`;
    this.base = this.issuer;
    this.caFile = join(dataDir, 'tls', 'ca.pem');
    this.ca = readFileSync(this.caFile, 'utf8');
    this.adminPassword = readFileSync(join(dataDir, 'admin-password'), 'utf8').trim();
    this.dispatcher = new Agent({ connect: { ca: this.ca }, keepAliveTimeout: 1000 });
    this.adminToken = null;
  }

  /** fetch with the dev CA trusted; redirects are never followed. */
  fetch(url, init = {}) {
    const u = new URL(url, this.base);
    return undiciFetch(u, { redirect: 'manual', ...init, dispatcher: this.dispatcher });
  }

  /** A fetch function for libraries (openid-client's customFetch). */
  get fetchFn() {
    return (url, init = {}) => undiciFetch(url, { ...init, dispatcher: this.dispatcher });
  }

  /** The last lines of the server's log, for failure messages. */
  logTail(lines = 40) {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** A REST call with a JSON body; throws with the answer unless 2xx. */
  async api(method, path, { body, token = this.adminToken, ok = true } = {}) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await this.fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { raw: text };
    }
    if (ok && (r.status < 200 || r.status > 299)) {
      throw new Error(`${method} ${path} → ${r.status}: ${text}`);
    }
    return ok ? json : { status: r.status, json, headers: r.headers };
  }

  async login(username, password, totpCode) {
    const body = { username, password };
    if (totpCode) body.totpCode = totpCode;
    const r = await this.api('POST', '/v1/auth/login', { body, token: null });
    return r;
  }

  async loginAdmin() {
    this.adminToken = (await this.login('admin', this.adminPassword)).token;
    return this.adminToken;
  }

  /** A human account with a profile; returns { id, username, password, email, ... }. */
  async createUser(username, { password = `${username} password 123`, profile = {} } = {}) {
    const { account } = await this.api('POST', '/v1/accounts', {
      body: { username, accountType: 'ACCOUNT_TYPE_HUMAN', password },
    });
    const fields = {
      email: `${username}@example.com`,
      emailVerified: true,
      displayName: `${username[0].toUpperCase()}${username.slice(1)} Example`,
      givenName: `${username[0].toUpperCase()}${username.slice(1)}`,
      familyName: 'Example',
      ...profile,
    };
    const updated = await this.setProfile(account.id, fields);
    return { ...updated, password };
  }

  async setProfile(accountId, fields) {
    const mask = Object.keys(fields).join(',');
    const { account } = await this.api('PATCH', `/v1/accounts/${accountId}/profile`, {
      body: { ...fields, updateMask: mask },
    });
    return account;
  }

  async setRoles(accountId, roles) {
    return this.api('PUT', `/v1/accounts/${accountId}/roles`, { body: { roles } });
  }

  /** Enrolls and confirms TOTP for the user (as the user); returns a Totp. */
  async enrollTotp(user) {
    const { token } = await this.login(user.username, user.password);
    const { secret } = await this.api('POST', '/v1/auth/totp/enroll', { body: {}, token });
    const totp = new Totp(secret);
    await this.api('POST', '/v1/auth/totp/confirm', { body: { code: await totp.next() }, token });
    return totp;
  }

  /** Registers an OAuth client; returns { clientId, clientSecret, client }. */
  async createClient({
    clientId,
    name = clientId,
    type = 'confidential',
    redirectUris,
    postLogoutRedirectUris = [],
    grantTypes = ['GRANT_TYPE_AUTHORIZATION_CODE', 'GRANT_TYPE_REFRESH_TOKEN'],
    scopes = ['openid', 'profile', 'email', 'offline_access'],
    alg = 'RS256',
    firstParty = false,
  }) {
    const r = await this.api('POST', '/v1/clients', {
      body: {
        clientId,
        name,
        clientType: type === 'public' ? 'CLIENT_TYPE_PUBLIC' : 'CLIENT_TYPE_CONFIDENTIAL',
        redirectUris,
        postLogoutRedirectUris,
        grantTypes,
        scopes,
        idTokenSigningAlg: alg === 'EdDSA' ? 'SIGNING_ALGORITHM_EDDSA' : 'SIGNING_ALGORITHM_RS256',
        firstParty,
      },
    });
    return { clientId: r.client.clientId, clientSecret: r.clientSecret || undefined, client: r.client };
  }

  /** Audit events (newest first) with id above `afterId`, filtered. */
  async audit({ accountId, eventType, afterId = 0 } = {}) {
    const q = new URLSearchParams({ pageSize: '500' });
    if (accountId) q.set('accountId', accountId);
    if (eventType) q.set('eventType', eventType);
    const { events = [] } = await this.api('GET', `/v1/audit/events?${q}`);
    return events
      .filter((e) => Number(e.id) > afterId)
      .map((e) => ({ ...e, details: e.details ? safeJson(e.details) : {} }));
  }

  /** The id of the newest audit event, to look only at what follows. */
  async auditMark() {
    const { events = [] } = await this.api('GET', '/v1/audit/events?pageSize=1');
    return events.length ? Number(events[0].id) : 0;
  }

  /** RFC 7662 introspection with the admin token as the caller. */
  async introspect(token) {
    const r = await this.fetch('/oauth2/introspect', {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`introspect → ${r.status}: ${text}`);
    return JSON.parse(text);
  }

  async discovery() {
    const r = await this.fetch('/.well-known/openid-configuration');
    if (r.status !== 200) throw new Error(`discovery → ${r.status}`);
    return r.json();
  }

  /** Verifies a JWS against the server's JWKS with node:crypto; returns
   * { header, payload }. Refuses alg "none" and unknown kids. */
  async verifyJwt(jwt) {
    const { header, payload } = decodeJwt(jwt);
    const r = await this.fetch('/.well-known/jwks.json');
    const { keys } = await r.json();
    const jwk = keys.find((k) => k.kid === header.kid);
    if (!jwk) throw new Error(`kid ${header.kid} is not in the JWKS (${keys.map((k) => k.kid).join(', ')})`);
    if (jwk.alg && jwk.alg !== header.alg) throw new Error(`alg ${header.alg} but the key says ${jwk.alg}`);
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const [h, p, s] = jwt.split('.');
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    let ok;
    if (header.alg === 'EdDSA') ok = cryptoVerify(null, data, key, sig);
    else if (header.alg === 'RS256') ok = cryptoVerify('sha256', data, key, sig);
    else throw new Error(`unexpected alg ${header.alg}`);
    if (!ok) throw new Error('signature does not verify');
    return { header, payload, jwk };
  }

  /** POST /oauth2/token with form fields; returns { status, json, headers }. */
  async token(fields, { clientId, clientSecret, auth = 'basic' } = {}) {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const form = { ...fields };
    if (clientSecret && auth === 'basic') {
      const enc = (s) => encodeURIComponent(s);
      headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
    } else if (clientSecret) {
      form.client_id = clientId;
      form.client_secret = clientSecret;
    } else if (clientId) {
      form.client_id = clientId;
    }
    const r = await this.fetch('/oauth2/token', { method: 'POST', headers, body: new URLSearchParams(form).toString() });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { raw: text };
    }
    return { status: r.status, json, headers: r.headers };
  }

  async userinfo(accessToken) {
    const r = await this.fetch('/oauth2/userinfo', { headers: { authorization: `Bearer ${accessToken}` } });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { raw: text };
    }
    return { status: r.status, json, headers: r.headers };
  }

  /** An /oauth2/authorize URL with the usual parameters. */
  authorizeUrl(params) {
    const u = new URL('/oauth2/authorize', this.base);
    for (const [k, v] of Object.entries({ response_type: 'code', ...params })) {
      if (v !== undefined && v !== null) u.searchParams.set(k, v);
    }
    return u.toString();
  }

  /** Signs in through the HTML /login form with fetch (a cookie jar, no
   * browser); returns the jar holding the session cookie. */
  async formSignIn(user, { jar = new CookieJar(), totp } = {}) {
    let r = await this.fetch('/login', { headers: { cookie: jar.header() } });
    jar.store(r);
    const html = await r.text();
    if (r.status !== 200) throw new Error(`GET /login → ${r.status}`);
    const fields = formFields(html, '/login');
    r = await this.fetch('/login', {
      method: 'POST',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, username: user.username, password: user.password }).toString(),
    });
    jar.store(r);
    if (totp) {
      const page = await r.text();
      if (r.status !== 200) throw new Error(`POST /login (TOTP account) → ${r.status}: ${page.slice(0, 500)}`);
      const f2 = formFields(page, '/login/totp');
      r = await this.fetch('/login/totp', {
        method: 'POST',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...f2, code: await totp.next() }).toString(),
      });
      jar.store(r);
    }
    if (r.status !== 303) throw new Error(`sign-in → ${r.status}: ${(await r.text()).slice(0, 500)}`);
    return jar;
  }

  async stop() {
    await this.dispatcher.close().catch(() => {});
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (!process.env.MCIAS_KEEP_DATA) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Kills `proc` when this process exits, however it exits (a crashed test
 * file must not leave its server or helpers running). */
export function killOnExit(proc) {
  const kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', kill);
  proc.once('exit', () => process.off('exit', kill));
}

function safeJson(s) {
  try {
    return JSON.parse(s);
  } catch {
    return { raw: s };
  }
}

/** Starts `mciassrv dev`, waits until it answers over TLS, logs in as
 * admin, and checks that each of `require` is served (not 404), so that a
 * server without the provider fails every test at once, saying why. */
export async function startServer({ require = ['/oauth2/authorize'] } = {}) {
  const server = await spawnServer();
  try {
    for (const path of require) {
      const r = await server.fetch(path);
      await r.arrayBuffer();
      if (r.status === 404) {
        throw new Error(`${BIN} does not serve ${path} (404): the server does not implement this part of the OIDC contract yet`);
      }
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

async function spawnServer() {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} not found: build the server first (make build-tests) or set MCIAS_BIN`);
  }
  let lastError;
  // A free port can be taken between the probe and the bind: try a few.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'mcias-oidc-'));
    const dataDir = join(dir, 'data');
    const logPath = join(dir, 'server.log');
    const port = await freePort();
    const log = createWriteStream(logPath);
    const proc = spawn(BIN, ['dev', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(proc);
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      log.write(d);
    });
    proc.stderr.on('data', (d) => log.write(d));
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    try {
      await until('the server banner', () => {
        if (exited) throw new Error(`mciassrv exited (${proc.exitCode}): ${readFileSync(logPath, 'utf8')}`);
        return out.includes('listening:')
          && existsSync(join(dataDir, 'tls', 'ca.pem'))
          && existsSync(join(dataDir, 'admin-password'));
      }, { timeoutMs: 60_000 });
      const server = new McIasServer({ dir, dataDir, port, proc, logPath });
      await until('the server to answer /readyz', async () => {
        if (exited) throw new Error('mciassrv exited');
        const r = await server.fetch('/readyz');
        await r.arrayBuffer();
        return r.status === 200;
      }, { timeoutMs: 60_000 });
      await server.loginAdmin();
      return server;
    } catch (e) {
      lastError = e;
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}
