/**
 * Presence across two instances on one PostgreSQL and one Redis: one event
 * per change (not per instance or socket), AWAY by choice and by idleness,
 * OFFLINE when the last socket closes or its instance dies; a change the
 * bus delivers twice is handed out once.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Channels } from '../../src/infra/codes.ts';
import { collect, connectSocket, errorCodes, eventually, gql, scaledEnv, startServer, stopAllServers, uuidOf, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { flushTestRedis } from '../helpers/redis.ts';
import { startPrivateRedis } from '../helpers/redis-server.ts';

// Presence is cluster-wide: each test starts from an empty Redis with no other instance alive.
beforeEach(() => flushTestRedis());
afterEach(stopAllServers);

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const PRESENCE = 'subscription { presence { user { id username } status at } }';
const quiet = () => new Promise((r) => setTimeout(r, 600));

async function watcher(server: TestServer) {
  const user = await signUp(server);
  const socket = connectSocket(server, bearer(user.accessToken));
  await socket.acked;
  const events = collect(socket.client, PRESENCE);
  await quiet();
  return { user, socket, events, about: (id: string) => events.results.filter((r) => r.data?.presence.user.id === id).map((r) => r.data!.presence.status) };
}

describe('presence', () => {
  it('one ONLINE, one AWAY, one ONLINE, one OFFLINE across two instances and two sockets; onlineUsers agrees everywhere', async () => {
    const env = { ...scaledEnv(), SINGLE_SESSION: 'false' };
    const [a, b] = await Promise.all([startServer(env), startServer(env)]);
    const watch = await watcher(b);
    const user = await signUp(a);

    const first = connectSocket(a, bearer(user.accessToken));
    await first.acked;
    await eventually(() => watch.about(user.id).length === 1, 3000, 'ONLINE');
    const second = connectSocket(b, bearer(user.accessToken));
    await second.acked;
    await quiet();
    expect(watch.about(user.id)).toEqual(['ONLINE']);

    for (const server of [a, b]) {
      const online = await gql(server, '{ onlineUsers { id presence } }', {}, { token: watch.user.accessToken });
      expect(online.data.onlineUsers).toContainEqual({ id: user.id, presence: 'ONLINE' });
    }

    expect((await gql(a, 'mutation { setPresence(status: AWAY) }', {}, { token: user.accessToken })).data).toEqual({ setPresence: 'AWAY' });
    expect((await gql(b, 'mutation { setPresence(status: AWAY) }', {}, { token: user.accessToken })).data).toEqual({ setPresence: 'AWAY' });
    await eventually(() => watch.about(user.id).length === 2, 3000, 'AWAY');
    expect((await gql(b, 'mutation { setPresence(status: ONLINE) }', {}, { token: user.accessToken })).data).toEqual({ setPresence: 'ONLINE' });
    await eventually(() => watch.about(user.id).length === 3, 3000, 'ONLINE again');

    await first.client.dispose();
    await quiet();
    expect(watch.about(user.id)).toEqual(['ONLINE', 'AWAY', 'ONLINE']);
    await second.client.dispose();
    await eventually(() => watch.about(user.id).length === 4, 3000, 'OFFLINE');
    await quiet();
    expect(watch.about(user.id)).toEqual(['ONLINE', 'AWAY', 'ONLINE', 'OFFLINE']);
    const me = await gql(a, '{ me { presence } }', {}, { token: user.accessToken });
    expect(me.data.me.presence).toBe('OFFLINE');
  });

  it('goes AWAY after PRESENCE_AWAY_AFTER without activity, and ONLINE again on activity', async () => {
    const server = await startServer({ ...scaledEnv(), PRESENCE_AWAY_AFTER: '1', PRESENCE_CHECK_INTERVAL: '0.5' });
    const watch = await watcher(server);
    const user = await signUp(server);
    const socket = connectSocket(server, bearer(user.accessToken));
    await socket.acked;
    await eventually(() => watch.about(user.id).join() === 'ONLINE,AWAY', 5000, 'idle AWAY');
    const active = collect(socket.client, 'subscription { connectionSlots { used } }');
    await active.waitFor(1);
    await eventually(() => watch.about(user.id).join() === 'ONLINE,AWAY,ONLINE', 3000, 'ONLINE on activity');
  });

  it('an instance killed with SIGKILL: its users go OFFLINE, once', async () => {
    const env = { ...scaledEnv(), SLOT_LEASE_TTL: '2', PRESENCE_CHECK_INTERVAL: '1' };
    const [survivor, doomed] = await Promise.all([startServer(env), startServer(env)]);
    const watch = await watcher(survivor);
    const user = await signUp(survivor);
    const socket = connectSocket(doomed, bearer(user.accessToken));
    await socket.acked;
    await eventually(() => watch.about(user.id).length === 1, 3000, 'ONLINE');
    await doomed.kill();
    await eventually(() => watch.about(user.id).length === 2, 8000, 'OFFLINE after the lease');
    await new Promise((r) => setTimeout(r, 1500));
    expect(watch.about(user.id)).toEqual(['ONLINE', 'OFFLINE']);
  }, 30_000);

  it('refuses setPresence without a session, OFFLINE as a choice, and onlineUsers and presence without a session', async () => {
    const server = await startServer(scaledEnv());
    const user = await signUp(server);
    expect(errorCodes(await gql(server, 'mutation { setPresence(status: AWAY) }'))).toEqual(['UNAUTHENTICATED']);
    const offline = await gql(server, 'mutation { setPresence(status: OFFLINE) }', {}, { token: user.accessToken });
    expect(errorCodes(offline)).toEqual(['BAD_USER_INPUT']);
    expect(offline.errors![0]!.extensions!.field).toBe('status');
    expect(errorCodes(await gql(server, 'mutation { setPresence(status: BUSY) }', {}, { token: user.accessToken }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await gql(server, '{ onlineUsers { id } }'))).toEqual(['UNAUTHENTICATED']);
    // Not connected: the choice is not stored, the user stays OFFLINE.
    expect((await gql(server, 'mutation { setPresence(status: AWAY) }', {}, { token: user.accessToken })).data).toEqual({ setPresence: 'OFFLINE' });
  });

  it('a change the bus delivers twice (a publish resent after a dropped connection) is handed out once; the next change still is', async () => {
    // A Redis of its own: the copy published below reaches no other suite's instances.
    const redis = await startPrivateRedis();
    const publisher = new Redis(redis.url);
    try {
      const server = await startServer({ ...scaledEnv(), REDIS_URL: redis.url });
      const watch = await watcher(server);
      const user = await signUp(server);
      const socket = connectSocket(server, bearer(user.accessToken));
      await socket.acked;
      await eventually(() => watch.about(user.id).length === 1, 3000, 'ONLINE');
      await gql(server, 'mutation { setPresence(status: AWAY) }', {}, { token: user.accessToken });
      await eventually(() => watch.about(user.id).length === 2, 3000, 'AWAY');
      // The same change once more, as ioredis resending the publish would put it on the bus.
      expect(await publisher.publish(Channels.presenceChanged, JSON.stringify({ userId: uuidOf(user.id), status: 'AWAY', at: new Date().toISOString() }))).toBe(1);
      await quiet();
      expect(watch.about(user.id)).toEqual(['ONLINE', 'AWAY']);
      expect(watch.events.results.every((r) => !r.errors)).toBe(true);
      await gql(server, 'mutation { setPresence(status: ONLINE) }', {}, { token: user.accessToken });
      await eventually(() => watch.about(user.id).length === 3, 3000, 'ONLINE again');
      expect(watch.about(user.id)).toEqual(['ONLINE', 'AWAY', 'ONLINE']);
    } finally {
      publisher.disconnect();
      await stopAllServers();
      await redis.stop();
    }
  });
});

