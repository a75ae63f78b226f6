/**
 * Debian's Chromium driven by playwright-core (no browser download), with
 * the flags that keep it off the network, and a guard that fails a test
 * when a page asks for anything outside the server under test.
 */
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Starts headless Chromium (playwright gives it a fresh temporary profile). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A browser context whose pages may only reach `origin` (and the `alsoAllowed`
 * origins, such as a test's identity provider): any other request
 * is aborted and recorded in `foreign`, and page errors are recorded in `errors`.
 */
export async function isolatedContext(browser: Browser, origin: string, alsoAllowed: string[] = []): Promise<{ context: BrowserContext; foreign: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const foreign: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if ([origin, ...alsoAllowed].some((allowed) => url.startsWith(allowed)) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  context.on('page', (page) => page.on('pageerror', (error) => errors.push(error.message)));
  return { context, foreign, errors };
}
