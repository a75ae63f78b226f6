/**
 * The web page's "Sign in with <provider>" button in Debian's Chromium, end
 * to end against a real OpenID Connect provider on another site
 * (test/helpers/oidc-provider.ts, 127.0.0.2): the browser goes to the
 * provider and back, the page turns the refresh cookie into its session and
 * goes live; a declined sign-in is told on the page. No request leaves the
 * server and the provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startIdp, type TestIdp } from '../helpers/oidc-provider.ts';
import { scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { isolatedContext, launchBrowser } from './browser.ts';
import { clientApiServed } from './helpers.ts';

describe.skipIf(!clientApiServed)('web page: sign-in through an identity provider', () => {
  let idp: TestIdp;
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    idp = await startIdp();
    server = await startServer({ ...scaledEnv(), OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret, OIDC_PROVIDER_NAME: 'Test IdP', OIDC_STARTS_PER_IP: '100000' });
    await idp.allowRedirects(`${server.url}/auth/oidc/callback`);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAllServers();
    await idp?.close();
  });

  it('signs in with the button, through the provider and back, and goes live', async () => {
    const username = uniqueName('web');
    const sub = uniqueName('sub');
    idp.addAccount({ sub, email: `${username}@example.test`, email_verified: true, preferred_username: username });
    idp.signInAs = sub;
    const { context, foreign, errors } = await isolatedContext(browser, server.url, [idp.issuer]);
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => {
      if (request.isNavigationRequest()) visited.push(request.url());
    });

    await page.goto(`${server.url}/`);
    await expect.poll(() => page.isVisible('#oidc-start'), { timeout: 10_000 }).toBe(true);
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
});
