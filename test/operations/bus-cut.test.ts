/**
 * What an instance's bus missed while it was cut off: presence changes and
 * seat counts reach its subscribers once the bus is back, and room
 * subscribers check their access again (a permission change may be among
 * what was lost). Two instances reach Redis through a proxy; the subscriber
 * connections are held while something happens on the other instance, then
 * cut, so what Redis sent them is lost and ioredis subscribes again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, gql, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { flushTestRedis } from '../helpers/redis.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND, warmUp } from '../rooms/helpers.ts';
import { startTcpProxy, type ProxiedConnection, type TcpProxy } from '../helpers/tcp-proxy.ts';

const PRESENCE = 'subscription { presence { user { id } status } }';
const SLOTS = 'subscription { connectionSlots { used } }';

let redis: TcpProxy;
const subscribers = new Set<ProxiedConnection>();
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  await flushTestRedis();
  redis = await startTcpProxy(testRedisUrl, {
    watch: (connection) => (chunk) => {
      if (chunk.toString().toUpperCase().includes('SUBSCRIBE')) subscribers.add(connection);
    },
  });
  const env = { ...scaledEnv(), REDIS_URL: redis.via(testRedisUrl) };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(async () => {
  await stopAllServers();
  await redis.stop();
});

/** Holds what Redis sends to every subscriber connection, runs `meanwhile`, then cuts those connections: what they held is lost. */
async function cutTheBus(meanwhile: () => Promise<void>) {
  for (const connection of subscribers) connection.held = true;
  await meanwhile();
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const connection of [...subscribers]) {
    subscribers.delete(connection);
    connection.drop();
  }
}

describe('after a bus outage', () => {
  it("an instance's subscribers get the presence changes and seat counts they missed, once, and then live ones again", async () => {
    const watcher = await signUp(a);
    const leaver = await signUp(b);
    const watching = connectSocket(a, { token: watcher.accessToken });
    await watching.acked;
    const presence = collect(watching.client, PRESENCE);
    const slots = collect(watching.client, SLOTS);
    const statusesOf = (userId: string) => presence.results.map((r) => r.data!.presence).filter((p) => p.user.id === userId).map((p) => p.status as string);
    const leaving = connectSocket(b, { token: leaver.accessToken });
    await leaving.acked;
    await expect.poll(() => statusesOf(leaver.id)).toEqual(['ONLINE']);
    await expect.poll(() => slots.results.at(-1)?.data?.connectionSlots.used).toBe(2);

    // The leaver's socket closes on the other instance while the bus is held, then the bus is cut.
    await cutTheBus(async () => {
      await leaving.client.dispose();
      await leaving.closed;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(statusesOf(leaver.id)).toEqual(['ONLINE']);
    });

    await expect.poll(() => statusesOf(leaver.id), { timeout: 10_000 }).toEqual(['ONLINE', 'OFFLINE']);
    await expect.poll(() => slots.results.at(-1)?.data?.connectionSlots.used, { timeout: 10_000 }).toBe(1);
    // Live again: the leaver comes back.
    const back = connectSocket(b, { token: leaver.accessToken });
    await back.acked;
    await expect.poll(() => statusesOf(leaver.id)).toEqual(['ONLINE', 'OFFLINE', 'ONLINE']);
    await Promise.all([watching.client.dispose(), back.client.dispose()]);
  }, 30_000);

  it('a room subscriber that lost access while the bus was cut is told FORBIDDEN once it is back, and gets nothing more', async () => {
    const owner = await signUp(b);
    const member = await signUp(a);
    const room = (await createRoom(b, owner.accessToken)).id;
    await gql(a, JOIN, { id: room }, { token: member.accessToken });
    const socket = connectSocket(a, { token: member.accessToken });
    await socket.acked;
    const messages = collect(socket.client, ROOM_MESSAGES, { id: room });
    await warmUp(b, owner.accessToken, room, () => messages.results.length > 0);

    await cutTheBus(async () => {
      const changed = await gql(b, 'mutation($id: ID!) { updateRoom(id: $id, input: { permission: OWNER_ONLY }) { permission } }', { id: room }, { token: owner.accessToken });
      expect(changed.data.updateRoom.permission).toBe('OWNER_ONLY');
    });

    await expect.poll(() => messages.completed, { timeout: 10_000 }).toBe(true);
    expect(messages.results.at(-1)!.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const seen = messages.results.length;
    await gql(b, SEND, { id: room, body: 'owner only' }, { token: owner.accessToken });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(messages.results.length).toBe(seen);
    await socket.client.dispose();
  }, 30_000);
});
