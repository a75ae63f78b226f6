/**
 * The web page at / in Debian's Chromium (playwright-core): two users in two
 * browser contexts sign in, meet in a room, see each other's presence and
 * exchange messages; markup in a message stays text; the seventh user past
 * MAX_CONNECTIONS=6 is told there are no free seats. No request leaves the
 * server under test. An owner removes a member, invites online users into
 * its private room and deletes the room, with controls only it is shown. SCREENSHOT=path saves the first user's page there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { connectSocket, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer, type TestSocket } from '../helpers/server.ts';
import { isolatedContext, launchBrowser } from './browser.ts';
import { account, password, type TestAccount } from './helpers.ts';

async function signIn(page: Page, server: TestServer, user: TestAccount) {
  await page.goto(`${server.url}/`);
  await page.fill('#login-form input[name=login]', user.username);
  await page.fill('#login-form input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#signed-in', { state: 'visible' });
}

/** Creates a room from the page's form; the page then shows it. */
async function createRoomOnPage(page: Page, name: string, permission: 'PUBLIC' | 'PRIVATE' | 'OWNER_ONLY' = 'PUBLIC') {
  await page.fill('#create-room-form input[name=name]', name);
  await page.selectOption('#create-room-form select[name=permission]', permission);
  await page.click('#create-room-form button[type=submit]');
  await expect.poll(() => page.textContent('#room-name'), { timeout: 10_000 }).toBe(name);
}

/** Opens the room named `name` from the page's list and joins it. */
async function joinRoomOnPage(page: Page, name: string) {
  await page.locator(`#rooms li[data-room-name="${name}"] button`).click();
  await page.click('#join-room');
  await page.waitForSelector('#send-form', { state: 'visible' });
}

const onlineNames = (page: Page) => page.locator('#online li .name').allTextContents();
const memberNames = (page: Page) => page.locator('#members li .name').allTextContents();

describe('web page', () => {
  let server: TestServer;
  let browser: Browser;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    // A Redis database of its own: seats are cluster-wide, and seats another
    // suite's killed instance left behind (until their lease expires) must
    // not count against this test's six.
    const redis = new URL(scaledEnv().REDIS_URL!);
    redis.pathname = '/7';
    server = await startServer({ ...scaledEnv(), REDIS_URL: redis.toString(), MAX_CONNECTIONS: '6' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const s of sockets) s.client.dispose();
    await browser?.close();
    await stopAllServers();
  });

  it('two users sign in, join a room, see each other online and exchange messages; markup stays text', async () => {
    const alice = await account(server, 'al');
    const bob = await account(server, 'bo');
    const a = await isolatedContext(browser, server.url);
    const b = await isolatedContext(browser, server.url);
    const pageA = await a.context.newPage();
    const pageB = await b.context.newPage();

    await signIn(pageA, server, alice);
    await expect.poll(() => pageA.textContent('#connection'), { timeout: 10_000 }).toBe('live');
    await expect.poll(() => pageA.textContent('#whoami'), { timeout: 10_000 }).toContain(alice.username);

    const roomName = uniqueName('lobby');
    await createRoomOnPage(pageA, roomName);
    if (await pageA.isVisible('#join-room')) await pageA.click('#join-room');
    await pageA.waitForSelector('#send-form', { state: 'visible' });

    await signIn(pageB, server, bob);
    await joinRoomOnPage(pageB, roomName);

    // Presence: each sees the other online, and as a member of the room.
    await expect.poll(() => onlineNames(pageA), { timeout: 10_000 }).toContain(bob.username);
    await expect.poll(() => onlineNames(pageB), { timeout: 10_000 }).toContain(alice.username);
    await expect.poll(() => memberNames(pageA), { timeout: 10_000 }).toEqual([alice.username, bob.username].sort((x, y) => x.localeCompare(y)));
    await expect.poll(() => pageA.locator(`#online li[data-user-id="${bob.userId}"] .status`).textContent()).toBe('online');
    // Alice's room list counts Bob, with no Refresh.
    await expect.poll(() => pageA.locator(`#rooms li[data-room-name="${roomName}"] .muted`).textContent(), { timeout: 10_000 }).toBe('2');

    await pageA.fill('#send-form input[name=body]', 'hello from alice');
    await pageA.click('#send-form button[type=submit]');
    await expect.poll(() => pageB.locator('#messages .body').allTextContents(), { timeout: 10_000 }).toEqual(['hello from alice']);

    const markup = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold?</b>';
    await pageB.fill('#send-form input[name=body]', markup);
    await pageB.click('#send-form button[type=submit]');
    await expect.poll(() => pageA.locator('#messages .body').allTextContents(), { timeout: 10_000 }).toEqual(['hello from alice', markup]);
    await expect.poll(() => pageB.locator('#messages .body').allTextContents()).toEqual(['hello from alice', markup]);
    for (const page of [pageA, pageB]) {
      expect(await page.locator('#messages script, #messages img, #messages b').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    }
    await expect.poll(() => pageA.locator('#messages .author').allTextContents()).toEqual([alice.username, bob.username]);
    await expect.poll(() => pageA.textContent('#seats')).toMatch(/^Seats \d+\/6$/);

    if (process.env.SCREENSHOT) await pageA.screenshot({ path: process.env.SCREENSHOT });

    // The seventh user: fill the remaining seats with other users' sockets.
    const used = Number(/Seats (\d+)\/6/.exec((await pageA.textContent('#seats')) ?? '')?.[1]);
    for (let i = used; i < 6; i++) {
      const other = await account(server, 'seat');
      const socket = connectSocket(server, { authorization: `Bearer ${other.accessToken}` });
      sockets.push(socket);
      await socket.acked;
    }
    await expect.poll(() => pageA.textContent('#seats'), { timeout: 10_000 }).toBe('Seats 6/6');

    const carol = await account(server, 'ca');
    const c = await isolatedContext(browser, server.url);
    const pageC = await c.context.newPage();
    await signIn(pageC, server, carol);
    await pageC.waitForSelector('#notice', { state: 'visible', timeout: 10_000 });
    expect(await pageC.textContent('#notice-text')).toMatch(/no free seats/i);
    expect(await pageC.isVisible('#retry')).toBe(true);

    // A seat frees up: "Try again" connects.
    sockets.pop()!.client.dispose();
    await expect.poll(() => pageA.textContent('#seats'), { timeout: 10_000 }).toBe('Seats 5/6');
    await pageC.click('#retry');
    await expect.poll(() => pageC.textContent('#connection'), { timeout: 10_000 }).toBe('live');
    await expect.poll(() => pageC.isVisible('#notice')).toBe(false);

    for (const ctx of [a, b, c]) {
      expect(ctx.foreign).toEqual([]);
      expect(ctx.errors).toEqual([]);
    }
  });
});

describe('web page: managing a room', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer(scaledEnv());
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAllServers();
  });

  it('the owner removes a member (who sees the room as a stranger again) and deletes the room; a member sees neither control, and leaving of its own accord is not told as being removed', async () => {
    const alice = await account(server, 'ow');
    const bob = await account(server, 'me');
    const a = await isolatedContext(browser, server.url);
    const b = await isolatedContext(browser, server.url);
    const pageA = await a.context.newPage();
    const pageB = await b.context.newPage();
    await signIn(pageA, server, alice);
    const roomName = uniqueName('managed');
    await createRoomOnPage(pageA, roomName);
    // The room list is read at sign-in.
    await signIn(pageB, server, bob);
    await joinRoomOnPage(pageB, roomName);
    await expect.poll(() => memberNames(pageA), { timeout: 10_000 }).toEqual([alice.username, bob.username].sort((x, y) => x.localeCompare(y)));

    // Only the owner's page offers the controls, and never against the owner itself.
    expect(await pageA.isVisible('#delete-room')).toBe(true);
    expect(await pageA.locator(`#members li[data-user-id="${alice.userId}"] .remove`).count()).toBe(0);
    expect(await pageB.isVisible('#delete-room')).toBe(false);
    expect(await pageB.locator('#members .remove').count()).toBe(0);

    await pageA.locator(`#members li[data-user-id="${bob.userId}"] .remove`).click();
    await expect.poll(() => memberNames(pageA), { timeout: 10_000 }).toEqual([alice.username]);
    // Bob's page hears its own LEFT and shows the (public) room as to a stranger: Join, no sending.
    await pageB.waitForSelector('#join-room', { state: 'visible', timeout: 10_000 });
    expect(await pageB.isVisible('#send-form')).toBe(false);
    expect(await pageB.textContent('#notice-text')).toMatch(/no longer a member/);

    // Bob joins again and leaves of his own accord: the room shows Join again, with no word of being removed.
    await joinRoomOnPage(pageB, roomName);
    await expect.poll(() => memberNames(pageA), { timeout: 10_000 }).toHaveLength(2);
    await pageB.click('#dismiss');
    expect(await pageB.isHidden('#notice')).toBe(true);
    await pageB.click('#leave-room');
    await pageB.waitForSelector('#join-room', { state: 'visible', timeout: 10_000 });
    await expect.poll(() => memberNames(pageA), { timeout: 10_000 }).toEqual([alice.username]);
    expect(await pageB.isHidden('#notice')).toBe(true);

    pageA.once('dialog', (dialog) => void dialog.accept());
    await pageA.click('#delete-room');
    await pageA.waitForSelector('#room-empty', { state: 'visible', timeout: 10_000 });
    for (const page of [pageA, pageB]) {
      await page.reload();
      await page.waitForSelector('#signed-in', { state: 'visible' });
      await expect.poll(() => page.locator(`#rooms li[data-room-name="${roomName}"]`).count(), { timeout: 10_000 }).toBe(0);
    }
    for (const ctx of [a, b]) {
      expect(ctx.foreign).toEqual([]);
      expect(ctx.errors).toEqual([]);
    }
  });

  it('the owner of a private room invites an online user, who is told at once, finds the room in the list and joins; nobody else is offered Invite; others see a public room come, renamed and go without Refresh', async () => {
    const [alice, bob, carol] = await Promise.all([account(server, 'ow'), account(server, 'in'), account(server, 'un')]);
    const contexts = await Promise.all([alice, bob, carol].map(() => isolatedContext(browser, server.url)));
    const [pageA, pageB, pageC] = await Promise.all(contexts.map((c) => c.context.newPage()));
    await signIn(pageA, server, alice);
    await signIn(pageB, server, bob);
    await signIn(pageC, server, carol);
    const roomName = uniqueName('private');
    await createRoomOnPage(pageA, roomName, 'PRIVATE');
    const inviteOf = (page: Page, user: TestAccount) => page.locator(`#online li[data-user-id="${user.userId}"] .invite`);
    await expect.poll(() => inviteOf(pageA, bob).count(), { timeout: 10_000 }).toBe(1);
    expect(await inviteOf(pageA, carol).count()).toBe(1);
    expect(await inviteOf(pageA, alice).count()).toBe(0);
    expect(await pageB.locator('#online .invite').count()).toBe(0);

    await inviteOf(pageA, bob).click();
    await expect.poll(() => inviteOf(pageA, bob).textContent(), { timeout: 10_000 }).toBe('Invited');
    expect(await inviteOf(pageA, bob).isDisabled()).toBe(true);

    // Bob hears of it at once and finds the room in his list; Carol, never.
    const listed = (page: Page) => page.locator(`#rooms li[data-room-name="${roomName}"]`).count();
    await expect.poll(() => listed(pageB), { timeout: 10_000 }).toBe(1);
    expect(await pageB.textContent('#notice-text')).toBe(`${alice.username} invited you to ${roomName}.`);
    await joinRoomOnPage(pageB, roomName);
    await expect.poll(() => memberNames(pageA), { timeout: 10_000 }).toEqual([alice.username, bob.username].sort((x, y) => x.localeCompare(y)));
    // A member is not offered again; Carol, never invited, still is.
    expect(await inviteOf(pageA, bob).count()).toBe(0);
    expect(await inviteOf(pageA, carol).textContent()).toBe('Invite');

    // A public room, made elsewhere (through the API, with Alice's page's own session: a new login would end it), shows
    // at once in both lists, with no Refresh, and needs no invitations; Carol's list still lacks the private one.
    // Renamed, it is renamed in the owner's open room and in Carol's list; deleted, it leaves both.
    const token = await pageA.evaluate(() => (JSON.parse(sessionStorage.getItem('switchboard.session')!) as { tokens: { accessToken: string } }).tokens.accessToken);
    const publicName = uniqueName('public');
    const made = await gql(server, 'mutation($name: String!) { createRoom(input: { name: $name }) { id } }', { name: publicName }, { token });
    const listedAs = (page: Page, name: string) => page.locator(`#rooms li[data-room-name="${name}"]`).count();
    for (const page of [pageA, pageC]) await expect.poll(() => listedAs(page, publicName), { timeout: 10_000 }).toBe(1);
    expect(await listed(pageC)).toBe(0);
    await pageA.locator(`#rooms li[data-room-name="${publicName}"] button`).click();
    await expect.poll(() => pageA.textContent('#room-name'), { timeout: 10_000 }).toBe(publicName);
    expect(await pageA.locator('#online .invite').count()).toBe(0);
    const renamed = uniqueName('renamed');
    await gql(server, 'mutation($id: ID!, $name: String!) { updateRoom(id: $id, input: { name: $name }) { id } }', { id: made.data.createRoom.id, name: renamed }, { token });
    await expect.poll(() => pageA.textContent('#room-name'), { timeout: 10_000 }).toBe(renamed);
    await expect.poll(() => listedAs(pageC, renamed), { timeout: 10_000 }).toBe(1);
    expect(await listedAs(pageC, publicName)).toBe(0);
    pageA.once('dialog', (dialog) => void dialog.accept());
    await pageA.click('#delete-room');
    await expect.poll(() => listedAs(pageC, renamed), { timeout: 10_000 }).toBe(0);
    expect(await listedAs(pageA, renamed)).toBe(0);
    for (const ctx of contexts) {
      expect(ctx.foreign).toEqual([]);
      expect(ctx.errors).toEqual([]);
    }
  });
});
