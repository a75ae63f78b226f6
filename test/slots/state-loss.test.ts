/**
 * Redis losing its state under live instances (SIGKILLed and started again
 * empty, or flushed): every socket stays open, the seat cap holds while
 * new users keep trying to connect, the count is whole again once the
 * instances have put their seats back, and so are presence and the ended
 * sessions, also for an instance started after the loss. Each test runs on
 * a private Redis (ports 7400-7499 are this suite's).
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, closeWithin, collectLive, connectSocket, errorCodes, eventually, gql, startServer, stopAllServers, type TestServer, type TestSocket } from '../helpers/server.ts';
import { signUp, type TestAccount } from '../helpers/accounts.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.ts';
import { Keys } from '../../src/core/codes.ts';

let redis: PrivateRedis | undefined;
afterEach(async () => {
  await stopAllServers();
  await redis?.stop();
});

const CAP = 6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const readyz = async (server: TestServer) => (await fetch(`${server.url}/readyz`)).status;
/** `used` as an instance reports it, or null while it cannot answer. */
const usedOn = async (server: TestServer): Promise<number | null> => {
  const response = await gql(server, '{ connectionSlots { used } }').catch(() => null);
  return response?.data?.connectionSlots?.used ?? null;
};

/** A socket the test opened, and whether it is open now (acknowledged and not closed). */
interface Tracked {
  user: TestAccount;
  socket: TestSocket;
  open: boolean;
  close?: { code: number; reason: string };
}
const track = (server: TestServer, user: TestAccount): Tracked => {
  const tracked: Tracked = { user, socket: connectSocket(server, bearer(user.accessToken)), open: false };
  tracked.socket.acked.then(() => (tracked.open = true), () => {});
  void tracked.socket.closed.then((close) => Object.assign(tracked, { open: false, close }));
  return tracked;
};
/** Waits until the socket was acknowledged or closed. */
const settledSocket = (tracked: Tracked) => tracked.socket.acked.then(() => tracked, () => tracked);

describe('Redis loses its state', () => {
  it(`two instances, all ${CAP} seats taken, Redis SIGKILLed and started empty while new users keep trying: used never passes the cap and matches the open sockets within 2 s of Redis being back`, async () => {
    redis = await startPrivateRedis(7401);
    // Renewals every 3 s: the hold after a loss is 4 s, and a seat count missing the renewals would show within the test.
    const env = { DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url, MAX_CONNECTIONS: String(CAP), SLOT_LEASE_TTL: '9' };
    const [a, b] = await Promise.all([startServer(env), startServer(env)]);
    const users = await Promise.all(Array.from({ length: CAP + 12 }, (_, i) => signUp(i % 2 ? b : a)));
    const seated = users.slice(0, CAP).map((user, i) => track(i % 2 ? b : a, user));
    await Promise.all(seated.map((s) => s.socket.acked));
    const seventh = track(a, users[CAP]!);
    expect((await seventh.socket.closed).code).toBe(4029);

    // Sampled every 100 ms from Redis and from both instances, with the users whose sockets were really open then.
    const probe = new Redis(redis.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 100 });
    probe.on('error', () => {});
    const attempts: Tracked[] = [];
    const samples: { at: number; redis: number | null; a: number | null; b: number | null; open: number }[] = [];
    let sampling = true;
    const openUsers = () => new Set([...seated, ...attempts].filter((t) => t.open).map((t) => t.user.id)).size;
    const sampler = (async () => {
      while (sampling) {
        const open = openUsers();
        const [inRedis, onA, onB] = await Promise.all([probe.zcount(Keys.seats, Date.now(), '+inf').catch(() => null), usedOn(a), usedOn(b)]);
        samples.push({ at: Date.now(), redis: inRedis, a: onA, b: onB, open: Math.max(open, openUsers()) });
        await sleep(100);
      }
    })();

    // A client keeps connecting new users, one at a time, alternating instances: bounded.
    let trying = true;
    const newcomers = users.slice(CAP);
    const connecting = (async () => {
      for (let i = 0; trying && i < 200; i++) {
        attempts.push(await settledSocket(track(i % 2 ? b : a, newcomers[i % newcomers.length]!)));
        await sleep(100);
      }
    })();

    // Clock: some samples and attempts with Redis up, then Redis down for a second.
    await sleep(500);
    await redis.kill();
    await sleep(1000);
    await redis.start();
    const back = Date.now();
    for (const server of [a, b]) await eventually(async () => (await readyz(server)) === 200, 10_000, 'readyz 200 again');
    // Clock: past the hold and past two renewals: a count missing seats would have shown by now.
    await sleep(9000);
    trying = false;
    await connecting;
    sampling = false;
    await sampler;
    probe.disconnect();

    const readings = samples.flatMap((s) => [s.redis, s.a, s.b]).filter((n): n is number => n !== null);
    expect(readings.length).toBeGreaterThan(100);
    expect(Math.max(...readings)).toBeLessThanOrEqual(CAP);
    const late = samples.filter((s) => s.at >= back + 2000);
    expect(late.length).toBeGreaterThan(30);
    for (const s of late) for (const used of [s.redis, s.a, s.b]) if (used !== null) expect({ at: s.at - back, used }).toEqual({ at: s.at - back, used: s.open });
    // Every socket stayed open; every newcomer was told to try again (1013, while Redis was down or the seats were being put back) or that the seats are taken.
    for (const s of seated) expect(s.open).toBe(true);
    expect(attempts.filter((t) => t.open)).toEqual([]);
    expect(new Set(attempts.map((t) => t.close!.code))).toEqual(new Set([1013, 4029]));
    expect(attempts.some((t) => t.close!.code === 1013 && /^recovering: /.test(t.close!.reason))).toBe(true);
    expect(attempts.at(-1)!.close!.code).toBe(4029);

    // Admissions go on: a seat freed is taken by the next user.
    await seated[0]!.socket.client.dispose();
    await eventually(async () => (await usedOn(b)) === CAP - 1, 5000, 'a seat freed');
    const next = track(b, newcomers[0]!);
    await next.socket.acked;
    for (const server of [a, b]) expect(await usedOn(server)).toBe(CAP);
    for (const s of seated.slice(1)) expect(await closeWithin(s.socket, 10)).toBe('still open');
  }, 60_000);

  it('flushed under live instances: presence comes back without anyone shown OFFLINE, and a session ended before stays refused everywhere, also on an instance started after', async () => {
    redis = await startPrivateRedis(7402);
    const env = { DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url, MAX_CONNECTIONS: String(CAP), SLOT_LEASE_TTL: '9' };
    const [a, b] = await Promise.all([startServer(env), startServer(env)]);
    const [watcher, onB, ended] = await Promise.all([signUp(a), signUp(b), signUp(a)]);
    const watching = track(a, watcher);
    const there = track(b, onB);
    await Promise.all([watching.socket.acked, there.socket.acked]);
    const changes = await collectLive<{ presence: { user: { id: string }; status: string } }>(a, watching.socket.client, 'subscription { presence { user { id } status } }');
    const online = async (server: TestServer) => ((await gql(server, '{ onlineUsers { id } }', {}, { token: watcher.accessToken })).data?.onlineUsers ?? []).map((u: { id: string }) => u.id).sort();
    await eventually(async () => JSON.stringify(await online(a)) === JSON.stringify([watcher.id, onB.id].sort()), 5000, 'both online');
    // Ended before the loss, with a socket of its own that the logout closes.
    const endedSocket = track(b, ended);
    await endedSocket.socket.acked;
    expect(errorCodes(await gql(a, 'mutation { logout }', {}, { token: ended.accessToken }))).toEqual([]);
    expect((await endedSocket.socket.closed).code).toBe(4001);
    // Its OFFLINE is the last change before the flush.
    await eventually(() => changes.results.some((r) => r.data?.presence.user.id === ended.id && r.data.presence.status === 'OFFLINE'), 5000, "the ended user's OFFLINE");
    const before = changes.results.length;

    const commands = new Redis(redis.url);
    try {
      await commands.flushall();
      // No connection dropped: each instance notices by itself, and puts back its users and the ended sessions it knows.
      await eventually(async () => JSON.stringify(await online(a)) === JSON.stringify([watcher.id, onB.id].sort()), 2000, 'presence put back');
      const sid = JSON.parse(Buffer.from(ended.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;
      await eventually(async () => (await commands.exists(Keys.revokedSession(sid))) === 1, 2000, 'the ended session recorded again');
    } finally {
      commands.disconnect();
    }
    const c = await startServer(env);
    for (const server of [a, b, c]) {
      expect(errorCodes(await gql(server, '{ me { id } }', {}, { token: ended.accessToken }))).toEqual(['UNAUTHENTICATED']);
      expect((await connectSocket(server, bearer(ended.accessToken)).closed).code).toBe(4403);
    }
    expect(await online(c)).toEqual([watcher.id, onB.id].sort());
    // Nobody was shown leaving: the watcher's presence stream saw no change since the flush but one made now,
    // which comes after any the flush brought (changes are handed out in order: presence/service.ts).
    expect(errorCodes(await gql(a, 'mutation { setPresence(status: AWAY) }', {}, { token: watcher.accessToken }))).toEqual([]);
    await eventually(() => changes.results.length > before, 5000, "the watcher's AWAY");
    expect(changes.results.slice(before)).toEqual([{ data: { presence: { user: { id: watcher.id }, status: 'AWAY' } } }]);
    expect([watching.open, there.open]).toEqual([true, true]);
  }, 60_000);
});
