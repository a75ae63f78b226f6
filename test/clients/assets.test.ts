/**
 * What the server hands to browsers and HTTP subscribers, without any CDN:
 * the web page (strict CSP, one self-contained ES module), GraphiQL (loads
 * in Chromium with no request leaving the server), and the auth gate of
 * subscriptions over SSE (graphql-sse at /graphql/stream and Yoga's own
 * text/event-stream answers on /graphql).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient as createSseClient } from 'graphql-sse';
import { eventually, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { isolatedContext, launchBrowser } from './browser.ts';

const subscription = 'subscription { serverLog { message } }';

describe('browser assets and the SSE gate', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(scaledEnv());
  });
  afterAll(() => stopAllServers());

  it('serves the page at / with a strict Content Security Policy and a self-contained module', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/app.js">');
    expect(html).not.toMatch(/https?:\/\//);

    const script = await fetch(`${server.url}/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    const code = await script.text();
    // Bundled: no import is left for the browser to resolve (the bundle has
    // no import statement at all, only graphql-ws's own help text mentions one).
    expect(code).not.toMatch(/(^|[;}])\s*import\s*[{*\w"']/);
    expect(code).not.toMatch(/\bimport\(/);
    expect(code).toContain('graphql-transport-ws');

    const head = await fetch(`${server.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${server.url}/style.css`)).headers.get('content-type')).toContain('text/css');
  });

  it('serves GraphiQL at GET /graphql from its own assets', async () => {
    const response = await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('/graphiql/graphiql.js');
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['graphiql.js', 'graphiql.css', 'fetcher.js', 'worker/editorWorkerService.js', 'worker/json.js', 'worker/graphql.js']) {
      const got = await fetch(`${server.url}/graphiql/${asset}`);
      expect(got.status, asset).toBe(200);
      expect((await got.text()).length, asset).toBeGreaterThan(100);
    }
    expect((await fetch(`${server.url}/graphiql/nothing.js`)).status).toBe(404);
  });

  it('GraphiQL loads in Chromium with no request outside this server, no page error and nothing its CSP blocked', async () => {
    const browser = await launchBrowser();
    try {
      const { context, foreign, errors } = await isolatedContext(browser, server.url);
      const page = await context.newPage();
      // Chromium reports what a Content Security Policy refused as console errors, not page errors.
      const refusedByCsp: string[] = [];
      page.on('console', (message) => void (/Content Security Policy/i.test(message.text()) && refusedByCsp.push(message.text())));
      await page.goto(`${server.graphqlUrl}?query=${encodeURIComponent('{ __typename }')}`);
      await page.waitForSelector('.graphiql-execute-button', { timeout: 30_000 });
      // The schema arrived through the fetcher: the docs explorer lists the root types.
      await page.click('[aria-label="Show Documentation Explorer"]');
      await expect.poll(() => page.locator('.graphiql-doc-explorer').textContent(), { timeout: 15_000 }).toContain('Query');
      // Run an operation too: the editor's workers and the fetcher's request are what a CSP could refuse.
      await page.click('.graphiql-execute-button');
      await expect.poll(() => page.locator('.graphiql-response').textContent(), { timeout: 15_000 }).toMatch(/"__typename":\s*"Query"/);
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
      expect(refusedByCsp).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('refuses subscriptions over SSE without a valid token, as an UNAUTHENTICATED event', async () => {
    for (const token of [undefined, 'not-a-jwt']) {
      const client = createSseClient({ url: `${server.url}/graphql/stream`, headers: token ? { authorization: `Bearer ${token}` } : {}, retryAttempts: 0 });
      const results: { errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> }[] = [];
      let done = false;
      client.subscribe({ query: subscription }, { next: (r) => void results.push(r), error: () => (done = true), complete: () => (done = true) });
      await eventually(() => done, 5000, 'the refusal');
      expect(results).toHaveLength(1);
      expect(results[0]!.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      client.dispose();
    }

    const yogaStream = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: subscription }),
    });
    const text = await yogaStream.text();
    expect(text).toContain('"UNAUTHENTICATED"');
  });
});
