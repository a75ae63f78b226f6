/**
 * Allowed origins changed at run time (src/operations/origins.ts): an admin
 * adds an origin on one instance and the other grants it within a second,
 * for HTTP and WebSocket upgrades alike; removed, it is refused again. Those
 * of ALLOWED_ORIGINS stay, whatever admins do. Removing one that is not in
 * the list answers the list as it is and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { logIn, signUp } from '../helpers/accounts.ts';
import { Redis } from 'ioredis';
import { Channels } from '../../src/core/codes.ts';
import { testRedisUrl, withDatabase } from '../helpers/env.ts';
import { errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';

const ADD = 'mutation($origin: String!) { addAllowedOrigin(origin: $origin) }';
const REMOVE = 'mutation($origin: String!) { removeAllowedOrigin(origin: $origin) }';
const LIST = '{ allowedOrigins }';

const seeded = 'https://seeded.example';
const added = `https://${uniqueName('app')}.example`;
let servers: TestServer[];
let adminToken: string;

beforeAll(async () => {
  const adminName = uniqueName('admin');
  const env = { ...scaledEnv(), ADMIN_USER: adminName, ADMIN_PASS: 'admin-password-123', SINGLE_SESSION: 'false', ALLOWED_ORIGINS: seeded };
  servers = [await startServer(env), await startServer(env)];
  adminToken = (await logIn(servers[0]!, adminName, 'admin-password-123')).accessToken;
});
afterAll(async () => {
  // The table is shared by every suite of the run: leave it as found.
  await gql(servers[0]!, REMOVE, { origin: added }, { token: adminToken });
  await stopAllServers();
});

/** How `server` answers a preflight from `origin`: the status and the origin it grants, if any. */
async function preflight(server: TestServer, origin: string) {
  const response = await fetch(server.graphqlUrl, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  return { status: response.status, granted: response.headers.get('access-control-allow-origin') };
}

/** Whether a WebSocket upgrade from `origin` is accepted. */
function upgrade(server: TestServer, origin: string): Promise<'open' | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { origin });
    socket.on('open', () => {
      socket.terminate();
      resolve('open');
    });
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('error', () => undefined);
  });
}

describe('allowed origins at run time', () => {
  it('an origin added on one instance is granted on the other within a second, over HTTP and WebSocket; removed, refused', async () => {
    const [a, b] = servers as [TestServer, TestServer];
    expect(await preflight(b, added)).toEqual({ status: 403, granted: null });
    expect(await upgrade(b, added)).toBe(403);

    const list = await gql(a, ADD, { origin: `${added.toUpperCase()}:443/` }, { token: adminToken });
    expect(list.errors).toBeUndefined();
    expect(list.data.addAllowedOrigin).toEqual([added, seeded].sort());
    await expect.poll(() => preflight(b, added), { timeout: 1000, interval: 50 }).toEqual({ status: 204, granted: added });
    expect(await upgrade(b, added)).toBe('open');
    expect((await gql(b, LIST, {}, { token: adminToken })).data.allowedOrigins).toEqual([added, seeded].sort());

    expect((await gql(b, REMOVE, { origin: added }, { token: adminToken })).data.removeAllowedOrigin).toEqual([seeded]);
    await expect.poll(() => preflight(a, added), { timeout: 1000, interval: 50 }).toEqual({ status: 403, granted: null });
    expect(await upgrade(a, added)).toBe(403);
  });

  it('ALLOWED_ORIGINS stays granted and cannot be removed at run time; bad origins and non-admins are refused, changing nothing', async () => {
    const [a] = servers as [TestServer];
    expect(await preflight(a, seeded)).toEqual({ status: 204, granted: seeded });
    expect(errorCodes(await gql(a, REMOVE, { origin: seeded }, { token: adminToken }))).toEqual(['BAD_USER_INPUT']);
    for (const bad of ['app.example', 'https://app.example/path', 'ftp://app.example', 'null', `https://${'a'.repeat(3000)}.example`, 'https://a\u0000.example']) {
      expect(errorCodes(await gql(a, ADD, { origin: bad }, { token: adminToken })), bad).toEqual(['BAD_USER_INPUT']);
    }
    const user = await signUp(a);
    expect(errorCodes(await gql(a, ADD, { origin: added }, { token: user.accessToken }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(a, LIST, {}, { token: user.accessToken }))).toEqual(['FORBIDDEN']);
    expect((await gql(a, LIST, {}, { token: adminToken })).data.allowedOrigins).toEqual([seeded]);
  });

  it('removing an origin that is not in the list answers the list as it is, audits, tells and grants nothing', async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const absent = `https://${uniqueName('absent')}.example`;
    const list = async () => (await gql(a, LIST, {}, { token: adminToken })).data.allowedOrigins as string[];
    const audited = () => withDatabase(async (client) => Number((await client.query(`SELECT count(*) AS n FROM "AuditEvent" WHERE kind = 'origin_removed'`)).rows[0].n));
    const [before, auditedBefore] = [await list(), await audited()];
    // What the instances tell each other: nothing, when nothing changed.
    const told: string[] = [];
    const listener = new Redis(testRedisUrl);
    listener.on('message', (channel: string) => told.push(channel));
    await listener.subscribe(Channels.originsChanged);
    const answer = await gql(b, REMOVE, { origin: absent }, { token: adminToken });
    expect(answer.errors).toBeUndefined();
    expect(answer.data.removeAllowedOrigin).toEqual(before);
    expect([await list(), await audited()]).toEqual([before, auditedBefore]);
    // A real change on the same channel, so that its message proves the silence before was not a deaf listener.
    const real = `https://${uniqueName('real')}.example`;
    await gql(b, ADD, { origin: real }, { token: adminToken });
    await gql(b, REMOVE, { origin: real }, { token: adminToken });
    await expect.poll(() => told.length).toBeGreaterThanOrEqual(2);
    // b's messages go out in order: a message for the removal that changed nothing would have come first, so a
    // short settle shows whether a third is still on its way.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(told).toEqual([Channels.originsChanged, Channels.originsChanged]);
    listener.disconnect();
    expect(await audited()).toBe(auditedBefore + 1);
    expect(await preflight(a, absent)).toEqual({ status: 403, granted: null });
    // Not an origin at all: BAD_USER_INPUT, as for adding; not FORBIDDEN, not an error from inside.
    for (const bad of ['app.example', 'https://app.example/path', `https://${'a'.repeat(3000)}.example`]) {
      expect(errorCodes(await gql(a, REMOVE, { origin: bad }, { token: adminToken })), bad).toEqual(['BAD_USER_INPUT']);
    }
    expect([await list(), await audited()]).toEqual([before, auditedBefore + 1]);
  });
});
