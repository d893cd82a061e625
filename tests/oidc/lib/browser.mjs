// Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) driven headless by
// playwright-core, launched once per test file. Each test gets its own
// context (its own cookies). The dev CA is not in Chromium's store, so
// contexts ignore certificate errors for the provider's https://localhost.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run 'make tools-oidc' (Debian's chromium package)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    // Containers often lack a usable /dev/shm and user namespaces.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

// Content-Security-Policy violations the browser reported, per page: a
// blocked navigation would otherwise only show as a timeout.
const cspViolations = new WeakMap();

/** Records the page's CSP violations (see waitForUrl). */
export function watchCsp(context) {
  context.on('console', (msg) => {
    if (!/Content Security Policy/i.test(msg.text())) return;
    const page = msg.page();
    if (!page) return;
    if (!cspViolations.has(page)) cspViolations.set(page, []);
    cspViolations.get(page).push(msg.text());
  });
  return context;
}

export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...options });
  // A loaded 2-core machine: Argon2 hashing on sign-in takes its time.
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(45_000);
  return watchCsp(context);
}

/** `promise`, or a failure quoting the browser as soon as the page's CSP
 * blocks something (a blocked redirect would otherwise be a timeout). */
export async function orCspBlock(page, promise) {
  let timer;
  const blocked = new Promise((_, reject) => {
    const check = () => {
      const v = cspViolations.get(page);
      if (v?.length) reject(new Error(`the browser blocked the flow by the page's Content-Security-Policy (at ${page.url()}): ${v.join(' | ')}`));
      else timer = setTimeout(check, 100);
    };
    check();
  });
  promise.catch(() => {});
  blocked.catch(() => {});
  try {
    return await Promise.race([promise, blocked]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the page's URL satisfies `pred` (a URL → boolean). */
export async function waitForUrl(page, pred, timeout = 45_000) {
  await orCspBlock(page, page.waitForURL((u) => pred(new URL(u)), { timeout, waitUntil: 'commit' }));
  return new URL(page.url());
}

/** The page is the sign-in form: labelled fields and the button. */
export async function expectLoginPage(page) {
  const url = new URL(page.url());
  assert.equal(url.pathname, '/login', `expected the sign-in page, got ${page.url()}`);
  await page.getByLabel('Username', { exact: true }).waitFor();
  await page.getByLabel('Password', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  return url;
}

/** Fills the sign-in form and submits it; returns the POST's response. */
export async function submitPassword(page, username, password) {
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  const [response] = await orCspBlock(page, Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/login' && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]));
  return response;
}

/** Fills the TOTP step and submits it; returns the POST's response. */
export async function submitTotp(page, code) {
  await page.getByLabel('Authentication code', { exact: true }).fill(code);
  const [response] = await orCspBlock(page, Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/login/totp' && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Verify' }).click(),
  ]));
  return response;
}

/** The whole sign-in from the /login page: password, then TOTP if given. */
export async function signIn(page, user, totp) {
  await expectLoginPage(page);
  const r = await submitPassword(page, user.username, user.password);
  assert.ok([200, 302, 303].includes(r.status()), `POST /login → ${r.status()}`);
  if (totp) {
    await page.getByLabel('Authentication code', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Verify' }).waitFor();
    const t = await submitTotp(page, await totp.next());
    assert.ok([302, 303].includes(t.status()), `POST /login/totp → ${t.status()}`);
  }
}

/** On the consent page: asserts what it shows and clicks Allow or Deny. */
export async function answerConsent(page, { clientName, scopes = [], decision, remember = false }) {
  await page.getByRole('button', { name: 'Allow' }).waitFor();
  await page.getByRole('button', { name: 'Deny' }).waitFor();
  const text = await page.locator('body').innerText();
  if (clientName) assert.ok(text.includes(clientName), `the consent page names the client "${clientName}":\n${text}`);
  for (const s of scopes) {
    assert.match(text, new RegExp(`\\b${s}\\b`, 'i'), `the consent page lists the scope ${s}:\n${text}`);
  }
  // Set the box either way: its default is the server's choice.
  const box = page.getByLabel('Remember this decision');
  await box.waitFor();
  await box.setChecked(remember);
  const [response] = await orCspBlock(page, Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/consent' && r.request().method() === 'POST'),
    page.getByRole('button', { name: decision === 'deny' ? 'Deny' : 'Allow' }).click(),
  ]));
  return response;
}

/** The session cookie of a context, or undefined. */
export async function sessionCookie(context) {
  return (await context.cookies()).find((c) => c.name === '__Host-mcias_session');
}
