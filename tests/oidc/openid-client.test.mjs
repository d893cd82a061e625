// openid-client (v6, the certified relying-party library for Node) against
// the provider: discovery, the authorization URL with PKCE, state and nonce,
// the callback exchange with ID-token validation, userinfo and refresh; one
// public client signing with EdDSA, one confidential client signing with
// RS256. The browser does the person's part (the sign-in pages); both
// clients are first-party, so no consent page is shown.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as oidc from 'openid-client';
import { launchBrowser, newContext, signIn, waitForUrl } from './lib/browser.mjs';
import { assertIdTokenClaims, expectAudit, mentionsClient } from './lib/flow.mjs';
import { startCallbackListener } from './lib/http.mjs';
import { decodeJwt, halfHash, startServer } from './lib/server.mjs';

let server;
let browser;
let rp;
let carol;
let eddsa;
let rs256;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  rp = await startCallbackListener();
  carol = await server.createUser('carol');
  eddsa = await server.createClient({
    clientId: 'oc-eddsa',
    name: 'openid-client EdDSA',
    type: 'public',
    alg: 'EdDSA',
    redirectUris: [rp.url('/cb-eddsa')],
    postLogoutRedirectUris: [rp.url('/bye')],
    firstParty: true,
  });
  rs256 = await server.createClient({
    clientId: 'oc-rs256',
    name: 'openid-client RS256',
    alg: 'RS256',
    redirectUris: [rp.url('/cb-rs256')],
    postLogoutRedirectUris: [rp.url('/bye')],
    firstParty: true,
  });
});

after(async () => {
  await browser?.close();
  await rp?.close();
  await server?.stop();
});

async function discover(clientId, metadata, auth) {
  const config = await oidc.discovery(new URL(server.issuer), clientId, metadata, auth, {
    [oidc.customFetch]: server.fetchFn,
  });
  config[oidc.customFetch] = server.fetchFn;
  return config;
}

/** The whole code flow: openid-client builds the URL, the browser signs in,
 * openid-client validates the callback and exchanges the code. */
async function codeFlow(config, { redirectUri, page }) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  assert.equal(url.origin + url.pathname, `${server.issuer}/oauth2/authorize`);
  await page.goto(url.href);
  const target = new URL(redirectUri);
  const isCallback = (u) => u.origin === target.origin && u.pathname === target.pathname;
  await waitForUrl(page, (u) => u.pathname === '/login' || isCallback(u));
  if (new URL(page.url()).pathname === '/login') await signIn(page, carol);
  const callback = await waitForUrl(page, isCallback);
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { tokens, state, nonce, redirectUri, verifier };
}

async function exercise(config, client, alg, redirectUri) {
  const mark = await server.auditMark();
  const context = await newContext(browser);
  const page = await context.newPage();
  const { tokens, nonce } = await codeFlow(config, { redirectUri, page });

  // openid-client validated signature, iss, aud, exp, nonce; check the rest.
  const claims = tokens.claims();
  const req = { clientId: client.clientId, nonce, scope: 'openid profile email offline_access' };
  assertIdTokenClaims(server, claims, { req, user: carol });
  const { header } = decodeJwt(tokens.id_token);
  assert.equal(header.alg, alg, `the ID token is signed with ${alg}`);
  const jwks = await (await server.fetch('/.well-known/jwks.json')).json();
  const key = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(key, 'the signing key is in the JWKS');
  assert.equal(key.kty, alg === 'EdDSA' ? 'OKP' : 'RSA');
  assert.equal(claims.at_hash, halfHash(alg, tokens.access_token), 'at_hash');
  assert.ok(tokens.scope.split(' ').includes('openid'));
  assert.ok(tokens.refresh_token, 'a refresh token');

  // userinfo, subject checked by openid-client.
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.email, carol.email);
  assert.equal(info.email_verified, true);
  assert.equal(info.preferred_username, 'carol');

  // Refresh: a new access token that works; the old refresh token is spent
  // or still valid, but the new pair is live.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token);
  assert.notEqual(refreshed.access_token, tokens.access_token);
  if (refreshed.id_token) {
    const c2 = refreshed.claims();
    assert.equal(c2.sub, claims.sub);
    assert.equal(c2.auth_time, claims.auth_time, 'a refreshed ID token keeps auth_time');
  }
  const info2 = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);
  assert.equal(info2.sub, carol.id);

  // What the server holds: both access tokens active, issued to this client.
  for (const t of [tokens.access_token, refreshed.access_token]) {
    const i = await server.introspect(t);
    assert.equal(i.active, true);
    assert.equal(i.sub, carol.id);
    if (i.client_id !== undefined) assert.equal(i.client_id, client.clientId);
  }
  await expectAudit(server, mark, `an event naming ${client.clientId}`, (e) => mentionsClient(e, client.clientId), { accountId: carol.id });
  return { context, page, tokens, refreshed };
}

test('openid-client: discovery advertises what the contract says', async () => {
  const config = await discover(rs256.clientId, rs256.clientSecret, oidc.ClientSecretBasic(rs256.clientSecret));
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, server.issuer);
  assert.equal(meta.authorization_endpoint, `${server.issuer}/oauth2/authorize`);
  assert.equal(meta.token_endpoint, `${server.issuer}/oauth2/token`);
  assert.equal(meta.userinfo_endpoint, `${server.issuer}/oauth2/userinfo`);
  assert.equal(meta.end_session_endpoint, `${server.issuer}/oauth2/end_session`);
  assert.equal(meta.jwks_uri, `${server.issuer}/.well-known/jwks.json`);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.deepEqual([...meta.id_token_signing_alg_values_supported].sort(), ['EdDSA', 'RS256']);
  assert.ok(config.serverMetadata().supportsPKCE());
});

test('openid-client: public client, EdDSA ID tokens, code + PKCE, userinfo, refresh', async () => {
  const config = await discover(eddsa.clientId, { id_token_signed_response_alg: 'EdDSA' }, oidc.None());
  const { context } = await exercise(config, eddsa, 'EdDSA', rp.url('/cb-eddsa'));
  await context.close();
});

test('openid-client: confidential client (client_secret_basic), RS256 ID tokens, code + PKCE, userinfo, refresh, then end_session', async () => {
  const config = await discover(rs256.clientId, { client_secret: rs256.clientSecret, id_token_signed_response_alg: 'RS256' }, oidc.ClientSecretBasic(rs256.clientSecret));
  const { context, page, tokens } = await exercise(config, rs256, 'RS256', rp.url('/cb-rs256'));

  const before = rp.requests.length;
  const end = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: rp.url('/bye'),
    state: 'after-logout',
  });
  await page.goto(end.href);
  const bye = await rp.next('/bye', { since: before });
  assert.equal(bye.searchParams.get('state'), 'after-logout');
  const info = await server.userinfo(tokens.access_token);
  assert.equal(info.status, 401, 'the session\'s access token is revoked by end_session');
  await context.close();
});

test('openid-client: client_secret_post works for the confidential client too', async () => {
  const config = await discover(rs256.clientId, { client_secret: rs256.clientSecret }, oidc.ClientSecretPost(rs256.clientSecret));
  const context = await newContext(browser);
  const page = await context.newPage();
  const { tokens } = await codeFlow(config, { redirectUri: rp.url('/cb-rs256'), page });
  assert.equal(tokens.claims().sub, carol.id);
  await context.close();
});
