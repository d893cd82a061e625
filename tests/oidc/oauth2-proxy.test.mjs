// oauth2-proxy (v7, --provider=oidc) in front of a tiny upstream that
// echoes request headers: the browser asks the proxy for a page, is sent to
// the provider, signs in, allows the consent, and ends on the upstream page;
// the upstream saw the user's email in the headers the proxy adds.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { answerConsent, launchBrowser, newContext, signIn, waitForUrl } from './lib/browser.mjs';
import { expectAudit, mentionsClient } from './lib/flow.mjs';
import { startEchoUpstream } from './lib/http.mjs';
import { OAUTH2_PROXY, Proc } from './lib/procs.mjs';
import { freePort, startServer, until } from './lib/server.mjs';

let server;
let browser;
let upstream;
let proxy;
let erin;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  upstream = await startEchoUpstream();
  erin = await server.createUser('erin');
});

after(async () => {
  await proxy?.stop();
  await browser?.close();
  await upstream?.close();
  await server?.stop();
});

async function startProxy({ clientId, alg }) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const client = await server.createClient({
    clientId,
    name: 'Proxied App',
    alg,
    redirectUris: [`${origin}/oauth2/callback`],
    scopes: ['openid', 'profile', 'email'],
  });
  const p = new Proc('oauth2-proxy', OAUTH2_PROXY, [
    '--provider=oidc',
    `--oidc-issuer-url=${server.issuer}`,
    `--provider-ca-file=${server.caFile}`,
    `--client-id=${client.clientId}`,
    `--redirect-url=${origin}/oauth2/callback`,
    `--http-address=127.0.0.1:${port}`,
    `--upstream=${upstream.origin}/`,
    '--email-domain=*',
    '--scope=openid email profile',
    '--code-challenge-method=S256',
    '--skip-provider-button=true',
    '--cookie-secure=false',
    '--pass-user-headers=true',
    '--set-xauthrequest=true',
    '--reverse-proxy=false',
    `--oidc-enabled-signing-alg=${alg}`,
  ], {
    env: {
      // Secrets through the environment, not the command line.
      OAUTH2_PROXY_CLIENT_SECRET: client.clientSecret,
      OAUTH2_PROXY_COOKIE_SECRET: randomBytes(16).toString('hex'),
    },
  });
  await until('oauth2-proxy to answer /ping', async () => {
    if (p.exited) throw new Error(`oauth2-proxy exited:\n${p.output}`);
    const r = await fetch(`${origin}/ping`).catch(() => null);
    return r?.status === 200;
  }, { timeoutMs: 60_000, intervalMs: 200 });
  return { p, origin, client };
}

test('oauth2-proxy signs the browser in through the provider; the upstream sees the email', async () => {
  const started = await startProxy({ clientId: 'proxied-app', alg: 'RS256' });
  proxy = started.p;
  const mark = await server.auditMark();
  const context = await newContext(browser);
  const page = await context.newPage();

  // Unauthenticated: the proxy does not let the request through.
  const direct = await fetch(`${started.origin}/private/page`, { redirect: 'manual' });
  assert.ok([302, 303, 401, 403].includes(direct.status), `unauthenticated → ${direct.status}`);
  assert.equal(upstream.requests.length, 0, 'nothing reached the upstream without a sign-in');

  await page.goto(`${started.origin}/private/page`);
  await waitForUrl(page, (u) => u.origin === server.issuer && u.pathname === '/login');
  await signIn(page, erin);
  // The proxy's callback either sends the browser on to the page or answers
  // an error page: fail at once with the proxy's log then.
  const callback = page.waitForResponse((r) => r.url().startsWith(`${started.origin}/oauth2/callback`), { timeout: 45_000 });
  callback.catch(() => {});
  await answerConsent(page, { clientName: 'Proxied App', scopes: ['email'], decision: 'allow' });
  const cb = await callback;
  assert.ok(cb.status() < 400, `oauth2-proxy's callback answered ${cb.status()}:\n${(await page.locator('body').innerText()).slice(0, 500)}\n--- oauth2-proxy log:\n${proxy.output.slice(-6000)}`);
  await waitForUrl(page, (u) => u.origin === started.origin && u.pathname === '/private/page');
  await page.getByRole('heading', { name: 'Upstream reached' }).waitFor();
  const echoed = JSON.parse(await page.locator('#echo').innerText());
  assert.equal(echoed.path, '/private/page');

  const seen = upstream.requests.at(-1);
  const email = seen.headers['x-forwarded-email'] ?? seen.headers['x-auth-request-email'];
  assert.equal(email, erin.email, `the upstream saw the email: ${JSON.stringify(seen.headers)}`);
  assert.ok([erin.id, erin.email].includes(seen.headers['x-forwarded-user']), `X-Forwarded-User names erin: ${seen.headers['x-forwarded-user']}`);
  await expectAudit(server, mark, 'an event naming proxied-app', (e) => mentionsClient(e, 'proxied-app'), { accountId: erin.id });
  await context.close();
});
