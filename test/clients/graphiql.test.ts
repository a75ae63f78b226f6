/**
 * GraphiQL at GET /graphql in Chromium: it loads with no request outside the
 * server, and a subscription run with the token in the headers editor goes
 * over graphql-ws and shows live events; without a token it shows the refusal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { connectSocket, scaledEnv, startServer, stopAllServers, type TestServer, type TestSocket } from '../helpers/server.ts';
import { isolatedContext, launchBrowser } from './browser.ts';
import { account } from './helpers.ts';

const subscription = 'subscription Seats { connectionSlots { used max } }';

async function openGraphiQL(page: Page, server: TestServer, authorization?: string) {
  await page.goto(`${server.graphqlUrl}?query=${encodeURIComponent(subscription)}`);
  await page.waitForSelector('.graphiql-execute-button', { timeout: 30_000 });
  if (authorization) {
    await page.getByText('Headers', { exact: true }).click();
    const editor = page.locator('.graphiql-editor-tool .monaco-editor').last();
    await editor.click();
    await page.keyboard.insertText(JSON.stringify({ Authorization: authorization }));
  }
  await page.click('.graphiql-execute-button');
}

const response = (page: Page) => page.locator('.graphiql-response').textContent();

describe('GraphiQL', () => {
  let server: TestServer;
  let browser: Browser;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), MAX_CONNECTIONS: '50' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const s of sockets) s.client.dispose();
    await browser?.close();
    await stopAllServers();
  });

  it('runs a subscription over graphql-ws with the token from the headers editor and shows live events', async () => {
    const alice = await account(server, 'gi');
    const { context, foreign, errors } = await isolatedContext(browser, server.url);
    const page = await context.newPage();
    await openGraphiQL(page, server, `Bearer ${alice.accessToken}`);

    // The first event: the counts at once (this very socket holds a seat).
    await expect.poll(() => response(page), { timeout: 15_000 }).toMatch(/"used":\s*\d+/);
    const used = Number(/"used":\s*(\d+)/.exec((await response(page)) ?? '')![1]);
    expect(used).toBeGreaterThanOrEqual(1);
    // Another user connects: the count changes live.
    const bob = await account(server, 'gi');
    const socket = connectSocket(server, { authorization: `Bearer ${bob.accessToken}` });
    sockets.push(socket);
    await socket.acked;
    await expect.poll(() => response(page), { timeout: 15_000 }).toMatch(new RegExp(`"used":\\s*${used + 1}\\b`));

    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('shows the refusal when the subscription has no token', async () => {
    const { context } = await isolatedContext(browser, server.url);
    const page = await context.newPage();
    await openGraphiQL(page, server);
    await expect.poll(() => response(page), { timeout: 15_000 }).toContain('4403');
    await context.close();
  });
});
