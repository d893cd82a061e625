// The /account self-service page in a real browser: reaching it through the
// sign-in page, the profile it shows, changing the password, the list of
// sessions and "sign out everywhere". Its own file: the page lands after the
// provider's endpoints. The contract names no labels for this page, so the
// fields are found by accessible names matched loosely (see README.md).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expectLoginPage, launchBrowser, newContext, sessionCookie, signIn, waitForUrl } from './lib/browser.mjs';
import { expectAudit } from './lib/flow.mjs';
import { startServer } from './lib/server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ require: ['/oauth2/authorize', '/account'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A context whose user agent carries `marker`, so the sessions list can
 * tell the browsers apart. */
async function contextWith(marker) {
  return newContext(browser, {
    userAgent: `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36 ${marker}`,
  });
}

/** The page's text and the values of its fields (the profile may be shown
 * as an editable form). */
async function pageContent(page) {
  const values = await page.locator('input:not([type=hidden]):not([type=password])').evaluateAll((els) => els.map((e) => e.value));
  return `${await page.locator('body').innerText()}\n${values.join('\n')}`;
}

async function signInToAccount(user, marker = 'mcias-test') {
  const context = await contextWith(marker);
  const page = await context.newPage();
  await page.goto(new URL('/account', server.base).toString());
  await signIn(page, user);
  await waitForUrl(page, (u) => u.pathname === '/account');
  return { context, page };
}

test('/account without a session redirects to /login?return_to=/account, and back after signing in', async () => {
  const user = await server.createUser('dora', { profile: { displayName: 'Dora Explorer' } });
  const r = await server.fetch('/account');
  assert.equal(r.status, 303);
  const loc = new URL(r.headers.get('location'), server.base);
  assert.equal(loc.pathname, '/login');
  assert.equal(loc.searchParams.get('return_to'), '/account');

  const { context, page } = await signInToAccount(user);
  const shown = await pageContent(page);
  for (const value of [user.username, user.email, 'Dora Explorer']) {
    assert.ok(shown.includes(value), `the profile shows ${value}:\n${shown}`);
  }
  await context.close();
});

test('signing in at /login without return_to lands on /account', async () => {
  const user = await server.createUser('erin');
  const context = await contextWith('mcias-test');
  const page = await context.newPage();
  await page.goto(new URL('/login', server.base).toString());
  await signIn(page, user);
  await waitForUrl(page, (u) => u.pathname === '/account');
  assert.ok((await pageContent(page)).includes(user.email));
  await context.close();
});

test('changing the password on /account: the new one works over REST, the old one no longer', async () => {
  const user = await server.createUser('frank');
  const mark = await server.auditMark();
  const { context, page } = await signInToAccount(user);
  const newPassword = 'frank new password 456';
  await page.getByLabel(/current password/i).fill(user.password);
  const fresh = page.getByLabel(/^new password/i);
  await fresh.first().fill(newPassword);
  const confirm = page.getByLabel(/(confirm|repeat|again)/i);
  if (await confirm.count()) await confirm.first().fill(newPassword);
  await page.getByRole('button', { name: /change password/i }).click();
  // Either a confirmation on /account or, since a new password ends every
  // session, the sign-in page.
  const confirmation = page.getByText(/password (was |has been )?changed/i).first();
  await Promise.race([
    confirmation.waitFor().catch(() => {}),
    waitForUrl(page, (u) => u.pathname === '/login').catch(() => {}),
  ]);
  if (new URL(page.url()).pathname !== '/login') await confirmation.waitFor();

  assert.ok((await server.login(user.username, newPassword)).token, 'the new password logs in');
  const old = await server.api('POST', '/v1/auth/login', { body: { username: user.username, password: user.password }, token: null, ok: false });
  assert.equal(old.status, 401, `the old password is refused: ${JSON.stringify(old.json)}`);
  await expectAudit(server, mark, 'password_change for frank', (e) => e.eventType === 'password_change' && e.outcome === 'success', { accountId: user.id });
  await context.close();
});

test('/account lists the sessions of both browsers; "sign out everywhere" ends the other one too', async () => {
  const user = await server.createUser('grace');
  const one = await signInToAccount(user, 'mcias-browser-one');
  const two = await signInToAccount(user, 'mcias-browser-two');
  const twoCookie = await sessionCookie(two.context);

  await one.page.reload();
  await one.page.getByRole('heading', { name: /sessions|signed in/i }).first().waitFor();
  const text = await one.page.locator('body').innerText();
  const bothAgents = text.includes('mcias-browser-one') && text.includes('mcias-browser-two');
  const bothPeers = (text.match(/127\.0\.0\.1/g) ?? []).length >= 2;
  assert.ok(bothAgents || bothPeers, `both sessions are listed (by user agent or address):\n${text}`);

  const mark = await server.auditMark();
  const [answer] = await Promise.all([
    one.page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).origin === server.issuer),
    one.page.getByRole('button', { name: /sign out everywhere/i }).click(),
  ]);
  assert.ok(answer.status() < 400, `sign out everywhere → ${answer.status()}`);
  await one.page.waitForLoadState();
  // This browser is signed out: /account sends it to the sign-in page.
  await one.page.goto(new URL('/account', server.base).toString());
  await expectLoginPage(one.page);

  // The other browser's cookie no longer opens /account.
  const r = await server.fetch('/account', { headers: { cookie: `${twoCookie.name}=${twoCookie.value}` } });
  assert.equal(r.status, 303);
  assert.equal(new URL(r.headers.get('location'), server.base).pathname, '/login');
  await two.page.reload();
  await expectLoginPage(two.page);

  await expectAudit(server, mark, 'sign_out_everywhere for grace', (e) => e.eventType === 'sign_out_everywhere', { accountId: user.id });
  await one.context.close();
  await two.context.close();
});
