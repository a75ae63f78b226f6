/**
 * The web page's "Sign in with <provider>" button in Debian's Chromium, end
 * to end against a real OpenID Connect provider on another site
 * (test/helpers/oidc-provider.ts, 127.0.0.2): the browser goes to the
 * provider and back, the page turns the refresh cookie into its session and
 * goes live; a declined sign-in is told on the page. Under DPOP_REQUIRED the
 * page's key crosses the trip in IndexedDB and its session is bound to it.
 * No request leaves the server and the provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { claimsOf } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/oidc-provider.ts';
import { gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { isolatedContext, launchBrowser } from './browser.ts';
import { clientApiServed } from './helpers.ts';

describe.skipIf(!clientApiServed)('web page: sign-in through an identity provider', () => {
  let idp: TestIdp;
  let server: TestServer;
  /** DPOP_REQUIRED=true. */
  let strict: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    idp = await startIdp();
    const env = { ...scaledEnv(), OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret, OIDC_PROVIDER_NAME: 'Test IdP', OIDC_STARTS_PER_IP: '100000' };
    [server, strict] = await Promise.all([startServer(env), startServer({ ...env, DPOP_REQUIRED: 'true', ACCESS_TOKEN_TTL: '5' })]);
    await idp.allowRedirects(`${server.url}/auth/oidc/callback`, `${strict.url}/auth/oidc/callback`);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAllServers();
    await idp?.close();
  });

  /** A new account at the provider, which signs in as it next, and a page showing `s`'s provider button; `visited` collects the page's navigations. */
  async function atButton(s: TestServer) {
    const username = uniqueName('web');
    const sub = uniqueName('sub');
    idp.addAccount({ sub, email: `${username}@example.test`, email_verified: true, preferred_username: username });
    idp.signInAs = sub;
    const { context, foreign, errors } = await isolatedContext(browser, s.url, [idp.issuer]);
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => {
      if (request.isNavigationRequest()) visited.push(request.url());
    });
    await page.goto(`${s.url}/`);
    await expect.poll(() => page.isVisible('#oidc-start'), { timeout: 10_000 }).toBe(true);
    return { username, context, page, visited, foreign, errors };
  }

  it('signs in with the button, through the provider and back, and goes live', async () => {
    const { username, context, page, visited, foreign, errors } = await atButton(server);
    expect(await page.textContent('#oidc-start')).toBe('Sign in with Test IdP');
    await page.click('#oidc-start');
    // The provider's login page, on its own site: the way back starts there.
    await page.waitForURL(`${idp.issuer}/interaction/**`);
    await page.click('#continue');

    await page.waitForSelector('#signed-in', { state: 'visible', timeout: 15_000 });
    await expect.poll(() => page.textContent('#whoami'), { timeout: 10_000 }).toBe(`Signed in as ${username}`);
    await expect.poll(() => page.textContent('#connection'), { timeout: 10_000 }).toBe('live');
    await expect.poll(() => page.locator('#online li .name').allTextContents(), { timeout: 10_000 }).toContain(username);
    // The page went through the provider's site, and its address no longer carries the outcome.
    expect(visited.some((url) => url.startsWith(`${idp.issuer}/auth?`))).toBe(true);
    expect(visited.some((url) => url.startsWith(`${server.url}/auth/oidc/callback?code=`))).toBe(true);
    expect(page.url()).toBe(`${server.url}/`);
    const cookies = await context.cookies([`${server.url}/graphql`, `${server.url}/auth/oidc/callback`]);
    expect(cookies.find((c) => c.name === 'sb_oidc')).toBeUndefined();
    expect(cookies.find((c) => c.name === 'sb_refresh')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/graphql' });

    // A reload keeps the session (the page's own storage, as after a password sign-in).
    await page.reload();
    await page.waitForSelector('#signed-in', { state: 'visible' });
    await expect.poll(() => page.textContent('#connection'), { timeout: 10_000 }).toBe('live');
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('tells a declined sign-in and stays signed out', async () => {
    idp.signInAs = null;
    const { context, foreign, errors } = await isolatedContext(browser, server.url, [idp.issuer]);
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.isVisible('#oidc-start'), { timeout: 10_000 }).toBe(true);
    await page.click('#oidc-start');
    await page.waitForURL(`${idp.issuer}/interaction/**`);
    await page.click('#continue');
    await expect.poll(() => page.isVisible('#notice'), { timeout: 15_000 }).toBe(true);
    expect(await page.textContent('#notice-text')).toBe('The identity provider did not sign you in.');
    expect(await page.isVisible('#signed-out')).toBe(true);
    expect(page.url()).toBe(`${server.url}/`);
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT.replace(/(\.png)?$/, '-declined.png') });
    expect((await context.cookies([`${server.url}/graphql`, `${server.url}/auth/oidc/callback`])).map((c) => c.name)).toEqual([]);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('under DPOP_REQUIRED, signs in with its key kept in IndexedDB across the trip; the session is bound to it', async () => {
    const { username, context, page, visited, foreign, errors } = await atButton(strict);
    await page.click('#oidc-start');
    // To the provider, not back at once refused (a start naming no key: the page's notice says dpop_required).
    await Promise.race([page.waitForURL(`${idp.issuer}/interaction/**`), page.waitForSelector('#notice', { state: 'visible' })].map((p) => p.catch(() => undefined)));
    expect((await page.isVisible('#notice')) ? await page.textContent('#notice-text') : 'no notice').toBe('no notice');
    await page.click('#continue');
    await page.waitForSelector('#signed-in', { state: 'visible', timeout: 15_000 });
    await expect.poll(() => page.textContent('#whoami'), { timeout: 10_000 }).toBe(`Signed in as ${username}`);
    await expect.poll(() => page.textContent('#connection'), { timeout: 10_000 }).toBe('live');
    expect(await page.isVisible('#notice')).toBe(false);

    // The start named the key, and the session's tokens carry it.
    const start = visited.find((url) => url.startsWith(`${strict.url}/auth/oidc/start?`));
    const jkt = new URL(start!).searchParams.get('dpop_jkt');
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const tokens = await storedTokens(page);
    expect(claimsOf(tokens.accessToken).cnf).toEqual({ jkt });
    // Bound: neither token works without a proof of the key (and the refused refresh spends nothing).
    const refresh = await gql(strict, 'mutation ($t: String) { refresh(refreshToken: $t) { accessToken } }', { t: tokens.refreshToken });
    expect(refresh.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'DPOP_REQUIRED' });
    expect((await gql(strict, '{ me { id } }', {}, { token: tokens.accessToken })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // The pair is in IndexedDB under its thumbprint, the private key not extractable; nothing in localStorage.
    expect(await keptKeys(page)).toEqual([{ jkt, privateExtractable: false, exportRefused: true }]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    // A reload resumes the bound session with the kept key, and renews it (ACCESS_TOKEN_TTL 5 s) with proofs of it.
    await page.reload();
    await page.waitForSelector('#signed-in', { state: 'visible' });
    await expect.poll(() => page.textContent('#connection'), { timeout: 10_000 }).toBe('live');
    const reloaded = await storedTokens(page);
    await expect.poll(async () => (await storedTokens(page)).refreshToken, { timeout: 15_000 }).not.toBe(reloaded.refreshToken);
    expect(claimsOf((await storedTokens(page)).accessToken).cnf).toEqual({ jkt });
    expect(await page.textContent('#connection')).toBe('live');

    // Logout deletes the key.
    await page.click('#logout');
    await page.waitForSelector('#signed-out', { state: 'visible' });
    await expect.poll(() => keptKeys(page), { timeout: 5000 }).toEqual([]);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});

/** The tokens the page keeps in sessionStorage. */
async function storedTokens(page: Page): Promise<{ accessToken: string; refreshToken: string }> {
  return page.evaluate(() => (JSON.parse(sessionStorage.getItem('switchboard.session')!) as { tokens: { accessToken: string; refreshToken: string } }).tokens);
}

/** The DPoP pairs the page keeps in IndexedDB (src/web/page/dpop-keys.ts): thumbprint, and whether the private key could be read. */
async function keptKeys(page: Page): Promise<{ jkt: string; privateExtractable: boolean; exportRefused: boolean }[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('switchboard');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const records = await new Promise<{ jkt: string; keyPair: CryptoKeyPair }[]>((resolve, reject) => {
      const request = db.transaction('dpop-keys').objectStore('dpop-keys').getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    db.close();
    return Promise.all(
      records.map(async ({ jkt, keyPair }) => ({
        jkt,
        privateExtractable: keyPair.privateKey.extractable,
        exportRefused: await crypto.subtle.exportKey('jwk', keyPair.privateKey).then(() => false, () => true),
      })),
    );
  });
}
