/**
 * A message reaches the subscribers on the instance that stored it without
 * waiting for the bus, and the bus's copy, when it comes, is not delivered
 * again. Two instances reach Redis through a proxy that can hold back what
 * Redis sends on the subscriber connections (a bus that has stalled).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, gql, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND } from '../rooms/helpers.ts';

let redis: TcpProxy;
/** Connections that have sent SUBSCRIBE: the bus's subscriber connections. */
const subscribers = new Set<{ held: boolean }>();
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  redis = await startTcpProxy(testRedisUrl, {
    watch: (connection) => (chunk) => {
      if (chunk.toString().toUpperCase().includes('SUBSCRIBE')) subscribers.add(connection);
    },
  });
  const env = { DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.via(testRedisUrl) };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(async () => {
  await stopAllServers();
  await redis.stop();
});

describe('the instance that stores a message', () => {
  it('delivers it to its own subscribers at once; the other instance gets it from the bus; nobody gets it twice', async () => {
    const owner = await signUp(a);
    const reader = await signUp(a);
    const room = (await createRoom(a, owner.accessToken)).id;
    await gql(a, JOIN, { id: room }, { token: reader.accessToken });
    const onA = connectSocket(a, { token: reader.accessToken });
    const onB = connectSocket(b, { token: reader.accessToken });
    await Promise.all([onA.acked, onB.acked]);
    const [here, there] = [onA, onB].map((socket) => collect(socket.client, ROOM_MESSAGES, { id: room }));
    const bodies = (view: typeof here) => view.results.map((r) => r.data!.roomMessages.body as string);
    await expect.poll(async () => {
      await gql(a, SEND, { id: room, body: 'warm-up' }, { token: owner.accessToken });
      return here.results.length > 0 && there.results.length > 0;
    }).toBe(true);
    await gql(a, SEND, { id: room, body: 'ready' }, { token: owner.accessToken });
    await expect.poll(() => bodies(here).at(-1) === 'ready' && bodies(there).at(-1) === 'ready').toBe(true);
    const [hereBefore, thereBefore] = [here.results.length, there.results.length];

    // The bus stalls: Redis takes the publishes but nothing reaches any instance's subscriber connection.
    for (const connection of subscribers) connection.held = true;
    for (const body of ['one', 'two', 'three']) await gql(a, SEND, { id: room, body }, { token: owner.accessToken });
    await expect.poll(() => bodies(here).slice(hereBefore)).toEqual(['one', 'two', 'three']);
    expect(there.results.length).toBe(thereBefore);

    redis.release();
    await expect.poll(() => bodies(there).slice(thereBefore)).toEqual(['one', 'two', 'three']);
    await gql(a, SEND, { id: room, body: 'four' }, { token: owner.accessToken });
    await expect.poll(() => bodies(there).at(-1)).toBe('four');
    await expect.poll(() => bodies(here).at(-1)).toBe('four');
    expect(bodies(here).slice(hereBefore)).toEqual(['one', 'two', 'three', 'four']);
    await Promise.all([onA.client.dispose(), onB.client.dispose()]);
  });
});
