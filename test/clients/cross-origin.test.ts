/**
 * Cross-origin requests in Debian's Chromium (playwright-core): a page served
 * from another origin (a second loopback port: same site, so the browser
 * does send the SameSite=Strict refresh cookie) cannot refresh through the
 * cookie, by JSON with the CSRF header (its preflight is refused), by
 * text/plain or by a form (415), and cannot read any answer; the refresh
 * count in the audit log does not move. The same page can, once its origin is
 * listed in ALLOWED_ORIGINS of a second instance, which shows that the
 * browser sent the cookie and that the refusals were the server's.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CSRF_HEADER } from '../../src/core/codes.ts';
import { withDatabase } from '../helpers/env.ts';
import { scaledEnv, startServer, stopAllServers, uuidOf, type TestServer } from '../helpers/server.ts';
import { launchBrowser } from './browser.ts';
import { account } from './helpers.ts';

const REFRESH = JSON.stringify({ query: 'mutation { refresh { refreshToken } }' });

/** What a fetch in `page` ended with: the answer's type, status and text when readable, else the error. */
async function fetchIn(page: Page, url: string, init: { method?: string; headers?: Record<string, string>; body?: string; mode?: 'cors' | 'no-cors'; credentials?: 'include' | 'same-origin' }) {
  return page.evaluate(
    async ([u, i]) => {
      try {
        const response = await fetch(u, i as RequestInit);
        return { type: response.type, status: response.status, text: await response.text() };
      } catch (error) {
        return { error: String(error) };
      }
    },
    [url, init] as const,
  );
}

/**
 * A context that records (in `foreign`) any request outside `origins` and any page error. Not
 * browser.ts's isolatedContext: while routes are set, Playwright answers every CORS preflight itself,
 * granting it, so the server's refusal would never reach the browser.
 */
async function watchedContext(browser: Browser, origins: string[]): Promise<{ context: BrowserContext; foreign: string[]; errors: string[] }> {
  const context = await browser.newContext();
  const foreign: string[] = [];
  const errors: string[] = [];
  context.on('request', (request) => void (origins.some((o) => request.url().startsWith(o)) || foreign.push(request.url())));
  context.on('page', (page) => page.on('pageerror', (error) => errors.push(error.message)));
  return { context, foreign, errors };
}

const refreshes = (userId: string) =>
  withDatabase(async (db) => Number((await db.query(`SELECT count(*) FROM "AuditEvent" WHERE kind = 'refresh' AND "userId" = $1`, [uuidOf(userId)])).rows[0].count));

describe('a page from another origin', () => {
  let server: TestServer;
  let listing: TestServer;
  let elsewhere: Server;
  let elsewhereOrigin: string;
  let browser: Browser;

  beforeAll(async () => {
    // The other origin: a tiny page on a second loopback port.
    elsewhere = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title><iframe name="sink"></iframe>'));
    elsewhere.listen(0, '127.0.0.1');
    await once(elsewhere, 'listening');
    elsewhereOrigin = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}`;
    server = await startServer(scaledEnv());
    listing = await startServer({ ...scaledEnv(), ALLOWED_ORIGINS: elsewhereOrigin });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAllServers();
    elsewhere?.close();
  });

  it('cannot refresh through the cookie nor read an answer; once listed in ALLOWED_ORIGINS it can', async () => {
    const user = await account(server, 'xo');
    const { context, foreign, errors } = await watchedContext(browser, [server.url, listing.url, elsewhereOrigin]);
    const own = await context.newPage();
    await own.goto(`${server.url}/`);
    const login = await fetchIn(own, '/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }', variables: { input: { login: user.username, password: user.password } } }),
    });
    expect(login).toMatchObject({ status: 200 });
    const before = await refreshes(user.userId);

    const page = await context.newPage();
    await page.goto(`${elsewhereOrigin}/`);
    const target = server.graphqlUrl;

    // JSON with the CSRF header: the preflight is refused, the request never sent.
    const json = await fetchIn(page, target, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' }, body: REFRESH });
    expect(json).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
    // JSON without custom header: preflighted all the same (application/json is not a simple type).
    expect(await fetchIn(page, target, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: REFRESH })).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
    // text/plain needs no preflight: sent, refused with 415, and opaque to the page.
    expect(await fetchIn(page, target, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: REFRESH })).toEqual({ type: 'opaque', status: 0, text: '' });
    // A GET query is answered, but without a grant the page cannot read it.
    expect(await fetchIn(page, `${target}?query=${encodeURIComponent('{ __typename }')}`, { credentials: 'include' })).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
    // A form posted into a frame: sent with the cookie, refused with 415.
    await page.evaluate(
      ([action]) => {
        const form = document.createElement('form');
        Object.assign(form, { method: 'POST', action, target: 'sink', enctype: 'application/x-www-form-urlencoded' });
        const field = Object.assign(document.createElement('input'), { type: 'hidden', name: 'query', value: 'mutation { refresh { refreshToken } }' });
        form.append(field);
        document.body.append(form);
        form.submit();
      },
      [target] as const,
    );
    await expect.poll(() => page.frame({ name: 'sink' })?.url()).toBe(target);
    await expect.poll(async () => (await page.frame({ name: 'sink' })!.textContent('body').catch(() => '')) ?? '').toMatch(/application\/json/);

    expect(await refreshes(user.userId)).toBe(before);

    // The server's own page refreshes with the same cookie and the header: the cookie was there all along.
    const sameOrigin = await fetchIn(own, '/graphql', { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' }, body: REFRESH });
    expect(JSON.parse((sameOrigin as { text: string }).text).data.refresh.refreshToken).toEqual(expect.any(String));
    expect(await refreshes(user.userId)).toBe(before + 1);

    // An instance that lists the page's origin grants it: the same request now succeeds and is readable.
    const granted = await fetchIn(page, listing.graphqlUrl, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' }, body: REFRESH });
    expect(granted).toMatchObject({ type: 'cors', status: 200 });
    expect(JSON.parse((granted as { text: string }).text).data.refresh.refreshToken).toEqual(expect.any(String));
    expect(await refreshes(user.userId)).toBe(before + 2);

    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
