/**
 * Presence changes and seat counts announced while an instance's bus was
 * down reach its subscribers once the bus is back. Two instances reach Redis
 * through a proxy; the subscriber connections are held while a user leaves
 * on the other instance, then cut, so what Redis sent them is lost and
 * ioredis connects and subscribes again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { flushTestRedis } from '../helpers/redis.ts';
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

    // The bus goes quiet, the leaver's socket closes on the other instance, then the quiet connections drop.
    for (const connection of subscribers) connection.held = true;
    await leaving.client.dispose();
    await leaving.closed;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(statusesOf(leaver.id)).toEqual(['ONLINE']);
    for (const connection of [...subscribers]) {
      subscribers.delete(connection);
      connection.drop();
    }

    await expect.poll(() => statusesOf(leaver.id), { timeout: 10_000 }).toEqual(['ONLINE', 'OFFLINE']);
    await expect.poll(() => slots.results.at(-1)?.data?.connectionSlots.used, { timeout: 10_000 }).toBe(1);
    // Live again: the leaver comes back.
    const back = connectSocket(b, { token: leaver.accessToken });
    await back.acked;
    await expect.poll(() => statusesOf(leaver.id)).toEqual(['ONLINE', 'OFFLINE', 'ONLINE']);
    await Promise.all([watching.client.dispose(), back.client.dispose()]);
  }, 30_000);
});
