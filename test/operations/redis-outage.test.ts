/**
 * Redis stopped mid-traffic and started again, with live messages: two
 * instances, subscribers on both, sends before, during and after the
 * outage. Every message the API reported stored is delivered exactly once,
 * in order, to each subscriber once it resumes from its last cursor; what
 * PostgreSQL holds is what was delivered; seats are right afterwards.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, errorCodes, eventually, gql, seatsUsed, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.ts';
import { JOIN, SEND, createRoom, storeUnannounced, storedMessages } from '../rooms/helpers.ts';
import { Keys } from '../../src/core/codes.ts';

const ROOM_MESSAGES = 'subscription($id: ID!, $after: String) { roomMessages(roomId: $id, after: $after) { body cursor } }';
type Delivered = { body: string; cursor: string };

let redis: PrivateRedis | undefined;
afterAll(async () => {
  await stopAllServers();
  await redis?.stop();
});

const readyz = async (server: TestServer) => (await fetch(`${server.url}/readyz`)).status;

/**
 * A socket once admitted: a Redis that came back empty holds admissions (1013) until every instance has put its seats
 * back (slots/recovery.ts), and a client tries again. Bounded.
 */
async function connectOnceAdmitted(server: TestServer, params: Record<string, unknown>) {
  for (let attempt = 1; ; attempt++) {
    const socket = connectSocket(server, params);
    try {
      await socket.acked;
      return socket;
    } catch (error) {
      if ((error as { code?: number }).code !== 1013 || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const storedBodies = async (roomId: string) => (await storedMessages(roomId)).map((m) => m.body);

describe('Redis outage with live messages', () => {
  it('loses nothing: subscribers resumed from their cursors get exactly what was stored, in order; seats are right', async () => {
    redis = await startPrivateRedis();
    // Short leases: admissions are held for one renewal interval (2 s) after Redis comes back empty.
    const env = { DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url, MESSAGE_RATE_PER_USER: '10000', MESSAGE_RATE_PER_ROOM: '10000', SLOT_LEASE_TTL: '6' };
    const [a, b] = await Promise.all([startServer(env), startServer(env)]);
    const [alice, bob] = await Promise.all([signUp(a), signUp(a)]);
    const roomId = (await createRoom(a, alice.accessToken)).id;
    await gql(a, JOIN, { id: roomId }, { token: bob.accessToken });

    // Bob listens on both instances; each subscriber's deliveries, across its resumptions.
    const subscribers = [a, b].map((server) => {
      const socket = connectSocket(server, { token: bob.accessToken });
      return { server, socket, stream: collect<{ roomMessages: Delivered }>(socket.client, ROOM_MESSAGES, { id: roomId }), delivered: [] as Delivered[] };
    });
    const send = (server: TestServer, body: string) => gql(server, SEND, { id: roomId, body }, { token: alice.accessToken });
    let warmUps = 0;
    await eventually(async () => {
      await send(a, `warm-up ${warmUps++}`);
      return subscribers.every((s) => s.stream.results.length > 0);
    }, 10_000, 'both subscribers live');

    for (let i = 0; i < 10; i++) expect(errorCodes(await send(i % 2 ? b : a, `before ${i}`))).toEqual([]);

    await redis.stop();
    for (const server of [a, b]) await eventually(async () => (await readyz(server)) === 503, 10_000, 'readyz 503');
    // During the outage a send either is stored or is refused with a documented, clear error.
    for (let i = 0; i < 5; i++) {
      const response = await send(a, `during ${i}`);
      if (response.errors) {
        expect(errorCodes(response)).toEqual(['INTERNAL_SERVER_ERROR']);
        expect(response.errors[0]!.extensions).toMatchObject({ unavailable: 'redis' });
        expect(JSON.stringify(response.errors)).not.toMatch(/\n\s+at |node_modules/);
      }
    }
    await redis.start();
    for (const server of [a, b]) await eventually(async () => (await readyz(server)) === 200, 15_000, 'readyz 200 again');

    // Each subscriber resumes from the last cursor it saw, on a fresh socket to the same instance.
    for (const subscriber of subscribers) {
      subscriber.stream.unsubscribe();
      subscriber.delivered.push(...subscriber.stream.results.map((r) => r.data!.roomMessages));
      subscriber.socket.client.terminate();
      subscriber.socket = await connectOnceAdmitted(subscriber.server, { token: bob.accessToken });
      subscriber.stream = collect(subscriber.socket.client, ROOM_MESSAGES, { id: roomId, after: subscriber.delivered.at(-1)!.cursor });
    }
    for (let i = 0; i < 10; i++) {
      await eventually(async () => errorCodes(await send(i % 2 ? a : b, `after ${i}`)).length === 0, 10_000, `after ${i} stored`);
    }

    const stored = await storedBodies(roomId);
    expect(stored.filter((body) => body.startsWith('before'))).toHaveLength(10);
    expect(stored.filter((body) => body.startsWith('after'))).toHaveLength(10);
    for (const subscriber of subscribers) {
      await eventually(() => subscriber.stream.results.some((r) => r.data?.roomMessages.body === 'after 9'), 10_000, 'all delivered');
      const bodies = [...subscriber.delivered, ...subscriber.stream.results.map((r) => r.data!.roomMessages)].map((m) => m.body);
      // From the first message it saw (warm-ups sent before it was live are not its).
      expect(bodies).toEqual(stored.slice(stored.indexOf(bodies[0]!)));
    }

    // One user on two sockets holds one seat, on both instances' count; none once they close.
    for (const server of [a, b]) await eventually(async () => (await seatsUsed(server)) === 1, 10_000, 'one seat');
    for (const subscriber of subscribers) subscriber.socket.client.terminate();
    for (const server of [a, b]) await eventually(async () => (await seatsUsed(server)) === 0, 10_000, 'no seat');
    for (const server of [a, b]) {
      expect(server.process.exitCode).toBeNull();
      expect(server.logs.join('\n')).not.toMatch(/unhandled rejection|uncaught/i);
    }
  });

  it('a message stored while the bus was down reaches subscribers that stayed connected once it is back, without waiting for the next one', async () => {
    await redis?.stop();
    await stopAllServers();
    redis = await startPrivateRedis();
    const server = await startServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url });
    const [alice, bob] = await Promise.all([signUp(server), signUp(server)]);
    const roomId = (await createRoom(server, alice.accessToken)).id;
    await gql(server, JOIN, { id: roomId }, { token: bob.accessToken });
    const socket = connectSocket(server, { token: bob.accessToken });
    const stream = collect<{ roomMessages: Delivered }>(socket.client, ROOM_MESSAGES, { id: roomId });
    await eventually(async () => {
      await gql(server, SEND, { id: roomId, body: 'warm-up' }, { token: alice.accessToken });
      return stream.results.length > 0;
    }, 10_000, 'subscriber live');

    await redis.stop();
    await eventually(async () => (await readyz(server)) === 503, 10_000, 'readyz 503');
    // What a send leaves behind when Redis goes away between its commit and its publish.
    await storeUnannounced(roomId, alice.id, 'stored during the outage');
    await redis.start();
    await eventually(() => stream.results.some((r) => r.data?.roomMessages.body === 'stored during the outage'), 15_000, 'the stored message delivered');
    expect(stream.results.map((r) => r.data?.roomMessages.body).filter((b) => b === 'stored during the outage')).toHaveLength(1);
    expect(stream.completed).toBe(false);
    socket.client.terminate();
  });

  it('a session ended while the bus missed it: once the bus is back, every instance refuses its token and closes its sockets with 4001', async () => {
    await redis?.stop();
    await stopAllServers();
    redis = await startPrivateRedis();
    const server = await startServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url });
    const carol = await signUp(server);
    const socket = connectSocket(server, { token: carol.accessToken });
    await socket.acked;
    const sessionId = JSON.parse(Buffer.from(carol.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;

    // What another instance leaves when it ends a session while this one's subscriber connection is down:
    // the record in shared state, and a bus message this instance never hears.
    const commands = new Redis(redis.url);
    try {
      await commands.set(Keys.revokedSession(sessionId), 'logout', 'EX', 60);
      expect((await gql(server, '{ me { username } }', undefined, { token: carol.accessToken })).data).toEqual({ me: { username: carol.username } });
      await commands.client('KILL', 'TYPE', 'pubsub');
    } finally {
      commands.disconnect();
    }
    expect((await socket.closed).code).toBe(4001);
    expect(errorCodes(await gql(server, '{ me { username } }', undefined, { token: carol.accessToken }))).toEqual(['UNAUTHENTICATED']);
  });
});
