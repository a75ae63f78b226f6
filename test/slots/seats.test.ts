/**
 * Connection seats across instances sharing one PostgreSQL and one Redis:
 * the licence cap, seats shared by a user's sockets, stolen-token
 * disconnects, a connect storm over three instances, an instance killed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, closeWithin, connectSocket, eventually, gql, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { flushTestRedis } from '../helpers/redis.ts';

// Seats are cluster-wide: each test starts from an empty Redis with no other instance alive.
afterEach(stopAllServers);
beforeEach(() => flushTestRedis());

/** How many sockets the instance has logged as closed (src/realtime/connections.ts). */
const closedLines = (server: TestServer) => server.logs.filter((line) => line.includes('"msg":"socket closed"')).length;
const used = async (server: TestServer) => (await gql(server, '{ connectionSlots { used max available } }')).data.connectionSlots;

describe('seats', () => {
  // Embedded mode runs the seat scripts' JavaScript twins (test/slots/seat-scripts.test.ts), scaled mode their Lua.
  it.each([
    ['scaled', scaledEnv],
    ['embedded', () => ({})],
  ] as const)('%s: five users fill MAX_CONNECTIONS=5, the sixth is refused 4029 "slots"; a stolen token connecting and leaving frees nothing', async (_mode, env) => {
    const server = await startServer({ ...env(), MAX_CONNECTIONS: '5' });
    const users = await Promise.all(Array.from({ length: 6 }, () => signUp(server)));
    const sockets = users.slice(0, 5).map((u) => connectSocket(server, bearer(u.accessToken)));
    await Promise.all(sockets.map((s) => s.acked));
    expect(await used(server)).toEqual({ used: 5, max: 5, available: 0 });

    const sixth = connectSocket(server, bearer(users[5]!.accessToken));
    const refused = await sixth.closed;
    expect(refused.code).toBe(4029);
    expect(refused.reason).toMatch(/slots/);

    // A copy of user 0's token: it shares user 0's seat, and leaving frees nothing.
    const thief = connectSocket(server, bearer(users[0]!.accessToken));
    await thief.acked;
    expect((await used(server)).used).toBe(5);
    const closes = closedLines(server);
    await thief.client.dispose();
    await thief.closed;
    // A seat freed by mistake has no event of its own: a window in which it would show, once the close is handled.
    await eventually(() => closedLines(server) > closes, 5000, 'the close handled');
    await new Promise((r) => setTimeout(r, 300));
    expect(await used(server)).toEqual({ used: 5, max: 5, available: 0 });
    expect(await closeWithin(sockets[0]!, 300)).toBe('still open');
    const stillRefused = connectSocket(server, bearer(users[5]!.accessToken));
    expect((await stillRefused.closed).code).toBe(4029);

    // The victim leaving frees the seat, and the sixth user gets it.
    await sockets[0]!.client.dispose();
    await eventually(async () => (await used(server)).used === 4, 3000, 'seat freed');
    const admitted = connectSocket(server, bearer(users[5]!.accessToken));
    await admitted.acked;
    expect((await used(server)).used).toBe(5);
    // Embedded mode starts PGlite and migrates it: slower to start than a server on PostgreSQL.
  }, 90_000);

  it("a user's sockets share one seat, at most MAX_SOCKETS_PER_USER of them (4029 \"sockets\")", async () => {
    const server = await startServer({ ...scaledEnv(), MAX_SOCKETS_PER_USER: '2' });
    const user = await signUp(server);
    const first = connectSocket(server, bearer(user.accessToken));
    const second = connectSocket(server, bearer(user.accessToken));
    await Promise.all([first.acked, second.acked]);
    expect((await used(server)).used).toBe(1);
    const third = connectSocket(server, bearer(user.accessToken));
    const refused = await third.closed;
    expect(refused.code).toBe(4029);
    expect(refused.reason).toMatch(/sockets/);
    const closes = closedLines(server);
    await first.client.dispose();
    // A seat freed by mistake has no event of its own: a window in which it would show, once the close is handled.
    await eventually(() => closedLines(server) > closes, 5000, 'the close handled');
    await new Promise((r) => setTimeout(r, 300));
    expect((await used(server)).used).toBe(1);
    await second.client.dispose();
    await eventually(async () => (await used(server)).used === 0, 3000, 'seat freed with the last socket');
  });

  it('50 users racing over three instances for 20 seats: exactly 20 admitted, used 20 everywhere, 0 after all close', async () => {
    const env = { ...scaledEnv(), MAX_CONNECTIONS: '20' };
    const instances = await Promise.all([startServer(env), startServer(env), startServer(env)]);
    const users = await Promise.all(Array.from({ length: 50 }, (_, i) => signUp(instances[i % 3]!)));
    const sockets = users.map((u, i) => connectSocket(instances[(i + 1) % 3]!, bearer(u.accessToken)));
    const outcomes = await Promise.all(sockets.map((s) => s.acked.then(() => 'admitted', (e) => `refused ${e.code}`)));
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(20);
    expect(outcomes.filter((o) => o === 'refused 4029')).toHaveLength(30);
    for (const instance of instances) expect((await used(instance)).used).toBe(20);
    await Promise.all(sockets.map((s) => s.client.dispose()));
    for (const instance of instances) await eventually(async () => (await used(instance)).used === 0, 5000, 'all seats free');
  }, 60_000);

  it("an instance killed with SIGKILL: its seats heal within SLOT_LEASE_TTL, the other instance's users keep theirs", async () => {
    const env = { ...scaledEnv(), SLOT_LEASE_TTL: '3', MAX_CONNECTIONS: '2' };
    const [survivor, doomed] = await Promise.all([startServer(env), startServer(env)]);
    const [kept, lost, waiting] = await Promise.all([signUp(survivor), signUp(survivor), signUp(survivor)]);
    const keptSocket = connectSocket(survivor, bearer(kept.accessToken));
    const lostSocket = connectSocket(doomed, bearer(lost.accessToken));
    await Promise.all([keptSocket.acked, lostSocket.acked]);
    expect((await used(survivor)).used).toBe(2);
    expect((await connectSocket(survivor, bearer(waiting.accessToken)).closed).code).toBe(4029);

    await doomed.kill();
    const killedAt = Date.now();
    await eventually(async () => (await used(survivor)).used === 1, 6000, 'the dead instance seat to heal');
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(await closeWithin(keptSocket, 300)).toBe('still open');
    const admitted = connectSocket(survivor, bearer(waiting.accessToken));
    await admitted.acked;
    // Clock: renewals keep the survivor's seats past several lease periods.
    await new Promise((r) => setTimeout(r, 4000));
    expect((await used(survivor)).used).toBe(2);
  }, 40_000);

  it('logout on instance A closes the same session socket on instance B with 4001 within a second', async () => {
    const [a, b] = await Promise.all([startServer(scaledEnv()), startServer(scaledEnv())]);
    const user = await signUp(a);
    const socket = connectSocket(b, bearer(user.accessToken));
    await socket.acked;
    const sent = Date.now();
    await gql(a, 'mutation { logout }', {}, { token: user.accessToken });
    expect((await socket.closed).code).toBe(4001);
    expect(Date.now() - sent).toBeLessThan(1000);
    await eventually(async () => (await used(a)).used === 0, 3000, 'seat freed');
  });
});
