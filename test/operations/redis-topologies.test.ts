/**
 * The cross-instance guarantees on each Redis setup a server can be given:
 * one node (REDIS_URL) and a three-primary Cluster (REDIS_CLUSTER_NODES),
 * each started by this suite on loopback. Two instances share seats,
 * revocations, presence, a room's live messages (replayed from a cursor on
 * the other instance) and idempotent sends. On the Cluster, a room's
 * channel is a sharded one (SSUBSCRIBE), held by the shard that owns it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../helpers/accounts.ts';
import { Channels } from '../../src/core/codes.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { startPrivateRedis } from '../helpers/redis-server.ts';
import { startRedisCluster } from '../helpers/redis-topology.ts';
import { bearer, collect, collectLive, connectSocket, errorCodes, eventually, gql, seatsUsed, startServer, stopAllServers, uuidOf, type TestServer } from '../helpers/server.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND, untilAlone, warmUp } from '../rooms/helpers.ts';
import { redisTopology, loadConfig } from '../../src/core/config.ts';
import { createRedis } from '../../src/adapters/redis.ts';
import { createRedisState } from '../../src/adapters/state.ts';
import { createLogger } from '../../src/core/logger.ts';

const ME = '{ me { id } }';
const PRESENCE = 'subscription { presence { user { id } status } }';

interface Topology {
  env: Record<string, string | undefined>;
  /** Ports of the nodes that hold data (the primaries). */
  ports: number[];
  stop(): Promise<void>;
}

const topologies: [string, () => Promise<Topology>][] = [
  [
    'one Redis node',
    async () => {
      const redis = await startPrivateRedis();
      return { env: { REDIS_URL: redis.url }, ports: [redis.port], stop: () => redis.stop() };
    },
  ],
  [
    'a Redis Cluster of three primaries',
    async () => {
      const cluster = await startRedisCluster();
      return { env: { ...cluster.env, REDIS_URL: undefined }, ports: cluster.ports, stop: () => cluster.stop() };
    },
  ],
];

/** One command to each node; their answers. */
async function askEach(ports: number[], ...command: string[]): Promise<unknown[]> {
  return Promise.all(
    ports.map(async (port) => {
      const redis = new Redis({ port, host: '127.0.0.1' });
      try {
        return await redis.call(command[0]!, ...command.slice(1));
      } finally {
        redis.disconnect();
      }
    }),
  );
}

describe.each(topologies)('two instances on %s', (_name, start) => {
  let topology: Topology;
  let a: TestServer;
  let b: TestServer;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    topology = await start();
    env = { DATABASE_URL: testDatabaseUrl, ...topology.env, MAX_CONNECTIONS: '4', MESSAGE_RATE_PER_USER: '1000', MESSAGE_RATE_PER_ROOM: '1000' };
    [a, b] = await Promise.all([startServer(env), startServer(env)]);
  }, 90_000);
  afterAll(async () => {
    await stopAllServers();
    await topology?.stop();
  });

  it('the shared state finds every key of a prefix (revocations), wherever their slots put them', async () => {
    const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
    const state = createRedisState(createRedis(redisTopology(config)!, 'commands', createLogger(config)));
    try {
      await expect.poll(() => state.ping()).toBe(true);
      const keys = Array.from({ length: 30 }, (_, i) => `sb:test-prefix:${i}`);
      await Promise.all(keys.map((key) => state.set(key, 'x', 60)));
      expect((await state.keysWithPrefix('sb:test-prefix:')).sort()).toEqual([...keys].sort());
      // On the Cluster, they are spread over its primaries.
      const perNode = await askEach(topology.ports, 'DBSIZE');
      expect(perNode.filter((n) => Number(n) > 0)).toHaveLength(topology.ports.length);
    } finally {
      await state.close();
    }
  });

  it('8 users racing over both instances for 4 seats: exactly 4 admitted, 4 used on both, 0 after all close', async () => {
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => signUp(i % 2 ? a : b)));
    const sockets = users.map((u, i) => connectSocket(i % 2 ? b : a, bearer(u.accessToken)));
    const outcomes = await Promise.all(sockets.map((s) => s.acked.then(() => 'admitted', (e) => `refused ${e.code}`)));
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'refused 4029')).toHaveLength(4);
    expect([await seatsUsed(a), await seatsUsed(b)]).toEqual([4, 4]);
    await Promise.all(sockets.map((s) => s.client.dispose()));
    for (const server of [a, b]) await eventually(async () => (await seatsUsed(server)) === 0, 5000, 'all seats free');
  }, 60_000);

  it('logout on A closes the session socket on B (4001) and B refuses its token; an instance started later refuses it too', async () => {
    const user = await signUp(a);
    const socket = connectSocket(b, bearer(user.accessToken));
    await socket.acked;
    await gql(a, 'mutation { logout }', {}, { token: user.accessToken });
    expect((await socket.closed).code).toBe(4001);
    expect(errorCodes(await gql(b, ME, {}, { token: user.accessToken }))).toEqual(['UNAUTHENTICATED']);
    const late = await startServer(env);
    expect(errorCodes(await gql(late, ME, {}, { token: user.accessToken }))).toEqual(['UNAUTHENTICATED']);
    await late.stop();
    await eventually(async () => (await seatsUsed(a)) === 0, 5000, 'the seat freed');
  }, 60_000);

  it('a user connecting on B and leaving: a presence subscriber on A sees ONLINE once, then OFFLINE once', async () => {
    const [watcher, user] = await Promise.all([signUp(a), signUp(b)]);
    const watching = connectSocket(a, bearer(watcher.accessToken));
    await watching.acked;
    const events = collect(watching.client, PRESENCE);
    const about = () => events.results.filter((r) => r.data?.presence.user.id === user.id).map((r) => r.data!.presence.status);
    // The subscription is live once it hears the watcher's own change; the watcher connected before it, so make one.
    await expect
      .poll(async () => {
        await gql(a, 'mutation($s: PresenceStatus!) { setPresence(status: $s) }', { s: 'AWAY' }, { token: watcher.accessToken });
        await gql(a, 'mutation($s: PresenceStatus!) { setPresence(status: $s) }', { s: 'ONLINE' }, { token: watcher.accessToken });
        return events.results.length > 0;
      })
      .toBe(true);
    const socket = connectSocket(b, bearer(user.accessToken));
    await socket.acked;
    await expect.poll(about).toEqual(['ONLINE']);
    await socket.client.dispose();
    await expect.poll(about).toEqual(['ONLINE', 'OFFLINE']);
    await new Promise((r) => setTimeout(r, 300));
    expect(about()).toEqual(['ONLINE', 'OFFLINE']);
    await watching.client.dispose();
  }, 60_000);

  it("a room's messages sent on A reach B's subscriber once each, a resend with the same idempotencyKey on B stores nothing, and a subscriber on B replays from a cursor", async () => {
    const [owner, member] = await Promise.all([signUp(a), signUp(a)]);
    const room = (await createRoom(a, owner.accessToken)).id;
    await gql(a, JOIN, { id: room }, { token: member.accessToken });
    const socket = connectSocket(b, bearer(member.accessToken));
    await socket.acked;
    const live = collect(socket.client, ROOM_MESSAGES, { id: room });
    await warmUp(a, owner.accessToken, room, () => live.results.length > 0);

    // B listens to the room on the shard that owns its channel (sharded pub/sub) on a Cluster, on the node else.
    const channel = Channels.roomEvents(uuidOf(room));
    const sharded = (await askEach(topology.ports, 'PUBSUB', 'SHARDCHANNELS', channel)).flat();
    const plain = (await askEach(topology.ports, 'PUBSUB', 'CHANNELS', channel)).flat();
    if (topology.ports.length > 1) expect({ sharded, plain }).toEqual({ sharded: [channel], plain: [] });
    else expect({ sharded, plain }).toEqual({ sharded: [], plain: [channel] });

    const send = (server: TestServer, body: string, key: string) => gql(server, SEND, { id: room, body, key }, { token: owner.accessToken });
    const sent = [];
    for (const n of [1, 2, 3]) sent.push((await send(a, `m${n}`, `key-${n}`)).data.sendMessage);
    const resent = (await send(b, 'm2', 'key-2')).data.sendMessage;
    expect(resent.id).toBe(sent[1].id);

    const bodies = () => live.results.map((r) => r.data.roomMessages.body).filter((body) => body !== 'warm-up');
    await expect.poll(bodies).toEqual(['m1', 'm2', 'm3']);
    await new Promise((r) => setTimeout(r, 300));
    expect(bodies()).toEqual(['m1', 'm2', 'm3']);

    const replay = collect(socket.client, ROOM_MESSAGES, { id: room, after: sent[0].cursor });
    await replay.waitFor(2);
    await send(a, 'm4', 'key-4');
    await replay.waitFor(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(replay.results.map((r) => r.data.roomMessages.body)).toEqual(['m2', 'm3', 'm4']);
    await socket.client.dispose();
  }, 60_000);

  it("a room only A listens to: once Redis's count of receivers says so, A publishes its messages no more; once B listens, they reach B", async () => {
    const owner = await signUp(a);
    const room = (await createRoom(a, owner.accessToken)).id;
    const onA = connectSocket(a, bearer(owner.accessToken));
    await onA.acked;
    await collectLive(a, onA.client, ROOM_MESSAGES, { id: room });
    // On the Cluster, the count is SPUBLISH's, from the shard that owns the room's channel.
    await untilAlone(a, owner.accessToken, room);
    const onB = connectSocket(b, bearer(owner.accessToken));
    await onB.acked;
    const there = await collectLive(b, onB.client, ROOM_MESSAGES, { id: room });
    await gql(a, SEND, { id: room, body: 'heard on B' }, { token: owner.accessToken });
    await expect.poll(() => there.results.map((r) => r.data.roomMessages.body)).toEqual(['heard on B']);
    await Promise.all([onA.client.dispose(), onB.client.dispose()]);
  }, 60_000);
});
