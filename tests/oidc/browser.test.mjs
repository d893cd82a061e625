// A person in a real browser (Debian's Chromium, headless) signs in to a
// confidential client through /oauth2/authorize: the password step, the
// TOTP step, the consent page (Allow, remember, Deny), the callback with
// code and state, the code exchange, and signing out through end_session.
// Each test checks what the page shows and what the server recorded.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { answerConsent, expectLoginPage, launchBrowser, newContext, sessionCookie, signIn, submitPassword, submitTotp, waitForUrl } from './lib/browser.mjs';
import { assertIdTokenClaims, assertTokenError, authorizeRequest, callbackParams, exchangeCode, expectAudit, mentionsClient } from './lib/flow.mjs';
import { startCallbackListener } from './lib/http.mjs';
import { decodeJwt, halfHash, randomToken, startServer } from './lib/server.mjs';

let server;
let browser;
let rp;
let app;
let alice;
let bob;
let bobTotp;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  rp = await startCallbackListener();
  app = await server.createClient({
    clientId: 'web-app',
    name: 'Web App',
    redirectUris: [rp.url('/callback')],
    postLogoutRedirectUris: [rp.url('/bye')],
  });
  alice = await server.createUser('alice');
  bob = await server.createUser('bob');
  bobTotp = await server.enrollTotp(bob);
});

after(async () => {
  await browser?.close();
  await rp?.close();
  await server?.stop();
});

const isCallback = (u) => u.origin === rp.origin && u.pathname === '/callback';

/** Signs `user` in through the browser for a new request of web-app and
 * allows the consent; returns { req, params, page, context }. */
async function signInAndAllow(user, { totp, scope, remember = false, context } = {}) {
  context ??= await newContext(browser);
  const page = await context.newPage();
  const req = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback'), scope });
  await page.goto(req.url);
  await waitForUrl(page, (u) => u.pathname === '/login' || isCallback(u) || u.pathname === '/oauth2/authorize');
  if (new URL(page.url()).pathname === '/login') await signIn(page, user, totp);
  // An earlier test may have had alice remember her consent for web-app.
  const allow = page.getByRole('button', { name: 'Allow' });
  const consent = allow.waitFor().then(() => 'consent');
  const direct = waitForUrl(page, isCallback).then(() => 'callback');
  consent.catch(() => {});
  direct.catch(() => {});
  if ((await Promise.race([consent, direct])) === 'consent') {
    const shown = req.scope.split(' ').filter((x) => x === 'email' || x === 'profile');
    await answerConsent(page, { clientName: 'Web App', scopes: shown, decision: 'allow', remember });
  }
  const cb = await waitForUrl(page, isCallback);
  return { req, params: callbackParams(cb), page, context };
}

test('password sign-in through /oauth2/authorize, consent Allow, code exchange: the ID token, userinfo, introspection and audit log agree', async () => {
  const mark = await server.auditMark();
  const context = await newContext(browser);
  const page = await context.newPage();
  const req = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback') });

  // No session: the authorize request sends the browser to the sign-in page,
  // which will come back to it.
  await page.goto(req.url);
  const login = await expectLoginPage(page);
  const returnTo = login.searchParams.get('return_to');
  assert.ok(returnTo?.startsWith('/oauth2/authorize?'), `return_to is the authorize request: ${returnTo}`);
  assert.equal(new URL(returnTo, server.base).searchParams.get('state'), req.state);

  // A wrong password: the page again, 401, the alert.
  const wrong = await submitPassword(page, 'alice', 'not the password');
  assert.equal(wrong.status(), 401);
  await page.getByText('Invalid username or password').waitFor();
  await expectLoginPage(page);

  const ok = await submitPassword(page, alice.username, alice.password);
  assert.equal(ok.status(), 303, 'a good password redirects to return_to');

  // The consent page names the client and the scopes.
  await answerConsent(page, { clientName: 'Web App', scopes: ['email', 'profile'], decision: 'allow' });
  const cb = await waitForUrl(page, isCallback);
  const params = callbackParams(cb);
  assert.ok(params.code, 'the callback carries a code');
  assert.equal(params.state, req.state);
  assert.equal(params.iss, server.issuer, 'RFC 9207 iss');
  assert.equal(params.error, undefined);
  await page.getByRole('heading', { name: 'Callback received' }).waitFor();

  const cookie = await sessionCookie(context);
  assert.ok(cookie, 'the session cookie is set');
  assert.equal(cookie.secure, true);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');

  const tokens = await exchangeCode(server, req, params.code, { clientSecret: app.clientSecret });
  assert.ok(tokens.id_token, 'id_token');
  assert.ok(tokens.refresh_token, 'refresh_token (the client has the refresh_token grant)');
  const { header, payload } = await server.verifyJwt(tokens.id_token);
  assert.equal(header.alg, 'RS256', 'the client signs ID tokens with RS256');
  assertIdTokenClaims(server, payload, { req, user: alice });
  assert.equal(payload.at_hash, halfHash(header.alg, tokens.access_token), 'at_hash');

  const at = decodeJwt(tokens.access_token);
  assert.equal(at.header.typ, 'at+jwt', 'access token typ (RFC 9068)');
  assert.equal(at.payload.client_id, app.clientId);
  assert.ok(at.payload.scope.split(' ').includes('openid'));
  await server.verifyJwt(tokens.access_token);

  const info = await server.userinfo(tokens.access_token);
  assert.equal(info.status, 200, JSON.stringify(info.json));
  assert.equal(info.json.sub, alice.id);
  assert.equal(info.json.email, alice.email);

  const intro = await server.introspect(tokens.access_token);
  assert.equal(intro.active, true);
  assert.equal(intro.sub, alice.id);

  // Recorded: the failed and the successful sign-in, and the code grant.
  await expectAudit(server, mark, 'login_failure for alice', (e) => e.eventType === 'login_failure' && e.outcome === 'failure', { accountId: alice.id });
  await expectAudit(server, mark, 'login_success for alice', (e) => e.eventType === 'login_success' && e.outcome === 'success', { accountId: alice.id });
  await expectAudit(server, mark, 'an event naming web-app', (e) => mentionsClient(e, app.clientId), { accountId: alice.id });
  await context.close();
});

test('an account with TOTP gets the second step; amr is pwd+otp', async () => {
  const mark = await server.auditMark();
  const context = await newContext(browser);
  const page = await context.newPage();
  const req = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback'), scope: 'openid email' });
  await page.goto(req.url);
  await expectLoginPage(page);
  const r = await submitPassword(page, bob.username, bob.password);
  assert.ok([200, 303].includes(r.status()), `the password step leads to the TOTP step (${r.status()})`);
  const code = page.getByLabel('Authentication code', { exact: true });
  await code.waitFor();
  assert.equal(await code.getAttribute('name'), 'code');
  const t = await submitTotp(page, await bobTotp.next());
  assert.equal(t.status(), 303, 'the right code redirects to return_to');
  await answerConsent(page, { clientName: 'Web App', scopes: ['email'], decision: 'allow' });
  const params = callbackParams(await waitForUrl(page, isCallback));
  assert.equal(params.state, req.state);
  const tokens = await exchangeCode(server, req, params.code, { clientSecret: app.clientSecret });
  const { payload } = await server.verifyJwt(tokens.id_token);
  assertIdTokenClaims(server, payload, { req, user: bob, amr: ['pwd', 'otp'] });
  await expectAudit(server, mark, 'login_success for bob', (e) => e.eventType === 'login_success' && e.outcome === 'success', { accountId: bob.id });
  await context.close();
});

test('consent Deny: the client gets error=access_denied with its state and no code', async () => {
  const mark = await server.auditMark();
  const context = await newContext(browser);
  const page = await context.newPage();
  const req = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback') });
  await page.goto(req.url);
  await signIn(page, alice);
  const r = await answerConsent(page, { clientName: 'Web App', scopes: ['email', 'profile'], decision: 'deny' });
  assert.equal(r.status(), 303);
  const params = callbackParams(await waitForUrl(page, isCallback));
  assert.equal(params.error, 'access_denied');
  assert.equal(params.state, req.state);
  assert.equal(params.iss, server.issuer);
  assert.equal(params.code, undefined, 'no code after Deny');
  // Nothing was granted: no event names a code or token for web-app as a success.
  const events = await server.audit({ accountId: alice.id, afterId: mark });
  assert.ok(!events.some((e) => mentionsClient(e, app.clientId) && /token|code_exchange/.test(e.eventType) && e.outcome === 'success'),
    `no token was issued to web-app: ${JSON.stringify(events.map((e) => e.eventType))}`);
  await context.close();
});

test('a remembered consent skips the page; prompt=consent asks again', async () => {
  const first = await signInAndAllow(alice, { remember: true });
  assert.ok(first.params.code);
  const page = first.page;

  // The same browser, a new request: straight back to the client with a code.
  const again = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback') });
  const before = rp.requests.length;
  await page.goto(again.url);
  const cb = await rp.next('/callback', { since: before });
  assert.equal(cb.searchParams.get('state'), again.state);
  assert.ok(cb.searchParams.get('code'), 'a code without the consent page');
  const tokens = await exchangeCode(server, again, cb.searchParams.get('code'), { clientSecret: app.clientSecret });
  assert.ok(tokens.id_token);

  // prompt=consent shows the page even though the decision was remembered.
  const forced = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback'), prompt: 'consent' });
  await page.goto(forced.url);
  await answerConsent(page, { clientName: 'Web App', scopes: ['email'], decision: 'allow' });
  const p = callbackParams(await waitForUrl(page, isCallback));
  assert.equal(p.state, forced.state);
  assert.ok(p.code);
  await first.context.close();
});

test('end_session with id_token_hint and post_logout_redirect_uri signs out: the old cookie and the tokens stop working', async () => {
  const { req, params, page, context } = await signInAndAllow(alice, { scope: 'openid email offline_access' });
  const tokens = await exchangeCode(server, req, params.code, { clientSecret: app.clientSecret });
  const cookie = await sessionCookie(context);
  assert.ok(cookie);
  const mark = await server.auditMark();

  const state = randomToken();
  const endSession = new URL('/oauth2/end_session', server.base);
  endSession.search = new URLSearchParams({
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: rp.url('/bye'),
    state,
    client_id: app.clientId,
  }).toString();
  const before = rp.requests.length;
  await page.goto(endSession.toString());
  const bye = await rp.next('/bye', { since: before });
  assert.equal(bye.searchParams.get('state'), state, 'the state comes back to the post-logout URI');
  assert.equal(new URL(page.url()).pathname, '/bye');

  // The cookie the browser had, replayed: authorize sends to the login page.
  const again = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback') });
  const replay = await server.fetch(again.url, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(replay.status, 303, 'authorize redirects');
  const loc = new URL(replay.headers.get('location'), server.base);
  assert.equal(loc.origin, server.issuer);
  assert.equal(loc.pathname, '/login', `the replayed cookie is no session: ${loc}`);
  // prompt=none says so to the client.
  const none = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback'), prompt: 'none' });
  const r2 = await server.fetch(none.url, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(r2.status, 303);
  const l2 = new URL(r2.headers.get('location'));
  assert.equal(l2.searchParams.get('error'), 'login_required');

  // The browser itself is at the login page again.
  await page.goto(again.url);
  await expectLoginPage(page);

  // Tokens issued in the session are over.
  const info = await server.userinfo(tokens.access_token);
  assert.equal(info.status, 401);
  assert.match(info.headers.get('www-authenticate') ?? '', /Bearer.*error="invalid_token"/);
  assert.equal((await server.introspect(tokens.access_token)).active, false);
  assert.ok(tokens.refresh_token);
  const refreshed = await server.token(
    { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
    { clientId: app.clientId, clientSecret: app.clientSecret },
  );
  assertTokenError(refreshed, 'invalid_grant');

  await expectAudit(server, mark, 'the sign-out', (e) => /logout|sign_?out|session_end|end_session/.test(e.eventType), { accountId: alice.id });
  await context.close();
});

test('end_session without id_token_hint asks first ("Sign out"), then says "You are signed out"', async () => {
  const { page, context } = await signInAndAllow(alice);
  const cookie = await sessionCookie(context);
  await page.goto(new URL('/oauth2/end_session', server.base).toString());
  const button = page.getByRole('button', { name: 'Sign out' });
  await button.waitFor();
  // Still signed in until the button is pressed (prompt=none is not told
  // login_required).
  const probe = authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback'), prompt: 'none' });
  const still = await server.fetch(probe.url, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(still.status, 303);
  assert.notEqual(new URL(still.headers.get('location')).searchParams.get('error'), 'login_required', 'the GET alone signs nobody out');
  await button.click();
  await page.getByText('You are signed out').waitFor();
  const replay = await server.fetch(authorizeRequest(server, { clientId: app.clientId, redirectUri: rp.url('/callback') }).url,
    { headers: { cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(replay.status, 303);
  assert.equal(new URL(replay.headers.get('location'), server.base).pathname, '/login');
  await context.close();
});
