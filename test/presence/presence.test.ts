/**
 * Presence across two instances on one PostgreSQL and one Redis: one event
 * per change (not per instance or socket), AWAY by choice and by idleness,
 * OFFLINE when the last socket closes or its instance dies; a change the
 * bus delivers twice is handed out once, and a copy of an older change
 * arriving after a newer one (or after what an instance read from Redis
 * once its bus was back) is not handed out at all.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Channels, Keys } from '../../src/core/codes.ts';
import { bearer, collect, collectLive, connectSocket, errorCodes, eventually, gql, scaledEnv, startServer, stopAllServers, uuidOf, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { flushTestRedis } from '../helpers/redis.ts';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.ts';
import { startTcpProxy, type ProxiedConnection } from '../helpers/tcp-proxy.ts';
import { createRoom, JOIN } from '../rooms/helpers.ts';

/** The servers the running test started, stopped after it (the shared instance of {@link onPrivateRedis} is not one). */
const ownServers = new Set<TestServer>();
async function start(env: Record<string, string>): Promise<TestServer> {
  const server = await startServer(env);
  ownServers.add(server);
  return server;
}
async function stopOwnServers(): Promise<void> {
  const servers = [...ownServers];
  ownServers.clear();
  await Promise.all(servers.map((server) => server.stop()));
}

// Presence is cluster-wide: each test starts from an empty Redis with no other instance alive on it (on the private one, onPrivateRedis's shared instance alone).
beforeEach(() => flushTestRedis());
afterEach(stopOwnServers);

const PRESENCE = 'subscription { presence { user { id username } status at } }';
const quiet = () => new Promise((r) => setTimeout(r, 600));

async function watcher(server: TestServer) {
  const user = await signUp(server);
  const socket = connectSocket(server, bearer(user.accessToken));
  await socket.acked;
  const events = await collectLive(server, socket.client, PRESENCE);
  return { user, socket, events, about: (id: string) => events.results.filter((r) => r.data?.presence.user.id === id).map((r) => r.data!.presence.status) };
}

/** The presence changes published on the bus of the Redis at `url`, as sent (JSON), from now on. */
async function recordBus(url: string) {
  const subscriber = new Redis(url);
  const sent: string[] = [];
  subscriber.on('message', (_channel: string, message: string) => sent.push(message));
  await subscriber.subscribe(Channels.presenceChanged);
  return {
    /** The message that announced `status` for the user with this global ID. */
    announcing(userId: string, status: string): string {
      const message = sent.find((m) => JSON.parse(m).userId === uuidOf(userId) && JSON.parse(m).status === status);
      if (!message) throw new Error(`no ${status} of ${userId} on the bus: ${sent.join(' ')}`);
      return message;
    },
    stop: () => subscriber.disconnect(),
  };
}

/** The Redis of {@link onPrivateRedis} and the one instance on it that its tests share, started by the first of them. */
let privateRedis: PrivateRedis | undefined;
let sharedInstance: TestServer | undefined;
afterAll(async () => {
  await stopAllServers();
  await privateRedis?.stop();
});

/**
 * Runs `test` on a Redis of this file's own, so that the copies it publishes
 * reach no other suite's instances, with a client to publish on it, its
 * presence changes recorded and `instance`, an instance on it (env
 * `{ ...scaledEnv(), REDIS_URL: redis.url }`) that these tests share: each
 * uses users of its own. Stops the test's other servers and the clients
 * after, so that the next test finds that instance alone on the bus.
 */
async function onPrivateRedis(test: (redis: { redis: PrivateRedis; publisher: Redis; bus: Awaited<ReturnType<typeof recordBus>>; instance: TestServer }) => Promise<void>) {
  privateRedis ??= await startPrivateRedis();
  const redis = privateRedis;
  const publisher = new Redis(redis.url);
  const bus = await recordBus(redis.url);
  try {
    sharedInstance ??= await startServer({ ...scaledEnv(), REDIS_URL: redis.url });
    await test({ redis, publisher, bus, instance: sharedInstance });
  } finally {
    bus.stop();
    publisher.disconnect();
    await stopOwnServers();
  }
}

describe('presence', () => {
  it('one ONLINE, one AWAY, one ONLINE, one OFFLINE across two instances and two sockets; onlineUsers agrees everywhere', async () => {
    const env = { ...scaledEnv(), SINGLE_SESSION: 'false' };
    const [a, b] = await Promise.all([start(env), start(env)]);
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
    const server = await start({ ...scaledEnv(), PRESENCE_AWAY_AFTER: '1', PRESENCE_CHECK_INTERVAL: '0.5' });
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
    const [survivor, doomed] = await Promise.all([start(env), start(env)]);
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
    const server = await start(scaledEnv());
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

  it('a change the bus delivers twice (a publish resent after a dropped connection) is handed out once; the next change still is', () =>
    onPrivateRedis(async ({ publisher, bus, instance: server }) => {
      const watch = await watcher(server);
      const user = await signUp(server);
      const socket = connectSocket(server, bearer(user.accessToken));
      await socket.acked;
      await eventually(() => watch.about(user.id).length === 1, 3000, 'ONLINE');
      await gql(server, 'mutation { setPresence(status: AWAY) }', {}, { token: user.accessToken });
      await eventually(() => watch.about(user.id).length === 2, 3000, 'AWAY');
      // The same change once more, as ioredis resending the publish would put it on the bus.
      expect(await publisher.publish(Channels.presenceChanged, bus.announcing(user.id, 'AWAY'))).toBe(2);
      await quiet();
      expect(watch.about(user.id)).toEqual(['ONLINE', 'AWAY']);
      expect(watch.events.results.every((r) => !r.errors)).toBe(true);
      await gql(server, 'mutation { setPresence(status: ONLINE) }', {}, { token: user.accessToken });
      await eventually(() => watch.about(user.id).length === 3, 3000, 'ONLINE again');
      expect(watch.about(user.id)).toEqual(['ONLINE', 'AWAY', 'ONLINE']);
    }));

  it('a copy of an older change arriving after a newer one (ONLINE, AWAY, then the copy of ONLINE) is not handed out: presence, roomPresence and the status each instance keeps stay AWAY, as in Redis; nor once the user is OFFLINE', () =>
    onPrivateRedis(async ({ redis, publisher, bus, instance: a }) => {
      const b = await start({ ...scaledEnv(), REDIS_URL: redis.url });
      const owner = await signUp(b);
      const user = await signUp(a);
      const room = await createRoom(b, owner.accessToken);
      await gql(a, JOIN, { id: room.id }, { token: user.accessToken });
      // On each instance, the owner watches presence and the room's presence.
      const watching = await Promise.all(
        [a, b].map(async (server) => {
          const socket = connectSocket(server, bearer(owner.accessToken));
          await socket.acked;
          // Both listening before the user connects: the test counts every event each one hands out.
          const presence = await collectLive(server, socket.client, 'subscription { presence { user { id } status } }');
          const inRoom = await collectLive(server, socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } status } }', { id: room.id });
          return {
            presence,
            inRoom,
            statuses: () => presence.results.filter((r) => r.data?.presence.user.id === user.id).map((r) => r.data!.presence.status),
            roomEvents: () =>
              inRoom.results.filter((r) => r.data?.roomPresence.user.id === user.id).map((r) => [r.data!.roomPresence.kind, user.id, r.data!.roomPresence.status]),
          };
        }),
      );
      const socket = connectSocket(a, bearer(user.accessToken));
      await socket.acked;
      await eventually(() => watching.every((w) => w.statuses().length === 1), 3000, 'ONLINE');
      await gql(a, 'mutation { setPresence(status: AWAY) }', {}, { token: user.accessToken });
      await eventually(() => watching.every((w) => w.statuses().length === 2), 3000, 'AWAY');

      // The ONLINE once more, after the AWAY: what ioredis resending that publish after a reconnect puts on the bus.
      expect(await publisher.publish(Channels.presenceChanged, bus.announcing(user.id, 'ONLINE'))).toBe(3);
      await quiet();
      for (const w of watching) {
        expect(w.statuses()).toEqual(['ONLINE', 'AWAY']);
        expect(w.roomEvents()).toEqual([
          ['STATUS', user.id, 'ONLINE'],
          ['STATUS', user.id, 'AWAY'],
        ]);
      }
      expect(await publisher.hget(Keys.presence, uuidOf(user.id))).toBe('AWAY');
      for (const server of [a, b]) expect((await gql(server, '{ me { presence } }', {}, { token: user.accessToken })).data.me.presence).toBe('AWAY');
      // A LEFT shows the status its instance keeps for the user (as does a JOINED).
      await gql(a, 'mutation($id: ID!) { leaveRoom(roomId: $id) }', { id: room.id }, { token: user.accessToken });
      await eventually(() => watching.every((w) => w.roomEvents().length === 3), 3000, 'LEFT');
      for (const w of watching) expect(w.roomEvents()[2]).toEqual(['LEFT', user.id, 'AWAY']);

      // The next change is handed out as ever.
      await gql(a, 'mutation { setPresence(status: ONLINE) }', {}, { token: user.accessToken });
      await eventually(() => watching.every((w) => w.statuses().length === 3), 3000, 'ONLINE again');
      await quiet();
      for (const w of watching) expect(w.statuses()).toEqual(['ONLINE', 'AWAY', 'ONLINE']);

      // Also once the user is OFFLINE, a copy of an older change is not handed out.
      await socket.client.dispose();
      await eventually(() => watching.every((w) => w.statuses().length === 4), 3000, 'OFFLINE');
      expect(await publisher.publish(Channels.presenceChanged, bus.announcing(user.id, 'ONLINE'))).toBe(3);
      await quiet();
      for (const w of watching) {
        expect(w.statuses()).toEqual(['ONLINE', 'AWAY', 'ONLINE', 'OFFLINE']);
        expect([...w.presence.results, ...w.inRoom.results].filter((r) => r.errors)).toEqual([]);
      }
      expect(await publisher.hget(Keys.presence, uuidOf(user.id))).toBeNull();
    }));

  it('after a bus outage, the statuses read from Redis count as the last change they reflect: a late copy of a change made during the outage is not handed out after them', () =>
    onPrivateRedis(async ({ redis, publisher, bus, instance: other }) => {
      // The watched instance reaches Redis through a proxy that can cut its bus (its subscriber connection).
      const subscribers = new Set<ProxiedConnection>();
      const proxy = await startTcpProxy(redis.url, {
        watch: (connection) => (chunk) => {
          if (chunk.toString().toUpperCase().includes('SUBSCRIBE')) subscribers.add(connection);
        },
      });
      try {
        const watched = await start({ ...scaledEnv(), REDIS_URL: proxy.via(redis.url) });
        const watch = await watcher(watched);
        const user = await signUp(other);
        const socket = connectSocket(other, bearer(user.accessToken));
        await socket.acked;
        await eventually(() => watch.about(user.id).length === 1, 3000, 'ONLINE');

        // AWAY, then OFFLINE, while what Redis sends the watched instance's bus is held; then that connection is cut.
        for (const connection of subscribers) connection.held = true;
        await gql(other, 'mutation { setPresence(status: AWAY) }', {}, { token: user.accessToken });
        await socket.client.dispose();
        await eventually(async () => (await publisher.hget(Keys.presence, uuidOf(user.id))) === null, 3000, 'OFFLINE in Redis');
        for (const connection of subscribers) connection.drop();
        subscribers.clear();
        await eventually(() => watch.about(user.id).length === 2, 10_000, 'OFFLINE read from Redis once the bus is back');
        expect(watch.about(user.id)).toEqual(['ONLINE', 'OFFLINE']);

        // The AWAY once more, as a publish resent late would bring it: older than what was read.
        expect(await publisher.publish(Channels.presenceChanged, bus.announcing(user.id, 'AWAY'))).toBe(3);
        await quiet();
        expect(watch.about(user.id)).toEqual(['ONLINE', 'OFFLINE']);
        expect(watch.events.results.filter((r) => r.errors)).toEqual([]);
      } finally {
        await stopOwnServers();
        await proxy.stop();
      }
    }), 30_000);
});

