// A Go relying party built on github.com/coreos/go-oidc/v3 and
// golang.org/x/oauth2 (tests/oidc/go-rp, built into tools/bin by
// `make tools-oidc`): the browser starts at the RP's /login, signs in at the
// provider, and ends on the RP's /callback, which answers the claims it
// verified (signature against discovery and the JWKS, iss, aud, exp, nonce,
// at_hash) and what userinfo said.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { answerConsent, launchBrowser, newContext, signIn, waitForUrl } from './lib/browser.mjs';
import { expectAudit, mentionsClient } from './lib/flow.mjs';
import { GO_RP, Proc } from './lib/procs.mjs';
import { freePort, startServer } from './lib/server.mjs';

let server;
let browser;
let dan;
const procs = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  dan = await server.createUser('dan', { profile: { displayName: 'Dan Go' } });
});

after(async () => {
  for (const p of procs) await p.stop();
  await browser?.close();
  await server?.stop();
});

/** Registers a client for a Go RP on a free port and starts the RP. */
async function startRp({ clientId, alg, type = 'confidential', firstParty, scopes = 'openid email' }) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const client = await server.createClient({
    clientId,
    name: `Go RP ${alg}`,
    type,
    alg,
    firstParty,
    redirectUris: [`${origin}/callback`],
  });
  const args = [
    '-issuer', server.issuer,
    '-client-id', client.clientId,
    '-redirect-url', `${origin}/callback`,
    '-ca-file', server.caFile,
    '-listen', `127.0.0.1:${port}`,
    '-scopes', scopes,
  ];
  const rp = new Proc(`go-rp ${clientId}`, GO_RP, args, {
    // The secret through the environment, not the command line.
    env: { MCIAS_RP_CLIENT_SECRET: client.clientSecret ?? '' },
  });
  procs.push(rp);
  await rp.waitFor(/listening: (http:\/\/\S+)/);
  return { rp, client, origin };
}

async function throughRp({ origin, client }, { consent }) {
  const mark = await server.auditMark();
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(`${origin}/login`);
  await waitForUrl(page, (u) => u.pathname === '/login' && u.origin === server.issuer);
  await signIn(page, dan);
  if (consent) await answerConsent(page, { clientName: client.client.name, scopes: ['email'], decision: 'allow' });
  await waitForUrl(page, (u) => u.origin === origin && u.pathname === '/callback');
  const text = await page.locator('body').innerText();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`the RP answered no JSON:\n${text}`);
  }
  await context.close();
  return { body, mark };
}

test('go-oidc verifies an RS256 ID token (confidential client, consent) and returns the email claims', async () => {
  const rp = await startRp({ clientId: 'go-rs256', alg: 'RS256', firstParty: false });
  const { body, mark } = await throughRp(rp, { consent: true });
  assert.equal(body.ok, true, `the RP verified the sign-in: ${JSON.stringify(body)}`);
  assert.equal(body.header.alg, 'RS256');
  assert.equal(body.claims.iss, server.issuer);
  assert.equal(body.claims.sub, dan.id);
  assert.equal(body.claims.email, dan.email);
  assert.equal(body.claims.email_verified, true);
  assert.equal(body.claims.name, undefined, 'scope profile was not asked for');
  assert.equal(body.userinfo.sub, dan.id);
  assert.equal(body.userinfo.email, dan.email);
  assert.equal(body.token_type.toLowerCase(), 'bearer');
  // The same claims went to the RP's log.
  assert.ok(rp.rp.jsonLines().some((l) => l.ok && l.claims.sub === dan.id));
  await expectAudit(server, mark, 'an event naming go-rs256', (e) => mentionsClient(e, 'go-rs256'), { accountId: dan.id });
});

test('go-oidc verifies an EdDSA ID token (public client with PKCE only, first-party: no consent)', async () => {
  const rp = await startRp({ clientId: 'go-eddsa', alg: 'EdDSA', type: 'public', firstParty: true, scopes: 'openid email profile' });
  const { body } = await throughRp(rp, { consent: false });
  assert.equal(body.ok, true, `the RP verified the sign-in: ${JSON.stringify(body)}`);
  assert.equal(body.header.alg, 'EdDSA');
  assert.equal(body.claims.sub, dan.id);
  assert.equal(body.claims.email, dan.email);
  assert.equal(body.claims.name, 'Dan Go');
  assert.equal(body.claims.preferred_username, 'dan');
});
