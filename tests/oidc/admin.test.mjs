// The admin console (/admin) in a real browser, against a real server: an
// admin signs in through /login?return_to=/admin, creates an account in the
// Accounts form and sets its roles, suspends it (its API token and its
// browser session end), registers an application whose secret is shown once
// and completes a code flow with it, reads the audit view (filters, live
// view); a non-admin gets 403 everywhere; "Sign out everywhere" ends an
// account's sessions; a destructive action without a recent sign-in asks to
// sign in again; every page is screenshotted (under artifacts/, git-ignored)
// and has its h1 and no console errors. Each step is checked in what the
// server recorded too (REST reads, the audit log with the admin as actor).
//
// The tests follow one story and share its state (the admin's browser, the
// account and the application made in the console): they run in order.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { answerConsent, expectLoginPage, launchBrowser, newContext, sessionCookie, signIn, submitPassword, waitForUrl } from './lib/browser.mjs';
import { assertIdTokenClaims, authorizeRequest, callbackParams, exchangeCode, expectAudit, mentionsClient } from './lib/flow.mjs';
import { startCallbackListener } from './lib/http.mjs';
import { startServer, until } from './lib/server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts', 'admin');
const SQLITE3 = process.env.SQLITE3 || 'sqlite3';

let server;
let browser;
let rp;
let adminId;
/** The admin's browser: one context, signed in by the first test. */
let admin;
/** The account the first test creates in the console. */
let carol;
/** Its browser, signed in at /account by the first test. */
let carolBrowser;
/** The application the third test registers in the console. */
let app;

before(async () => {
  server = await startServer({ require: ['/oauth2/authorize', '/account', '/admin'] });
  browser = await launchBrowser();
  rp = await startCallbackListener();
  const { accounts = [] } = await server.api('GET', '/v1/accounts?query=admin');
  adminId = accounts.find((a) => a.username === 'admin')?.id;
  assert.ok(adminId, `the admin account is listed: ${JSON.stringify(accounts)}`);
});

after(async () => {
  await browser?.close();
  await rp?.close();
  await server?.stop();
});

const url = (path) => new URL(path, server.base).toString();

/** Errors the page reported: console errors, uncaught exceptions, failed
 * or refused subresources. */
function watchErrors(page) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`exception: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && r.request().resourceType() !== 'document') errors.push(`${r.status()}: ${r.url()}`);
  });
  return errors;
}

/** The rows of a table's body (the page's first table by default), as
 * arrays of cell texts. */
async function tableRows(page, table = page.locator('table').first()) {
  return table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.innerText.trim())));
}

/** The text of a cell of the account page's facts table. */
const fact = (page, id) => page.locator(`#${id}`).innerText();

/** Submits a console form by its button; waits for the answer to the POST
 * and returns it. */
async function submit(page, button, path) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && (!path || new URL(r.url()).pathname === path)),
    page.getByRole('button', { name: button, exact: true }).click(),
  ]);
  await page.waitForLoadState();
  return response;
}

const validate = async (token) => server.api('POST', '/v1/tokens/validate', { body: { token }, token: null });
const rolesOf = async (id) => (await server.api('GET', `/v1/accounts/${id}/roles`)).roles ?? [];

test('an admin signs in through /login?return_to=/admin, creates an account in the Accounts form and sets its roles; the account signs in; the audit log names the admin', async () => {
  const mark = await server.auditMark();

  // Without a session the console sends the browser to the sign-in page.
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/admin'));
  const login = await expectLoginPage(page);
  assert.equal(login.searchParams.get('return_to'), '/admin');
  await signIn(page, { username: 'admin', password: server.adminPassword });
  await waitForUrl(page, (u) => u.pathname === '/admin');
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  assert.equal(await page.locator('#health').innerText(), 'SERVING');
  const header = await page.locator('header').innerText();
  assert.match(header, /Signed in as/, header);
  admin = { context, page };

  // The Accounts page: create carol (human, with a password).
  await page.getByRole('link', { name: 'Accounts', exact: true }).click();
  await waitForUrl(page, (u) => u.pathname === '/admin/accounts');
  await page.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
  carol = { username: 'carol', password: 'carol password 123' };
  await page.getByLabel('Username', { exact: true }).fill(carol.username);
  await page.getByLabel('Type', { exact: true }).selectOption('human');
  await page.getByLabel(/^Password/).fill(carol.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  const accountUrl = await waitForUrl(page, (u) => /^\/admin\/accounts\/[^/]+$/.test(u.pathname));
  carol.id = accountUrl.pathname.split('/').pop();
  carol.path = accountUrl.pathname;
  await page.getByRole('heading', { level: 1, name: carol.username }).waitFor();
  assert.equal(await fact(page, 'status'), 'active');
  assert.equal(await fact(page, 'roles'), '');
  assert.ok((await page.locator('table.facts').innerText()).includes(carol.id), 'the page shows the account id');

  // What the server recorded: the account over REST, account_create by the admin.
  const { account } = await server.api('GET', `/v1/accounts/${carol.id}`);
  assert.equal(account.username, carol.username);
  assert.equal(account.accountType, 'ACCOUNT_TYPE_HUMAN');
  assert.equal(account.status, 'ACCOUNT_STATUS_ACTIVE');
  const created = await expectAudit(server, mark, 'account_create of carol', (e) => e.eventType === 'account_create' && e.targetId === carol.id);
  assert.equal(created.actorId, adminId, 'account_create: the admin is the actor');
  assert.equal(created.outcome, 'success');
  assert.equal(created.details.username, carol.username);

  // The search finds it by prefix.
  await page.goto(url('/admin/accounts'));
  await page.getByLabel('Username or email starts with').fill('CAR');
  await page.getByRole('button', { name: 'Search' }).click();
  await waitForUrl(page, (u) => u.pathname === '/admin/accounts' && u.searchParams.get('q') === 'CAR');
  const listed = await tableRows(page);
  assert.deepEqual(listed.map((r) => r[0]), ['carol'], `the search lists carol only: ${JSON.stringify(listed)}`);
  assert.deepEqual(listed[0].slice(1, 3), ['human', 'active']);

  // Set its roles (a destructive action: the sign-in above is recent).
  await page.getByRole('link', { name: 'carol', exact: true }).click();
  await waitForUrl(page, (u) => u.pathname === carol.path);
  await page.getByLabel('Roles, separated by spaces or commas').fill('reader, writer');
  const set = await submit(page, 'Set roles', `${carol.path}/roles`);
  assert.equal(set.status(), 200, 'a recent sign-in: no step-up');
  await page.getByRole('status').filter({ hasText: 'The roles were set.' }).waitFor();
  assert.equal(await fact(page, 'roles'), 'reader, writer');
  assert.deepEqual(await rolesOf(carol.id), ['reader', 'writer']);
  const rolesSet = await expectAudit(server, mark, 'roles_set of carol', (e) => e.eventType === 'roles_set' && e.targetId === carol.id);
  assert.equal(rolesSet.actorId, adminId, 'roles_set: the admin is the actor');
  assert.deepEqual(rolesSet.details.roles, ['reader', 'writer']);

  // carol signs in at /account in a browser of her own, and gives her email.
  const cctx = await newContext(browser);
  const cpage = await cctx.newPage();
  await cpage.goto(url('/account'));
  await signIn(cpage, carol);
  await waitForUrl(cpage, (u) => u.pathname === '/account');
  await cpage.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  assert.ok((await cpage.locator('body').innerText()).includes(`Username ${carol.username}`));
  carol.email = 'carol@example.com';
  await cpage.getByLabel('Email', { exact: true }).fill(carol.email);
  await cpage.getByRole('button', { name: 'Save profile' }).click();
  await cpage.getByText('Your profile was saved.').waitFor();
  carolBrowser = { context: cctx, page: cpage };
  await expectAudit(server, mark, 'login_success of carol', (e) => e.eventType === 'login_success' && e.targetId === carol.id, { accountId: carol.id });

  // The console now shows her sign-in, her session and her email.
  await page.goto(url(carol.path));
  const facts = await page.locator('table.facts').innerText();
  assert.match(facts, /Email\s+carol@example\.com \(not verified\)/, facts);
  assert.match(facts, /Last sign-in\s+\d{4}-\d\d-\d\dT/, facts);
  const sessions = await tableRows(page, page.locator('table').filter({ has: page.getByRole('columnheader', { name: 'Signed in' }) }));
  assert.equal(sessions.length, 1, `one session listed: ${JSON.stringify(sessions)}`);
  assert.match(sessions[0][2], /127\.0\.0\.1/);
  assert.equal(sessions[0][3], 'pwd');
});

test('suspending the account in the console ends its API token and signs its browser out; reactivating revives neither', async () => {
  assert.ok(carol?.id && carolBrowser, 'needs the account of the first test');
  const carolToken = (await server.login(carol.username, carol.password)).token;
  assert.equal((await validate(carolToken)).valid, true, 'the token validates before');
  const carolCookie = await sessionCookie(carolBrowser.context);
  assert.ok(carolCookie, 'carol\'s browser has a session');
  const withCarolCookie = () => server.fetch('/account', { headers: { cookie: `${carolCookie.name}=${carolCookie.value}` } });
  assert.equal((await withCarolCookie()).status, 200, 'her session opens /account before');
  const mark = await server.auditMark();

  const { page } = admin;
  await page.goto(url(carol.path));
  await page.getByLabel('Status', { exact: true }).selectOption('suspended');
  const r = await submit(page, 'Set status', `${carol.path}/status`);
  assert.equal(r.status(), 200);
  await page.getByRole('status').filter({ hasText: 'The status was changed.' }).waitFor();
  assert.equal(await fact(page, 'status'), 'suspended');
  const { account } = await server.api('GET', `/v1/accounts/${carol.id}`);
  assert.equal(account.status, 'ACCOUNT_STATUS_SUSPENDED');
  const ev = await expectAudit(server, mark, 'account_update (suspended) of carol', (e) => e.eventType === 'account_update' && e.targetId === carol.id);
  assert.equal(ev.actorId, adminId);
  assert.equal(ev.details.status, 'suspended');

  // The API token no longer validates.
  const after = await validate(carolToken);
  assert.notEqual(after.valid, true, `the token is refused after suspension: ${JSON.stringify(after)}`);
  assert.equal(after.claims, undefined);

  // carol's browser is signed out: /account sends it to the sign-in page,
  // and her password no longer signs in.
  assert.equal((await withCarolCookie()).status, 303, 'her session cookie no longer opens /account');
  const cpage = carolBrowser.page;
  await cpage.goto(url('/account'));
  await expectLoginPage(cpage);
  const refused = await submitPassword(cpage, carol.username, carol.password);
  assert.ok(refused.status() >= 400, `a suspended account does not sign in: ${refused.status()}`);
  await expectLoginPage(cpage);

  // Back to active: the old token and the old session stay dead.
  await page.getByLabel('Status', { exact: true }).selectOption('active');
  await submit(page, 'Set status', `${carol.path}/status`);
  assert.equal(await fact(page, 'status'), 'active');
  assert.notEqual((await validate(carolToken)).valid, true, 'the token stays revoked after reactivation');
  assert.equal((await withCarolCookie()).status, 303, 'the old session stays ended after reactivation');
  await carolBrowser.context.close();
  carolBrowser = null;
});

test('an application registered in the Applications page: its secret is shown once, and a code flow completes with it', async () => {
  assert.ok(carol?.id && admin, 'needs the account of the first test');
  const mark = await server.auditMark();
  const { page } = admin;
  await page.goto(url('/admin/applications'));
  await page.getByRole('heading', { level: 1, name: 'Applications' }).waitFor();
  const redirectUri = rp.url('/callback');
  await page.getByLabel(/^Client id/).fill('console-app');
  await page.getByLabel('Type', { exact: true }).selectOption('confidential');
  await page.getByLabel('Name', { exact: true }).fill('Console App');
  await page.getByLabel(/^Redirect URIs/).fill(redirectUri);
  await page.getByLabel('Scopes, separated by spaces').fill('openid email');
  await page.getByRole('checkbox', { name: 'authorization_code' }).setChecked(true);
  await page.getByRole('checkbox', { name: 'refresh_token' }).setChecked(false);
  await page.getByRole('checkbox', { name: 'client_credentials' }).setChecked(false);
  await page.getByLabel('ID-token algorithm').selectOption('RS256');
  const r = await submit(page, 'Register application', '/admin/applications');
  assert.equal(r.status(), 200);
  await page.getByRole('heading', { level: 1, name: 'Console App' }).waitFor();
  await page.getByText('The application is registered.').waitFor();
  const secret = (await page.locator('#shown-once').innerText()).trim();
  assert.ok(secret.length >= 32, `a secret is shown: ${secret}`);
  assert.match(await page.locator('p.muted').first().innerText(), /console-app · confidential · has a secret/);
  app = { clientId: 'console-app', clientSecret: secret, redirectUri };

  // What the server recorded: the client as registered, client_create by the admin.
  const { client } = await server.api('GET', '/v1/clients/console-app');
  assert.equal(client.name, 'Console App');
  assert.equal(client.clientType, 'CLIENT_TYPE_CONFIDENTIAL');
  assert.deepEqual(client.redirectUris, [redirectUri]);
  assert.deepEqual([...client.scopes].sort(), ['email', 'openid']);
  assert.deepEqual(client.grantTypes, ['GRANT_TYPE_AUTHORIZATION_CODE']);
  assert.equal(client.idTokenSigningAlg, 'SIGNING_ALGORITHM_RS256');
  assert.equal(client.hasSecret, true);
  const created = await expectAudit(server, mark, 'client_create of console-app', (e) => e.eventType === 'client_create' && mentionsClient(e, 'console-app'));
  assert.equal(created.actorId, adminId);
  assert.ok(!JSON.stringify(created.details).includes(secret), 'the audit log does not hold the secret');

  // Shown once: the application's page no longer has it.
  await page.goto(url('/admin/applications/console-app'));
  await page.getByRole('heading', { level: 1, name: 'Console App' }).waitFor();
  assert.equal(await page.locator('#shown-once').count(), 0, 'the secret is not shown again');
  assert.ok(!(await page.content()).includes(secret), 'the secret is nowhere in the page');
  await page.goto(url('/admin/applications'));
  const rows = await tableRows(page);
  assert.deepEqual(rows.find((x) => x[0] === 'console-app'), ['console-app', 'Console App', 'confidential', redirectUri]);

  // carol signs in through /oauth2/authorize and allows; the test exchanges
  // the code with the secret read from the page.
  const cctx = await newContext(browser);
  const cpage = await cctx.newPage();
  const req = authorizeRequest(server, { clientId: app.clientId, redirectUri, scope: 'openid email' });
  await cpage.goto(req.url);
  const login = await expectLoginPage(cpage);
  assert.ok(login.searchParams.get('return_to')?.startsWith('/oauth2/authorize?'));
  await cpage.getByText('to continue to Console App').waitFor();
  await signIn(cpage, carol);
  await answerConsent(cpage, { clientName: 'Console App', scopes: ['email'], decision: 'allow' });
  const cb = await waitForUrl(cpage, (u) => u.origin === rp.origin && u.pathname === '/callback');
  const params = callbackParams(cb);
  assert.equal(params.state, req.state);
  assert.ok(params.code, 'the callback carries a code');
  await cpage.getByRole('heading', { name: 'Callback received' }).waitFor();

  const tokens = await exchangeCode(server, req, params.code, { clientSecret: app.clientSecret });
  assert.equal(tokens.refresh_token, undefined, 'no refresh token: the client has only the authorization_code grant');
  const { header, payload } = await server.verifyJwt(tokens.id_token);
  assert.equal(header.alg, 'RS256', 'the ID-token algorithm chosen in the form');
  assertIdTokenClaims(server, payload, { req, user: { ...carol, emailVerified: false } });
  assert.equal(payload.sub, carol.id);
  const userinfo = await server.userinfo(tokens.access_token);
  assert.equal(userinfo.status, 200);
  assert.equal(userinfo.json.email, carol.email);

  // The wrong secret does not exchange a code.
  const bad = await server.token(
    { grant_type: 'authorization_code', code: params.code, redirect_uri: redirectUri, code_verifier: req.verifier },
    { clientId: app.clientId, clientSecret: `${secret}x` },
  );
  assert.equal(bad.json.error, 'invalid_client', JSON.stringify(bad.json));

  await expectAudit(server, mark, 'an event of the code flow naming console-app', (e) => e.eventType !== 'client_create' && mentionsClient(e, 'console-app'), { accountId: carol.id });
  await cctx.close();
});

test('the audit view filters by type and account and shows each step; the live view refreshes itself', async () => {
  assert.ok(carol?.id && app, 'needs the account and application of the earlier tests');
  const { page } = admin;
  await page.goto(url('/admin/audit'));
  await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();

  // By type and account, through the form.
  await page.getByLabel('Account id').fill(carol.id);
  await page.getByLabel('Event type').fill('roles_set');
  await page.getByRole('button', { name: 'Filter' }).click();
  await waitForUrl(page, (u) => u.pathname === '/admin/audit' && u.searchParams.get('type') === 'roles_set');
  assert.equal(new URL(page.url()).searchParams.get('account'), carol.id);
  let rows = await tableRows(page);
  assert.equal(rows.length, 1, `one roles_set of carol: ${JSON.stringify(rows)}`);
  // Time, Event, Outcome, Actor, Target, From, Details.
  const [at, type, outcome, actor, target, from, details] = rows[0];
  assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual([type, outcome, actor, target], ['roles_set', 'success', adminId, carol.id]);
  assert.match(from, /127\.0\.0\.1/, 'the admin browser\'s address');
  assert.match(details, /reader.*writer/);

  // By account only: every step of the story about carol.
  await page.getByLabel('Event type').fill('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await waitForUrl(page, (u) => u.pathname === '/admin/audit' && !u.searchParams.get('type'));
  rows = await tableRows(page);
  const byType = (t) => rows.filter((x) => x[1] === t);
  assert.ok(rows.every((x) => x[3] === carol.id || x[4] === carol.id), `only events of carol: ${JSON.stringify(rows)}`);
  assert.equal(byType('account_create').length, 1, 'account_create');
  assert.equal(byType('account_create')[0][3], adminId);
  assert.equal(byType('roles_set').length, 1, 'roles_set');
  const updates = byType('account_update');
  assert.equal(updates.length, 2, `suspended, then active: ${JSON.stringify(updates)}`);
  assert.ok(updates.every((x) => x[3] === adminId));
  assert.match(updates[1][6], /suspended/, 'older row: suspended');
  assert.match(updates[0][6], /"active"/, 'newer row: active');
  assert.ok(byType('login_success').length >= 2, 'carol\'s sign-ins');
  assert.ok(rows.some((x) => x[6].includes('console-app')), 'the code flow for console-app');

  // By type only: the application's registration.
  await page.goto(url('/admin/audit?type=client_create'));
  rows = await tableRows(page);
  assert.ok(rows.some((x) => x[1] === 'client_create' && x[3] === adminId && x[4] === 'console-app'), JSON.stringify(rows));

  // The live view: a meta refresh, and it does reload and show new events.
  await page.goto(url(`/admin/audit?account=${carol.id}`));
  await page.getByRole('link', { name: 'Live view' }).click();
  await waitForUrl(page, (u) => u.searchParams.get('live') === '1');
  assert.equal(new URL(page.url()).searchParams.get('account'), carol.id, 'the live view keeps the filter');
  assert.equal(await page.locator('head meta[http-equiv="refresh"]').getAttribute('content'), '5');
  await page.getByText('this page reloads every 5 seconds').waitFor();
  const before = (await tableRows(page)).length;
  await server.setRoles(carol.id, ['reader']);
  await until('the live view to show the new roles_set', async () => {
    const now = await tableRows(page).catch(() => []);
    return now.length === before + 1 && now[0][1] === 'roles_set' && now[0][6].includes('reader');
  }, { timeoutMs: 15_000, intervalMs: 250 });
  await page.getByRole('link', { name: 'Stop' }).click();
  await waitForUrl(page, (u) => u.pathname === '/admin/audit' && !u.searchParams.has('live'));
  assert.equal(await page.locator('meta[http-equiv="refresh"]').count(), 0);
});

test('a signed-in account without the admin role gets 403 on every /admin page and on console POSTs', async () => {
  const nina = await server.createUser('nina');
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/account'));
  await signIn(page, nina);
  await waitForUrl(page, (u) => u.pathname === '/account');
  const csrf = await page.locator('input[name=csrf]').first().inputValue();
  assert.ok(csrf, 'a CSRF token from /account');

  const paths = ['/admin', '/admin/', '/admin/accounts', `/admin/accounts/${nina.id}`, `/admin/accounts/${adminId}`, '/admin/applications', `/admin/applications/${app?.clientId ?? 'console-app'}`, '/admin/audit', '/admin/audit?live=1', '/admin/keys', '/admin/nonesuch'];
  for (const path of paths) {
    const res = await page.goto(url(path));
    assert.equal(res.status(), 403, `GET ${path}`);
    assert.equal(new URL(page.url()).pathname, new URL(url(path)).pathname, `no redirect for ${path}`);
    await page.getByRole('alert').filter({ hasText: 'The console is for accounts with the admin role.' }).waitFor();
  }

  const mark = await server.auditMark();
  const keysBefore = (await server.api('GET', '/v1/signing-keys')).keys.length;
  const posts = [
    [`/admin/accounts/${nina.id}/roles`, { roles: 'admin' }],
    ['/admin/accounts', { username: 'mallory', account_type: 'human', password: 'mallory password 123' }],
    [`/admin/accounts/${adminId}/status`, { status: 'suspended' }],
    ['/admin/applications', { client_id: 'evil', name: 'Evil', redirect_uris: 'https://evil.example/cb', grant_authorization_code: 'on' }],
    ['/admin/keys/rotate', {}],
  ];
  for (const [path, fields] of posts) {
    const res = await context.request.post(url(path), { form: { csrf, ...fields }, maxRedirects: 0 });
    assert.equal(res.status(), 403, `POST ${path}`);
    assert.match(await res.text(), /The console is for accounts with the admin role\./, `POST ${path}: refused as a non-admin, not for CSRF`);
  }
  assert.deepEqual(await rolesOf(nina.id), [], 'nina did not make herself admin');
  assert.equal((await server.api('GET', `/v1/accounts/${adminId}`)).account.status, 'ACCOUNT_STATUS_ACTIVE');
  assert.equal((await server.api('GET', '/v1/accounts?query=mallory')).accounts?.length ?? 0, 0, 'no account mallory');
  assert.equal((await server.api('GET', '/v1/clients/evil', { ok: false })).status, 404, 'no client evil');
  assert.equal((await server.api('GET', '/v1/signing-keys')).keys.length, keysBefore, 'no new keys');
  const acted = (await server.audit({ afterId: mark })).filter((e) => e.actorId === nina.id);
  assert.deepEqual(acted.map((e) => e.eventType), [], 'nothing done as nina');
  await context.close();
});

test('every console page: its h1, no console errors, a screenshot under artifacts/admin/', async () => {
  assert.ok(carol?.id && app, 'needs the account and application of the earlier tests');
  mkdirSync(ARTIFACTS, { recursive: true });
  const pages = [
    ['overview', '/admin', 'Overview'],
    ['accounts', '/admin/accounts', 'Accounts'],
    ['account', carol.path, carol.username],
    ['applications', '/admin/applications', 'Applications'],
    ['application', `/admin/applications/${app.clientId}`, 'Console App'],
    ['audit', '/admin/audit', 'Audit log'],
    ['audit-filtered', `/admin/audit?account=${carol.id}`, 'Audit log'],
    ['keys', '/admin/keys', 'Signing keys'],
  ];
  for (const [name, path, h1] of pages) {
    const page = await admin.context.newPage();
    const errors = watchErrors(page);
    const res = await page.goto(url(path));
    assert.equal(res.status(), 200, `GET ${path}`);
    await page.waitForLoadState('load');
    assert.deepEqual(await page.locator('h1').allInnerTexts(), [h1], `${path}: one h1`);
    assert.equal(await page.locator('nav[aria-label="Console"] [aria-current="page"]').count(), 1, `${path}: the navigation marks the page`);
    // The console's pages are the wide layout of the stylesheet.
    const width = await page.evaluate(() => getComputedStyle(document.querySelector('main.wide')).maxWidth);
    assert.notEqual(width, 'none', `${path}: the stylesheet applies`);
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    assert.deepEqual(errors, [], `${path}: no console errors`);
    await page.close();
  }
  // The keys page lists both algorithms, one key of each signing.
  await admin.page.goto(url('/admin/keys'));
  const keys = await tableRows(admin.page);
  for (const alg of ['EdDSA', 'RS256']) {
    assert.equal(keys.filter((k) => k[1] === alg && k[4] === 'signing').length, 1, `one ${alg} key signing: ${JSON.stringify(keys)}`);
  }
});

/** An account signed in twice (two browsers, without Chromium) and over
 * the API, for the "Sign out everywhere" tests. */
let sam;

test('"Sign out everywhere" in the console ends the account\'s browser sessions and tokens', async () => {
  assert.ok(admin, 'needs the admin browser of the first test');
  const user = await server.createUser('sam');
  const jars = [await server.formSignIn(user), await server.formSignIn(user)];
  const { token } = await server.login(user.username, user.password);
  sam = { ...user, path: `/admin/accounts/${user.id}` };
  const { page } = admin;
  await page.goto(url(sam.path));
  const sessions = page.locator('table').filter({ has: page.getByRole('columnheader', { name: 'Signed in' }) });
  assert.equal((await tableRows(page, sessions)).length, 2, 'both sessions listed before');
  const mark = await server.auditMark();
  const r = await submit(page, 'Sign out everywhere', `${sam.path}/sign-out`);
  assert.equal(r.status(), 200);
  await page.getByRole('status').filter({ hasText: 'Every session and token of the account ended.' }).waitFor();
  for (const jar of jars) {
    const res = await server.fetch('/account', { headers: { cookie: jar.header() } });
    assert.equal(res.status, 303, 'the browser session ended');
  }
  assert.notEqual((await validate(token)).valid, true, 'the API token ended');
  const ev = await expectAudit(server, mark, 'sign_out_everywhere of sam', (e) => e.eventType === 'sign_out_everywhere' && e.targetId === sam.id);
  assert.equal(ev.actorId, adminId);
});

// ListSessions (the console's account page) lists only what still works:
// sessions and refresh families that suspension, a password change or
// "Sign out everywhere" ended (by the token version) are not listed.
test('after "Sign out everywhere" the console lists no session and no lasting access for the account', async () => {
  assert.ok(sam, 'needs the previous test');
  const { page } = admin;
  await page.goto(url(sam.path));
  const sessions = page.locator('table').filter({ has: page.getByRole('columnheader', { name: 'Signed in' }) });
  const families = page.locator('table').filter({ has: page.getByRole('columnheader', { name: 'Lasting access' }) });
  assert.deepEqual(await tableRows(page, sessions), [['None.']], 'no browser session listed');
  assert.deepEqual(await tableRows(page, families), [['None.']], 'no lasting access listed');
  const { sessions: listed = [], families: fam = [] } = await server.api('GET', `/v1/accounts/${sam.id}/sessions`);
  assert.deepEqual([listed.length, fam.length], [0, 0], 'ListSessions answers none');
});

/** Moves the sign-in time of the context's session back by `seconds`, in
 * the test server's own database (see README.md: the dev server has no
 * clock to move; the server reads sessions from the database on every
 * request). Returns the number of rows changed. */
async function backdateSignIn(context, seconds) {
  const cookie = await sessionCookie(context);
  assert.ok(cookie, 'the browser has a session');
  const idHash = createHash('sha256').update(cookie.value).digest('hex');
  const db = join(server.dataDir, 'mcias.db');
  const sql = `UPDATE web_sessions SET auth_time = auth_time - ${Number(seconds)}, created_at = created_at - ${Number(seconds)} WHERE id_hash = '${idHash}' AND ended_at IS NULL; SELECT changes();`;
  try {
    return Number(execFileSync(SQLITE3, ['-bail', '-cmd', '.timeout 10000', db, sql], { encoding: 'utf8' }).trim());
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error(`${SQLITE3} not found: run 'make tools-oidc' (Debian's sqlite3 package)`);
    throw e;
  }
}

test('step-up: with a sign-in older than ten minutes, setting roles and rotating keys send the browser to "Sign in again"; after it, they work', async () => {
  assert.ok(carol?.id && admin, 'needs the account of the first test');
  const { context, page } = admin;
  assert.equal(await backdateSignIn(context, 11 * 60), 1, 'the admin session was backdated');
  const mark = await server.auditMark();
  const rolesBefore = await rolesOf(carol.id);
  const keysBefore = (await server.api('GET', '/v1/signing-keys')).keys.length;

  // Viewing needs no step-up.
  const res = await page.goto(url(carol.path));
  assert.equal(res.status(), 200);

  // Set roles: refused, to the sign-in page with the notice.
  await page.getByLabel('Roles, separated by spaces or commas').fill('admin');
  const r = await submit(page, 'Set roles', `${carol.path}/roles`);
  assert.equal(r.status(), 303);
  const reauth = await waitForUrl(page, (u) => u.pathname === '/login');
  assert.equal(reauth.searchParams.get('reauth'), '1');
  assert.equal(reauth.searchParams.get('return_to'), carol.path);
  await page.getByRole('status').filter({ hasText: 'Sign in again to confirm it is you: this action needs a recent sign-in.' }).waitFor();
  await expectLoginPage(page);
  assert.deepEqual(await rolesOf(carol.id), rolesBefore, 'the roles did not change');

  // Rotate keys: the same.
  await page.goto(url('/admin/keys'));
  const k = await submit(page, 'Rotate signing keys', '/admin/keys/rotate');
  assert.equal(k.status(), 303);
  const reauthKeys = await waitForUrl(page, (u) => u.pathname === '/login');
  assert.equal(reauthKeys.searchParams.get('reauth'), '1');
  assert.equal(reauthKeys.searchParams.get('return_to'), '/admin/keys');
  await page.getByText('Sign in again to confirm it is you').waitFor();
  assert.equal((await server.api('GET', '/v1/signing-keys')).keys.length, keysBefore, 'no key was made');
  const none = (await server.audit({ afterId: mark })).filter((e) => ['roles_set', 'signing_key_create'].includes(e.eventType));
  assert.deepEqual(none, [], 'nothing was done');

  // Sign in again: back to the keys page, and the rotation goes through.
  await signIn(page, { username: 'admin', password: server.adminPassword });
  await waitForUrl(page, (u) => u.pathname === '/admin/keys');
  const ok = await submit(page, 'Rotate signing keys', '/admin/keys/rotate');
  assert.equal(ok.status(), 200);
  await page.getByText('New keys are published; they sign once their lead time has passed.').waitFor();
  assert.equal((await server.api('GET', '/v1/signing-keys')).keys.length, keysBefore + 2, 'one new key per algorithm');
  const rotated = await expectAudit(server, mark, 'signing_key_create', (e) => e.eventType === 'signing_key_create');
  assert.equal(rotated.actorId, adminId);
  const keys = await tableRows(page);
  assert.equal(keys.filter((x) => x[4] === 'published, waiting').length, 2, `the new keys wait for their lead time: ${JSON.stringify(keys)}`);

  // And the roles too.
  await page.goto(url(carol.path));
  await page.getByLabel('Roles, separated by spaces or commas').fill('reader auditor');
  assert.equal((await submit(page, 'Set roles', `${carol.path}/roles`)).status(), 200);
  assert.equal(await fact(page, 'roles'), 'auditor, reader');
  assert.deepEqual(await rolesOf(carol.id), ['auditor', 'reader']);
});
