// Shared steps of the authorization-code flow and of checking what the
// server recorded.

import assert from 'node:assert/strict';
import { pkce, randomToken, until } from './server.mjs';

/** A fresh authorization request: its URL and the values to check later. */
export function authorizeRequest(server, { clientId, redirectUri, scope = 'openid profile email', ...extra }) {
  const { verifier, challenge } = pkce();
  const state = randomToken();
  const nonce = randomToken();
  const url = server.authorizeUrl({
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url, state, nonce, verifier, challenge, clientId, redirectUri, scope };
}

/** Exchanges a code at the token endpoint and asserts the RFC 6749 §5.1
 * success answer; returns the token response JSON. */
export async function exchangeCode(server, req, code, { clientSecret, auth = 'basic' } = {}) {
  const r = await server.token(
    { grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: req.verifier },
    { clientId: req.clientId, clientSecret, auth },
  );
  assert.equal(r.status, 200, `token exchange: ${JSON.stringify(r.json)}`);
  assert.match(r.headers.get('cache-control') ?? '', /no-store/, 'token responses are not cached (RFC 6749 §5.1)');
  assert.equal(r.json.token_type.toLowerCase(), 'bearer');
  assert.ok(r.json.expires_in > 0, 'expires_in');
  assert.ok(r.json.access_token, 'access_token');
  return r.json;
}

/** Asserts an OAuth error answer from the token endpoint. */
export function assertTokenError(r, error, status = 400) {
  assert.equal(r.json.error, error, `expected ${error}, got ${r.status} ${JSON.stringify(r.json)}`);
  assert.equal(r.status, status, `status for ${error}: ${JSON.stringify(r.json)}`);
}

/** The parameters of the redirect to the client's redirect URI. */
export function callbackParams(url) {
  return Object.fromEntries(new URL(url).searchParams);
}

/** Polls the audit log until an event after `mark` satisfies `pred`;
 * fails listing what was recorded. */
export async function expectAudit(server, mark, what, pred, { accountId, timeoutMs = 10_000 } = {}) {
  let events = [];
  try {
    return await until(`audit event: ${what}`, async () => {
      events = await server.audit({ accountId, afterId: mark });
      return events.find(pred);
    }, { timeoutMs, intervalMs: 200 });
  } catch {
    assert.fail(`no audit event "${what}" after #${mark}; recorded: ${JSON.stringify(
      events.map((e) => ({ id: e.id, type: e.eventType, outcome: e.outcome, actor: e.actorId, target: e.targetId, details: e.details })),
      null,
      1,
    )}`);
  }
}

/** Whether an audit event concerns a client id (in its details or target). */
export const mentionsClient = (e, clientId) => e.targetId === clientId || JSON.stringify(e.details).includes(`"${clientId}"`);

/** Asserts the standard claims of an ID token issued to `req` for `user`. */
export function assertIdTokenClaims(server, claims, { req, user, amr = ['pwd'] }) {
  const now = Math.floor(Date.now() / 1000);
  assert.equal(claims.iss, server.issuer, 'iss');
  assert.equal(claims.sub, user.id, 'sub is the account id');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  assert.ok(aud.includes(req.clientId), `aud ${JSON.stringify(claims.aud)} names the client`);
  if (aud.length > 1) assert.equal(claims.azp, req.clientId, 'azp with several audiences');
  assert.equal(claims.nonce, req.nonce, 'nonce');
  assert.ok(claims.exp > now - 5, 'exp in the future');
  assert.ok(claims.iat <= now + 5, 'iat not in the future');
  assert.ok(Number.isInteger(claims.auth_time) && claims.auth_time <= claims.iat + 1, 'auth_time');
  // The contract lists ["pwd"] or ["pwd","otp"]; RFC 8176's "mfa" beside
  // them is accepted too.
  assert.ok(Array.isArray(claims.amr), 'amr is an array');
  assert.deepEqual(claims.amr.filter((m) => m !== 'mfa'), amr, `amr ${JSON.stringify(claims.amr)}`);
  if (claims.amr.includes('mfa')) assert.ok(amr.length > 1, 'mfa only with a second factor');
  assert.equal(typeof claims.sid, 'string', 'sid');
  assert.ok(claims.sid.length > 0, 'sid');
  const scopes = req.scope.split(' ');
  if (scopes.includes('email')) {
    assert.equal(claims.email, user.email, 'email');
    assert.equal(claims.email_verified, user.emailVerified, 'email_verified');
  } else {
    assert.equal(claims.email, undefined, 'no email without scope email');
  }
  if (scopes.includes('profile')) {
    assert.equal(claims.preferred_username, user.username, 'preferred_username');
    assert.equal(claims.name, user.displayName, 'name');
    assert.equal(claims.given_name, user.givenName, 'given_name');
    assert.equal(claims.family_name, user.familyName, 'family_name');
  } else {
    assert.equal(claims.name, undefined, 'no name without scope profile');
  }
}
