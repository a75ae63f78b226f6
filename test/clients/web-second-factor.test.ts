/**
 * Two-factor sign-in on the web page at / in Debian's Chromium: a user turns
 * it on (the QR code's pixels, decoded with jsQR, carry the otpauth:// URI;
 * the test computes the first code from it as an app would), receives ten
 * recovery codes, signs out and signs in again with a code; an admin under
 * ADMIN_REQUIRE_2FA is led through enrolment at sign-in. No request leaves
 * the server under test.
 */
import jsQRModule from 'jsqr';
import { generateSync } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { isolatedContext, launchBrowser } from './browser.ts';
import { account, password } from './helpers.ts';

// jsqr is CommonJS whose types declare an ES default export: under NodeNext the function is that default's `default`.
const jsQR = jsQRModule.default ?? jsQRModule;

const codeAt = (secret: string, stepsAhead = 0) => generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * stepsAhead });

async function fillLogin(page: Page, login: string, secret: string) {
  await page.fill('#login-form input[name=login]', login);
  await page.fill('#login-form input[name=password]', secret);
  await page.click('#login-form button[type=submit]');
}

/** Reads the QR code drawn on the page and decodes it; also returns the URI the canvas carries as data-uri. */
async function readQrCode(page: Page): Promise<{ decoded: string | null; dataUri: string | undefined }> {
  const image = await page.evaluate(() => {
    const canvas = document.getElementById('enrol-qr') as HTMLCanvasElement;
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    return { width: pixels.width, height: pixels.height, data: Array.from(pixels.data), dataUri: canvas.dataset.uri };
  });
  const decoded = jsQR(Uint8ClampedArray.from(image.data), image.width, image.height);
  return { decoded: decoded?.data ?? null, dataUri: image.dataUri };
}

/** Waits for the enrolment panel, checks its QR code and confirms with a first code; returns the secret and the recovery codes shown. */
async function enrolOnPage(page: Page): Promise<{ secret: string; recoveryCodes: string[] }> {
  await page.waitForSelector('#enrol', { state: 'visible' });
  await expect.poll(async () => (await readQrCode(page)).decoded, { timeout: 10_000 }).toMatch(/^otpauth:\/\/totp\//);
  const { decoded, dataUri } = await readQrCode(page);
  expect(decoded).toBe(dataUri);
  const secret = new URL(decoded!).searchParams.get('secret')!;
  expect(await page.textContent('#enrol-secret')).toBe(secret);
  await page.fill('#enrol-confirm-form input[name=code]', codeAt(secret));
  await page.click('#enrol-confirm-form button[type=submit]');
  await expect.poll(() => page.locator('#recovery-codes li').count(), { timeout: 10_000 }).toBe(10);
  const recoveryCodes = await page.locator('#recovery-codes li').allTextContents();
  await page.click('#enrol-close');
  await page.waitForSelector('#enrol', { state: 'hidden' });
  return { secret, recoveryCodes };
}

describe('web page: two-factor sign-in', () => {
  let server: TestServer;
  let browser: Browser;
  const admin = { username: uniqueName('wadm'), password: `pw-${uniqueName('p')}` };

  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), ADMIN_REQUIRE_2FA: 'true', ADMIN_USER: admin.username, ADMIN_PASS: admin.password });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAllServers();
  });

  it('a user turns it on from the QR code, then signs in with a code', async () => {
    const user = await account(server, 'tf');
    const { context, foreign, errors } = await isolatedContext(browser, server.url);
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await fillLogin(page, user.username, password);
    await page.waitForSelector('#signed-in', { state: 'visible' });
    await expect.poll(() => page.textContent('#two-factor-status'), { timeout: 10_000 }).toBe('off');

    await page.click('#two-factor-enable');
    const { secret, recoveryCodes } = await enrolOnPage(page);
    expect(recoveryCodes.every((c) => /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/.test(c))).toBe(true);
    await expect.poll(() => page.textContent('#two-factor-status'), { timeout: 10_000 }).toBe('on');

    await page.click('#logout');
    await page.waitForSelector('#signed-out', { state: 'visible' });
    await fillLogin(page, user.username, password);
    await page.waitForSelector('#second-factor-form', { state: 'visible' });
    expect(await page.isVisible('#signed-in')).toBe(false);
    // The step after the confirming code's (that one is spent).
    await page.fill('#second-factor-form input[name=code]', codeAt(secret, 1));
    await page.click('#second-factor-form button[type=submit]');
    await page.waitForSelector('#signed-in', { state: 'visible' });
    await expect.poll(() => page.textContent('#connection'), { timeout: 10_000 }).toBe('live');
    await expect.poll(() => page.textContent('#whoami')).toContain(user.username);

    // Signed out again: a recovery code signs in too.
    await page.click('#logout');
    await page.waitForSelector('#signed-out', { state: 'visible' });
    await fillLogin(page, user.username, password);
    await page.fill('#second-factor-form input[name=code]', recoveryCodes[3]!);
    await page.click('#second-factor-form button[type=submit]');
    await page.waitForSelector('#signed-in', { state: 'visible' });

    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('an admin who must enrol is shown the enrolment at sign-in, and is signed in once it is confirmed', async () => {
    const { context, foreign, errors } = await isolatedContext(browser, server.url);
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await fillLogin(page, admin.username, admin.password);
    await page.waitForSelector('#enrol', { state: 'visible' });
    expect(await page.isVisible('#signed-in')).toBe(false);
    await enrolOnPage(page);
    await page.waitForSelector('#signed-in', { state: 'visible' });
    await expect.poll(() => page.textContent('#whoami')).toContain(admin.username);
    await expect.poll(() => page.textContent('#two-factor-status'), { timeout: 10_000 }).toBe('on');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
