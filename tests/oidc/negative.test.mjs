// What the provider must refuse, one case a test, with plain fetch (no
// redirects followed) and a cookie jar signed in through the /login form.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertTokenError, authorizeRequest, exchangeCode, expectAudit, mentionsClient } from './lib/flow.mjs';
import { CookieJar, formFields, startServer } from './lib/server.mjs';

let server;
let nina;
let jar; // nina's browser session
let confA;
let confB;
let third;
let pub;

const REDIRECT_A = 'http://127.0.0.1:5555/callback';
const BYE_A = 'http://127.0.0.1:5555/bye';
const REDIRECT_B = 'http://127.0.0.1:5556/callback';
const BYE_B = 'http://127.0.0.1:5556/bye';
const REDIRECT_THIRD = 'http://127.0.0.1:5558/callback';
const REDIRECT_PUB = 'http://127.0.0.1:5557/callback';

before(async () => {
  server = await startServer();
  nina = await server.createUser('nina');
  confA = await server.createClient({ clientId: 'conf-a', name: 'Conf A', redirectUris: [REDIRECT_A], postLogoutRedirectUris: [BYE_A], firstParty: true });
  confB = await server.createClient({ clientId: 'conf-b', name: 'Conf B', redirectUris: [REDIRECT_B], postLogoutRedirectUris: [BYE_B], firstParty: true });
  third = await server.createClient({ clientId: 'third-party', name: 'Third Party App', redirectUris: [REDIRECT_THIRD], firstParty: false });
  pub = await server.createClient({ clientId: 'public-app', name: 'Public App', type: 'public', redirectUris: [REDIRECT_PUB], firstParty: true });
  jar = await server.formSignIn(nina);
});

after(async () => {
  await server?.stop();
});

/** GET with nina's session (or another jar). */
const get = (url, j = jar) => server.fetch(url, { headers: { cookie: j.header() } });

/** A code for `client` through nina's session; returns { req, code }. */
async function getCode(client, redirectUri, { scope = 'openid email offline_access', j = jar, ...extra } = {}) {
  const req = authorizeRequest(server, { clientId: client.clientId, redirectUri, scope, ...extra });
  const r = await get(req.url, j);
  const loc = r.headers.get('location');
  assert.equal(r.status, 303, `authorize → ${r.status} ${await r.text()}`);
  const u = new URL(loc);
  assert.equal(`${u.origin}${u.pathname}`, redirectUri);
  assert.ok(u.searchParams.get('code'), `a code: ${loc}`);
  return { req, code: u.searchParams.get('code') };
}

/** Asserts the 400 HTML error page of the authorization endpoint. */
async function assertErrorPage(r, what) {
  const body = await r.text();
  assert.equal(r.status, 400, `${what}: status ${r.status}, location ${r.headers.get('location')}`);
  assert.equal(r.headers.get('location'), null, `${what}: never a redirect`);
  assert.match(r.headers.get('content-type') ?? '', /text\/html/, `${what}: an HTML page`);
  return body;
}

/** Asserts a 303 to `redirectUri` with error=`error` and the state. */
function assertErrorRedirect(r, redirectUri, error, state) {
  assert.equal(r.status, 303, `expected a redirect with error=${error}, got ${r.status}`);
  const u = new URL(r.headers.get('location'));
  assert.equal(`${u.origin}${u.pathname}`, redirectUri);
  assert.equal(u.searchParams.get('error'), error, `error in ${u}`);
  assert.equal(u.searchParams.get('state'), state, 'state comes back');
  assert.equal(u.searchParams.get('iss'), server.issuer, 'iss (RFC 9207)');
  assert.equal(u.searchParams.get('code'), null, 'no code');
  return u;
}

test('an unregistered redirect URI: 400 "Sign-in error" page, no redirect (with or without a session)', async () => {
  for (const j of [new CookieJar(), jar]) {
    const req = authorizeRequest(server, { clientId: confA.clientId, redirectUri: 'https://evil.example/callback' });
    const body = await assertErrorPage(await get(req.url, j), 'unregistered redirect URI');
    assert.match(body, /Sign-in error/);
    assert.match(body, /redirect/i, 'the page names the problem');
    assert.doesNotMatch(body, /evil\.example\/callback\?/, 'no link carrying a code or error to the URI');
  }
});

test('a redirect URI that only starts like (or extends) the registered one is refused the same way', async () => {
  for (const uri of [
    `${REDIRECT_A}/extra`,
    `${REDIRECT_A}x`,
    'http://127.0.0.1:5555/call',
    `${REDIRECT_A}?next=https://evil.example/`,
    `${REDIRECT_A}/../evil`,
    `${REDIRECT_A}#fragment`,
    'http://127.0.0.1:5555/',
  ]) {
    const req = authorizeRequest(server, { clientId: confA.clientId, redirectUri: uri });
    const body = await assertErrorPage(await get(req.url), `redirect_uri ${uri}`);
    assert.match(body, /Sign-in error/, uri);
  }
});

test('an unknown client_id: 400 page, no redirect', async () => {
  const req = authorizeRequest(server, { clientId: 'no-such-client', redirectUri: REDIRECT_A });
  const body = await assertErrorPage(await get(req.url), 'unknown client');
  assert.match(body, /Sign-in error/);
});

test('open redirect through post_logout_redirect_uri: 400 page, no redirect, still signed in', async () => {
  const own = await server.formSignIn(nina);
  const { req, code } = await getCode(confA, REDIRECT_A, { j: own });
  const tokens = await exchangeCode(server, req, code, { clientSecret: confA.clientSecret });
  for (const uri of ['https://evil.example/', `${BYE_A}x`, `${BYE_A}/../evil`, BYE_B /* another client's */]) {
    for (const hint of [tokens.id_token, undefined]) {
      const u = new URL('/oauth2/end_session', server.base);
      u.searchParams.set('post_logout_redirect_uri', uri);
      u.searchParams.set('state', 's');
      if (hint) u.searchParams.set('id_token_hint', hint);
      else u.searchParams.set('client_id', confA.clientId);
      const r = await get(u.toString(), own);
      const body = await r.text();
      assert.equal(r.status, 400, `post_logout_redirect_uri ${uri} (hint: ${!!hint}) → ${r.status}`);
      assert.equal(r.headers.get('location'), null, `${uri}: no redirect`);
      assert.ok(!body.includes(`href="${uri}`), `${uri}: no link to it either`);
    }
  }
  // The refused requests ended nothing.
  assert.equal((await server.userinfo(tokens.access_token)).status, 200);
});

test('a code without its code_verifier → invalid_grant', async () => {
  const { req, code } = await getCode(confA, REDIRECT_A);
  const r = await server.token({ grant_type: 'authorization_code', code, redirect_uri: req.redirectUri },
    { clientId: confA.clientId, clientSecret: confA.clientSecret });
  assertTokenError(r, 'invalid_grant');
});

test('a code with the wrong code_verifier → invalid_grant', async () => {
  const { req, code } = await getCode(confA, REDIRECT_A);
  const r = await server.token(
    { grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: `${req.verifier.slice(0, -4)}AAAA` },
    { clientId: confA.clientId, clientSecret: confA.clientSecret },
  );
  assertTokenError(r, 'invalid_grant');
});

test('a reused code → invalid_grant, and what the first exchange issued is revoked', async () => {
  const { req, code } = await getCode(confA, REDIRECT_A);
  const first = await exchangeCode(server, req, code, { clientSecret: confA.clientSecret });
  assert.equal((await server.userinfo(first.access_token)).status, 200);
  const mark = await server.auditMark();

  const again = await server.token(
    { grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: req.verifier },
    { clientId: confA.clientId, clientSecret: confA.clientSecret },
  );
  assertTokenError(again, 'invalid_grant');

  const info = await server.userinfo(first.access_token);
  assert.equal(info.status, 401, 'the first access token is rejected by userinfo');
  assert.match(info.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  assert.deepEqual(await server.introspect(first.access_token), { active: false });
  if (first.refresh_token) {
    const r = await server.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token },
      { clientId: confA.clientId, clientSecret: confA.clientSecret });
    assertTokenError(r, 'invalid_grant');
  }
  await expectAudit(server, mark, 'the reuse, as a failure naming conf-a', (e) => e.outcome === 'failure' && mentionsClient(e, 'conf-a'));
});


test('a code presented by another client → invalid_grant', async () => {
  const { req, code } = await getCode(confA, REDIRECT_A);
  for (const redirectUri of [REDIRECT_A, REDIRECT_B]) {
    const r = await server.token(
      { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: req.verifier },
      { clientId: confB.clientId, clientSecret: confB.clientSecret },
    );
    assertTokenError(r, 'invalid_grant');
  }
});

test('a redirect_uri at the token endpoint other than the authorize one → invalid_grant', async () => {
  const { req, code } = await getCode(confA, REDIRECT_A);
  const r = await server.token(
    { grant_type: 'authorization_code', code, redirect_uri: `${REDIRECT_A}/other`, code_verifier: req.verifier },
    { clientId: confA.clientId, clientSecret: confA.clientSecret },
  );
  assertTokenError(r, 'invalid_grant');
});

test('a wrong client secret → 401 invalid_client', async () => {
  const { req, code } = await getCode(confA, REDIRECT_A);
  for (const auth of ['basic', 'post']) {
    const r = await server.token(
      { grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: req.verifier },
      { clientId: confA.clientId, clientSecret: 'not-the-secret', auth },
    );
    assertTokenError(r, 'invalid_client', 401);
  }
});

test('prompt=none without a session → redirect with error=login_required', async () => {
  const req = authorizeRequest(server, { clientId: confA.clientId, redirectUri: REDIRECT_A, prompt: 'none' });
  assertErrorRedirect(await get(req.url, new CookieJar()), REDIRECT_A, 'login_required', req.state);
});

test('prompt=none when consent is needed → error=consent_required', async () => {
  const req = authorizeRequest(server, { clientId: third.clientId, redirectUri: REDIRECT_THIRD, prompt: 'none' });
  assertErrorRedirect(await get(req.url), REDIRECT_THIRD, 'consent_required', req.state);
});

test('POST /login without csrf (or with a wrong one) → 403, no session', async () => {
  const mark = await server.auditMark();
  const j = new CookieJar();
  const page = await get('/login', j);
  j.store(page);
  const fields = formFields(await page.text(), '/login');
  assert.ok(fields.csrf, 'the form has a hidden csrf field');
  for (const csrf of [undefined, 'wrong', '']) {
    const form = { ...fields, username: nina.username, password: nina.password };
    if (csrf === undefined) delete form.csrf;
    else form.csrf = csrf;
    const r = await server.fetch('/login', {
      method: 'POST',
      headers: { cookie: j.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    assert.equal(r.status, 403, `csrf ${JSON.stringify(csrf)} → ${r.status}`);
    assert.ok(!r.headers.getSetCookie().some((c) => c.startsWith('__Host-mcias_session=') && !/max-age=0/i.test(c)), 'no session cookie');
  }
  // The password was never checked: no login event for nina.
  const events = await server.audit({ accountId: nina.id, afterId: mark });
  assert.ok(!events.some((e) => e.eventType === 'login_success'), JSON.stringify(events.map((e) => e.eventType)));
});

test('consent denied → error=access_denied; POST /consent without csrf → 403', async () => {
  const req = authorizeRequest(server, { clientId: third.clientId, redirectUri: REDIRECT_THIRD });
  const page = await get(req.url);
  assert.equal(page.status, 200, 'the consent page');
  const html = await page.text();
  assert.match(html, /Third Party App/);
  const fields = formFields(html, '/consent');
  assert.ok(fields.csrf, 'the consent form has a csrf field');
  const post = (form) => server.fetch('/consent', {
    method: 'POST',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const { csrf, ...withoutCsrf } = fields;
  const forged = await post({ ...withoutCsrf, decision: 'allow' });
  assert.equal(forged.status, 403, 'no csrf → 403');
  assert.equal(forged.headers.get('location'), null);

  const denied = await post({ ...fields, decision: 'deny' });
  assertErrorRedirect(denied, REDIRECT_THIRD, 'access_denied', req.state);
});

test('a public client without PKCE → error=invalid_request', async () => {
  const req = authorizeRequest(server, {
    clientId: pub.clientId, redirectUri: REDIRECT_PUB, code_challenge: undefined, code_challenge_method: undefined,
  });
  assert.ok(!new URL(req.url).searchParams.has('code_challenge'));
  assertErrorRedirect(await get(req.url), REDIRECT_PUB, 'invalid_request', req.state);
});

test('code_challenge_method=plain is refused → error=invalid_request', async () => {
  const req = authorizeRequest(server, { clientId: pub.clientId, redirectUri: REDIRECT_PUB, code_challenge_method: 'plain' });
  assertErrorRedirect(await get(req.url), REDIRECT_PUB, 'invalid_request', req.state);
});

test('a public client exchanging without its code_verifier → invalid_grant; with it, tokens', async () => {
  const { req, code } = await getCode(pub, REDIRECT_PUB);
  const bad = await server.token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_PUB }, { clientId: pub.clientId });
  assertTokenError(bad, 'invalid_grant');
  const again = await getCode(pub, REDIRECT_PUB);
  const ok = await exchangeCode(server, again.req, again.code);
  assert.ok(ok.id_token);
});

test('userinfo with a bad token → 401 with WWW-Authenticate error="invalid_token"', async () => {
  for (const token of ['not-a-token', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
    const r = await server.userinfo(token);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer\b.*error="invalid_token"/);
  }
});

test('unsupported grant_type → unsupported_grant_type', async () => {
  const r = await server.token({ grant_type: 'password', username: 'nina', password: nina.password },
    { clientId: confA.clientId, clientSecret: confA.clientSecret });
  assertTokenError(r, 'unsupported_grant_type');
});
