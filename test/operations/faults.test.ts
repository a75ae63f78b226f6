/**
 * Faults: an unexpected internal error is masked (no stack, SQL or path;
 * a request id that is in the log); PostgreSQL unreachable and Redis
 * stopped mid-traffic give clear, fast errors, /readyz 503, no crash and no
 * unhandled rejection, and everything recovers by itself when they return;
 * so do Redis and PostgreSQL frozen (connected, answering nothing), once a
 * command or statement has waited out its timeout;
 * a statement whose connection PostgreSQL terminates (57P01) gets the same
 * clear error; a room's change during a database blip does not end its
 * subscriptions, and presence changes during one are handed out once it
 * is over (one whose user stays unreadable past the last retry is dropped,
 * and the next ones still come).
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { applyMigrations } from '../../src/adapters/migrations.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, errorCodes, eventually, gql, startServer, stopAllServers, uniqueName, uuidOf, sharedServer, type TestServer } from '../helpers/server.ts';
import { LOGIN, REGISTER, logIn, signUp } from '../helpers/accounts.ts';
import { admin, testDatabaseUrl } from '../helpers/env.ts';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.ts';
import { startTcpProxy, type ProxiedConnection, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { createRoom, JOIN, memberWatching, ROOM_MESSAGES, SEND, storedMessages } from '../rooms/helpers.ts';

const brokenDatabase = `switchboard_broken_${process.pid}`;
const brokenUrl = Object.assign(new URL(testDatabaseUrl), { pathname: `/${brokenDatabase}` }).toString();

let redis: PrivateRedis | undefined;
afterAll(async () => {
  await stopAllServers();
  await redis?.stop();
  await admin(`DROP DATABASE IF EXISTS "${brokenDatabase}" WITH (FORCE)`);
});

const readyz = async (server: TestServer) => (await fetch(`${server.url}/readyz`)).status;
const survived = (server: TestServer) => {
  expect(server.process.exitCode).toBeNull();
  expect(server.logs.join('\n')).not.toMatch(/unhandled rejection|uncaught/i);
};
const register = (server: TestServer, username = uniqueName('f')) =>
  gql(server, REGISTER, { input: { username, email: `${username}@example.test`, password: 'fault-password-1' } });

describe('error masking', () => {
  it('masks an unexpected error: no stack, SQL or path, and a request id that the log carries', async () => {
    // A database of our own whose User table vanishes under the running server:
    // registering then fails in a way no client may see.
    await admin(`DROP DATABASE IF EXISTS "${brokenDatabase}" WITH (FORCE)`);
    await admin(`CREATE DATABASE "${brokenDatabase}"`);
    await applyMigrations(new PrismaPg({ connectionString: brokenUrl }));
    redis = await startPrivateRedis();
    const server = await startServer({ DATABASE_URL: brokenUrl, REDIS_URL: redis.url });
    await admin('ALTER TABLE "User" RENAME TO "UserGone"', brokenUrl);
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'masking-test-1' },
      body: JSON.stringify({ query: REGISTER, variables: { input: { username: uniqueName('m'), email: 'm@example.test', password: 'secret-password-9' } } }),
    });
    const text = await response.text();
    const body = JSON.parse(text);
    expect(body.errors).toEqual([{ message: 'Internal server error.', path: ['register'], extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'masking-test-1' } }]);
    expect(text).not.toMatch(/prisma|select|insert|table|relation|\.ts|node_modules|\bat\b|P20\d\d|secret-password/i);
    expect(response.headers.get('x-request-id')).toBe('masking-test-1');
    await eventually(() => server.logs.some((l) => l.includes('"requestId":"masking-test-1"') && l.includes('internal error')), 5000, 'the log line');
    // The log has the detail; it never has the password.
    expect(server.logs.join('\n')).not.toContain('secret-password-9');
    survived(server);
  });
});

describe('PostgreSQL unreachable', () => {
  it('fails operations fast with a clear error, /readyz 503, /healthz 200, no crash', async () => {
    redis ??= await startPrivateRedis();
    const server = await startServer({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nothing', REDIS_URL: redis.url });
    const response = await register(server);
    expect(errorCodes(response)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(response.errors![0]).toMatchObject({ message: 'Service temporarily unavailable; try again shortly.', extensions: { unavailable: 'database', requestId: expect.any(String) } });
    expect(await readyz(server)).toBe(503);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    survived(server);
  });
});

describe('PostgreSQL going down mid-traffic and coming back', () => {
  it('answers clearly while it is down and recovers by itself', async () => {
    redis ??= await startPrivateRedis();
    const proxy = await startTcpProxy(testDatabaseUrl);
    try {
      const server = await startServer({ DATABASE_URL: proxy.via(testDatabaseUrl), REDIS_URL: redis.url });
      const account = await signUp(server);
      expect((await gql(server, '{ me { username } }', undefined, { token: account.accessToken })).data).toEqual({ me: { username: account.username } });
      const room = (await createRoom(server, account.accessToken)).id;
      const socket = connectSocket(server, { token: account.accessToken });
      await socket.acked;

      await proxy.stop();
      await eventually(async () => (await readyz(server)) === 503, 10_000, 'readyz 503');
      const refused = await register(server);
      expect(errorCodes(refused)).toEqual(['INTERNAL_SERVER_ERROR']);
      expect(refused.errors![0]!.extensions).toMatchObject({ unavailable: 'database' });
      // The send path's statements go to the driver directly: the same answer.
      const unsent = await gql(server, SEND, { id: room, body: 'while the database is down' }, { token: account.accessToken });
      expect(unsent.errors).toEqual([{ message: 'Service temporarily unavailable; try again shortly.', path: ['sendMessage'], extensions: { code: 'INTERNAL_SERVER_ERROR', unavailable: 'database', requestId: expect.any(String) } }]);
      // Over WebSocket, a mutation's and a subscription's failures alike name the connection, as its log lines do.
      const unsentOverSocket = collect(socket.client, SEND, { id: room, body: 'over the socket while it is down' });
      const unsubscribed = collect(socket.client, ROOM_MESSAGES, { id: room });
      await Promise.all([unsentOverSocket.done, unsubscribed.done]);
      const unavailable = { message: 'Service temporarily unavailable; try again shortly.', extensions: { code: 'INTERNAL_SERVER_ERROR', unavailable: 'database', requestId: expect.any(String) } };
      expect(unsentOverSocket.results).toEqual([{ data: null, errors: [{ ...unavailable, path: ['sendMessage'] }] }]);
      expect(unsubscribed.results).toEqual([{ errors: [expect.objectContaining(unavailable)] }]);
      const connectionId = unsentOverSocket.results[0]!.errors![0].extensions.requestId;
      expect(unsubscribed.results[0]!.errors![0].extensions.requestId).toBe(connectionId);
      expect(connectionId).not.toBe(unsent.errors![0]!.extensions!.requestId);
      const connectionLines = () => server.logs.filter((line) => line.includes(`"requestId":"${connectionId}"`) && line.includes('service unavailable'));
      await eventually(() => connectionLines().length >= 2, 5000, "both log lines naming the connection");
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      await proxy.start();
      await eventually(async () => (await readyz(server)) === 200, 15_000, 'readyz 200 again');
      await eventually(async () => errorCodes(await register(server)).length === 0, 15_000, 'register works again');
      expect((await gql(server, SEND, { id: room, body: 'back' }, { token: account.accessToken })).data.sendMessage.body).toBe('back');
      expect((await gql(server, '{ me { username } }', undefined, { token: account.accessToken })).data).toEqual({ me: { username: account.username } });
      survived(server);
    } finally {
      await proxy.stop();
    }
  });
});

describe('PostgreSQL frozen: connected, answering nothing', () => {
  it('readiness says the database is down and requests are refused as unavailable once a statement or a connection has waited out its timeout, instead of hanging; all works again once it answers', async () => {
    redis ??= await startPrivateRedis();
    // Every connection through the proxy, those opened while frozen too, then hears and answers nothing.
    let frozen = false;
    const connections = new Set<ProxiedConnection>();
    const proxy = await startTcpProxy(testDatabaseUrl, { watch: (connection) => (connections.add(connection), Object.assign(connection, { held: frozen, frozen }), () => {}) });
    try {
      const server = await startServer({ DATABASE_URL: proxy.via(testDatabaseUrl), REDIS_URL: redis.url });
      const account = await signUp(server);
      const room = (await createRoom(server, account.accessToken)).id;
      frozen = true;
      for (const connection of connections) Object.assign(connection, { held: true, frozen: true });
      const [ready, unsent, unregistered] = await Promise.all([readyz(server), gql(server, SEND, { id: room, body: 'while frozen' }, { token: account.accessToken }), register(server)]);
      expect(ready).toBe(503);
      for (const refused of [unsent, unregistered]) {
        expect(errorCodes(refused)).toEqual(['INTERNAL_SERVER_ERROR']);
        expect(refused.errors![0]!.extensions).toMatchObject({ unavailable: 'database' });
      }

      frozen = false;
      proxy.release();
      await eventually(async () => (await readyz(server)) === 200, 15_000, 'readyz 200 again');
      await eventually(async () => errorCodes(await gql(server, SEND, { id: room, body: 'after' }, { token: account.accessToken })).length === 0, 15_000, 'a send works again');
      survived(server);
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});

describe('a connection PostgreSQL terminates in the middle of a statement (an administrator, a failover)', () => {
  it('gets the clear database error (57P01), stores nothing, and the next send works', async () => {
    redis ??= await startPrivateRedis();
    const server = await startServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url });
    const account = await signUp(server);
    const room = (await createRoom(server, account.accessToken)).id;
    // Another transaction holds the room's row: the send's numbering waits on it.
    const locker = new pg.Client({ connectionString: testDatabaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM "Room" WHERE id = $1 FOR UPDATE', [uuidOf(room)]);
      const sending = gql(server, SEND, { id: room, body: 'terminated' }, { token: account.accessToken });
      let waiting: number | undefined;
      await eventually(async () => {
        const { rows } = await locker.query('SELECT pid FROM pg_stat_activity WHERE pg_blocking_pids(pid) @> ARRAY[pg_backend_pid()]');
        waiting = rows[0]?.pid;
        return waiting !== undefined;
      }, 5000, 'the send waiting on the lock');
      await locker.query('SELECT pg_terminate_backend($1)', [waiting]);
      const refused = await sending;
      expect(refused.errors).toEqual([{ message: 'Service temporarily unavailable; try again shortly.', path: ['sendMessage'], extensions: { code: 'INTERNAL_SERVER_ERROR', unavailable: 'database', requestId: expect.any(String) } }]);
      await eventually(() => server.logs.some((line) => line.includes('"service":"database"') && line.includes('terminating connection due to administrator command')), 5000, 'the log line');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await storedMessages(room)).toEqual([]);
    expect((await gql(server, SEND, { id: room, body: 'next' }, { token: account.accessToken })).data.sendMessage.body).toBe('next');
    expect((await storedMessages(room)).map((m) => [m.seq, m.body])).toEqual([[1, 'next']]);
    survived(server);
  });
});

/**
 * The `other` instance of {@link withCutDatabase}, shared by its tests: its
 * environment is the same in each, no test cuts it off, and each test uses
 * users and rooms of its own, so one start serves them all.
 */
let reachingDatabase: (() => Promise<TestServer>) | undefined;

/** Two instances on one Redis, the first (`cut`, started for the test) reaching PostgreSQL through a proxy the test stops and starts. */
async function withCutDatabase(test: (cluster: { cut: TestServer; other: TestServer; proxy: TcpProxy }) => Promise<void>): Promise<void> {
  redis ??= await startPrivateRedis();
  const proxy = await startTcpProxy(testDatabaseUrl);
  try {
    reachingDatabase ??= sharedServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url });
    const [cut, other] = await Promise.all([startServer({ DATABASE_URL: proxy.via(testDatabaseUrl), REDIS_URL: redis.url }), reachingDatabase()]);
    await test({ cut, other, proxy });
  } finally {
    await proxy.stop();
  }
}

describe("a room's change while one instance cannot reach PostgreSQL", () => {
  it('its subscribers keep their subscriptions: the access re-check is tried again once the database is back', async () => {
    await withCutDatabase(async ({ cut, other, proxy }) => {
      const { owner, room, socket, messages } = await memberWatching(other, cut);

      await proxy.stop();
      const renamed = await gql(other, 'mutation($id: ID!) { updateRoom(id: $id, input: { name: "renamed" }) { name } }', { id: room }, { token: owner.accessToken });
      expect(renamed.data.updateRoom.name).toBe('renamed');
      await eventually(() => cut.logs.some((line) => line.includes('access re-check failed')), 5000, 'a failed re-check');
      await proxy.start();

      await gql(other, SEND, { id: room, body: 'after the blip' }, { token: owner.accessToken });
      await expect.poll(() => messages.results.some((r) => r.data?.roomMessages.body === 'after the blip'), { timeout: 10_000 }).toBe(true);
      expect(messages.completed).toBe(false);
      expect(messages.results.some((r) => r.errors)).toBe(false);
      survived(cut);
      await socket.client.dispose();
    });
  }, 30_000);
});

describe("presence changes while one instance cannot reach PostgreSQL", () => {
  it('its presence and roomPresence subscribers get them, in order, once the database is back: the user read is tried again', async () => {
    await withCutDatabase(async ({ cut, other, proxy }) => {
      const [watcher, mover] = await Promise.all([signUp(other), signUp(other)]);
      const room = (await createRoom(other, watcher.accessToken)).id;
      const socket = connectSocket(cut, { token: watcher.accessToken });
      await socket.acked;
      const presence = collect(socket.client, 'subscription { presence { status user { id } } }', undefined, { on: cut });
      const inRoom = collect(socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind status user { id } room { memberCount } } }', { id: room }, { on: cut });
      await Promise.all([presence.live, inRoom.live]);

      await proxy.stop();
      // Joins, then connects (ONLINE) and sets AWAY, all on the other instance, while this one cannot read the user.
      await gql(other, JOIN, { id: room }, { token: mover.accessToken });
      const moverSocket = connectSocket(other, { token: mover.accessToken });
      await moverSocket.acked;
      await gql(other, 'mutation { setPresence(status: AWAY) }', {}, { token: mover.accessToken });
      await eventually(() => cut.logs.some((line) => line.includes('could not read the user of')), 5000, 'a failed user read');
      await proxy.start();

      // The watcher's own ONLINE may reach roomPresence too, when its connect's change is handed out after the view opened: only the mover's count here.
      const mine = <T extends { data?: unknown }>(results: T[]) => results.filter((r) => !r.data || JSON.stringify(r.data).includes(mover.id));
      await expect.poll(() => mine(presence.results).length, { timeout: 10_000 }).toBe(2);
      await expect.poll(() => mine(inRoom.results).length, { timeout: 10_000 }).toBe(3);
      expect(mine(presence.results).map((r) => r.data!.presence.status)).toEqual(['ONLINE', 'AWAY']);
      expect(mine(inRoom.results).map((r) => r.errors ?? [r.data!.roomPresence.kind, r.data!.roomPresence.status, r.data!.roomPresence.room.memberCount])).toEqual([
        ['JOINED', 'OFFLINE', 2],
        ['STATUS', 'ONLINE', 2],
        ['STATUS', 'AWAY', 2],
      ]);
      survived(cut);
      await Promise.all([socket, moverSocket].map((s) => s.client.dispose()));
    });
  }, 30_000);

  it('a change whose user stays unreadable past the last retry (1, 2, 4 s) is logged and dropped; the changes after it are handed out once the database is back', async () => {
    await withCutDatabase(async ({ cut, other, proxy }) => {
      const [watcher, mover] = await Promise.all([signUp(other), signUp(other)]);
      const socket = connectSocket(cut, { token: watcher.accessToken });
      await socket.acked;
      const presence = collect(socket.client, 'subscription { presence { status user { id } } }', undefined, { on: cut });
      await presence.live;

      await proxy.stop();
      const moverSocket = connectSocket(other, { token: mover.accessToken });
      await moverSocket.acked;
      await eventually(() => cut.logs.some((line) => line.includes('could not read the user of') && line.includes('not handed out')), 15_000, 'the read given up');
      await proxy.start();
      await gql(other, 'mutation { setPresence(status: AWAY) }', {}, { token: mover.accessToken });

      const mine = () => presence.results.map((r) => r.data).filter((d) => JSON.stringify(d).includes(mover.id));
      await expect.poll(() => mine().length, { timeout: 10_000 }).toBe(1);
      // One change more: the dropped one, handed out late, would have come before it.
      await gql(other, 'mutation { setPresence(status: ONLINE) }', {}, { token: mover.accessToken });
      await expect.poll(() => mine().length, { timeout: 10_000 }).toBe(2);
      expect(mine().map((d) => d!.presence.status)).toEqual(['AWAY', 'ONLINE']);
      expect(presence.completed).toBe(false);
      survived(cut);
      await Promise.all([socket, moverSocket].map((s) => s.client.dispose()));
    });
  }, 40_000);
});

describe('Redis stopped mid-traffic and started again', () => {
  it('two instances keep serving what does not need Redis, refuse what does clearly, and recover pub/sub by themselves', async () => {
    redis ??= await startPrivateRedis();
    // The traffic below fails logins on purpose while Redis is up: the account's failure budget must not be what refuses the last login.
    const env = { DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url, LOGIN_FAILURES_PER_ACCOUNT: '100000' };
    const [a, b] = await Promise.all([startServer(env), startServer(env)]);
    const alice = await signUp(a);

    // Traffic while Redis goes away.
    let stop = false;
    const traffic = (async () => {
      let n = 0;
      while (!stop && n++ < 400) {
        await gql(a, '{ me { username } }', undefined, { token: alice.accessToken }).catch(() => undefined);
        await gql(b, LOGIN, { input: { login: alice.username, password: 'wrong-password-x' } }).catch(() => undefined);
      }
    })();
    await redis.stop();
    for (const s of [a, b]) await eventually(async () => (await readyz(s)) === 503, 10_000, 'readyz 503');

    // Verifying a token needs no Redis; a login (rate limits) does, and says so.
    expect((await gql(a, '{ me { username } }', undefined, { token: alice.accessToken })).data).toEqual({ me: { username: alice.username } });
    const refused = await gql(b, LOGIN, { input: { login: alice.username, password: alice.password } });
    expect(errorCodes(refused)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(refused.errors![0]!.extensions).toMatchObject({ unavailable: 'redis' });
    // A subscription over SSE (its rate limit lives in Redis) is refused without a stack trace.
    const sse = await fetch(`${a.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${alice.accessToken}` },
      body: JSON.stringify({ query: 'subscription { serverLog { message } }' }),
      signal: AbortSignal.timeout(10_000),
    });
    const sseText = await sse.text();
    expect(sseText).toMatch(/INTERNAL_SERVER_ERROR/);
    expect(sseText).not.toMatch(/\n\s+at |node_modules|Stream isn't writeable/);

    await redis.start();
    for (const s of [a, b]) await eventually(async () => (await readyz(s)) === 200, 15_000, 'readyz 200 again');
    stop = true;
    await traffic;

    // Commands and pub/sub both came back: a logout on A reaches B.
    const session = await logIn(b, alice.username, alice.password);
    expect((await gql(a, '{ me { username } }', undefined, { token: session.accessToken })).data).toEqual({ me: { username: alice.username } });
    await eventually(async () => errorCodes(await gql(a, 'mutation { logout }', undefined, { token: session.accessToken })).length === 0, 10_000, 'logout on A');
    await eventually(async () => errorCodes(await gql(b, '{ me { username } }', undefined, { token: session.accessToken })).includes('UNAUTHENTICATED'), 10_000, 'B learns of the logout');
    for (const s of [a, b]) survived(s);
  });
});

describe('Redis frozen: connected, answering nothing', () => {
  it('readiness says redis is down and what needs Redis is refused as unavailable, once a command has waited out its timeout, instead of hanging; what needs no Redis is served; all works again once it answers', async () => {
    const frozen = await startPrivateRedis();
    try {
      const server = await startServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: frozen.url });
      const alice = await signUp(server);
      const room = (await createRoom(server, alice.accessToken)).id;
      frozen.freeze();
      const [ready, sent, login, me, socket] = await Promise.all([
        fetch(`${server.url}/readyz`).then(async (r) => ({ status: r.status, body: await r.json() })),
        gql(server, SEND, { id: room, body: 'while frozen' }, { token: alice.accessToken }),
        gql(server, LOGIN, { input: { login: alice.username, password: alice.password } }),
        gql(server, '{ me { username } }', undefined, { token: alice.accessToken }),
        connectSocket(server, { token: alice.accessToken }).closed,
      ]);
      // A socket's admission takes a seat in Redis: refused as "try again later".
      expect(socket.code).toBe(1013);
      expect(ready).toEqual({ status: 503, body: expect.objectContaining({ redis: 'down', down: ['redis'] }) });
      for (const refused of [sent, login]) {
        expect(errorCodes(refused)).toEqual(['INTERNAL_SERVER_ERROR']);
        expect(refused.errors![0]!.extensions).toMatchObject({ unavailable: 'redis' });
        expect(JSON.stringify(refused.errors)).not.toMatch(/timed out|\n\s+at /);
      }
      expect(me.data).toEqual({ me: { username: alice.username } });
      expect((await storedMessages(room)).map((m) => m.body)).not.toContain('while frozen');

      frozen.thaw();
      await eventually(async () => (await readyz(server)) === 200, 10_000, 'readyz 200 again');
      const after = await gql(server, SEND, { id: room, body: 'after' }, { token: alice.accessToken });
      expect(after.errors).toBeUndefined();
      survived(server);
    } finally {
      await frozen.stop();
    }
  }, 60_000);
});
