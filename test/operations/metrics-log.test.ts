/**
 * GET /metrics counts what happened in the test (logins, failures, errors,
 * sockets, subscriptions, latency; Node's event-loop lag is there), and the
 * admin-only serverLog subscription streams the log lines of every
 * instance, filtered by level.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, errorCodes, eventually, gql, sample, scaledEnv, startServer, stopAllServers, uniqueName, uuidOf, sharedServer, type TestServer } from '../helpers/server.ts';
import { logIn, signUp, LOGIN } from '../helpers/accounts.ts';
import { REFRESH } from '../auth/support.ts';
import { Redis } from 'ioredis';
import { openRawSocket } from './raw-socket.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { Channels } from '../../src/core/codes.ts';

afterAll(stopAllServers);

const scrape = async (server: TestServer) => {
  const response = await fetch(`${server.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/plain/);
  return response.text();
};

describe('metrics behind METRICS_TOKEN', () => {
  const token = 'scrape-token-0123456789';
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), METRICS_TOKEN: token });
  });

  it('refuses a scrape without the bearer token, or with another, and serves one with it', async () => {
    for (const headers of [{}, { authorization: 'Bearer scrape-token-0123456788' }, { authorization: token }, { authorization: `Basic ${token}` }] as Record<string, string>[]) {
      const refused = await fetch(`${server.url}/metrics`, { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await refused.text()).not.toMatch(/switchboard_/);
    }
    const served = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(served.status).toBe(200);
    expect(await served.text()).toMatch(/^switchboard_open_sockets \d/m);
    // The rest of the server does not ask for it.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('stops the start with one line naming the variable when the token is too short', async () => {
    const refused = await startServer({ ...scaledEnv(), METRICS_TOKEN: 'short-secret' }).catch((error: Error) => error);
    expect(String(refused)).toMatch(/invalid configuration: METRICS_TOKEN: must be at least 16 characters/);
    // A secret's value is not printed, even a wrong one.
    expect(String(refused)).not.toMatch(/short-secret/);
  });
});

const SERVER_LOG = 'subscription Log($level: String) { serverLog(level: $level) { at level logger message detail } }';

// The serverLog tests all ask for the same settings: one pair of instances, started by the first of them, serves
// them all (a start costs seconds of CPU, test/helpers/server.ts); the one-instance tests use the first of the pair.
const adminUser = uniqueName('admin');
const logEnv = { ...scaledEnv(), LOG_LEVEL: 'debug', ADMIN_USER: adminUser, ADMIN_PASS: 'admin-password-123' };
const logPair = [sharedServer(logEnv), sharedServer(logEnv)];
const logServers = () => Promise.all(logPair.map((start) => start()));

describe('metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Two failed logins per account, so that the third is refused; the window is short to leave no trace in Redis.
    server = await startServer({ ...scaledEnv(), LOGIN_FAILURES_PER_ACCOUNT: '2', LOGIN_FAILURE_WINDOW: '5' });
  });

  it('serves Node defaults and Switchboard metrics, and counts what happened', async () => {
    const before = await scrape(server);
    expect(before).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(before).toMatch(/^process_resident_memory_bytes \d/m);
    for (const name of ['switchboard_open_sockets', 'switchboard_seats_used', 'switchboard_seats_max', 'switchboard_messages_stored_total', 'switchboard_messages_delivered_total']) {
      expect(before).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }

    const account = await signUp(server);
    const wrong = await gql(server, LOGIN, { input: { login: account.username, password: 'not-the-password' } });
    expect(errorCodes(wrong)).toEqual(['UNAUTHENTICATED']);
    expect((await gql(server, '{ nope }')).status).toBe(400);

    const socket = connectSocket(server, { authorization: `Bearer ${account.accessToken}` });
    await socket.acked;
    const text = await scrape(server);
    expect(sample(text, 'switchboard_auth_attempts_total', { operation: 'register' })).toBe(1);
    expect(sample(text, 'switchboard_auth_attempts_total', { operation: 'login' })).toBe(2);
    expect(sample(text, 'switchboard_auth_failures_total', { operation: 'login', code: 'UNAUTHENTICATED' })).toBe(1);
    expect(sample(text, 'switchboard_auth_duration_seconds_count', { operation: 'login' })).toBe(2);
    expect(sample(text, 'switchboard_graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(sample(text, 'switchboard_operation_duration_seconds_count', { type: 'mutation', field: 'register' })).toBe(1);
    expect(sample(text, 'switchboard_open_sockets')).toBe(1);

    await socket.client.dispose();
    await eventually(async () => sample(await scrape(server), 'switchboard_open_sockets') === 0, 5000, 'open sockets back to 0');
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('counts the sockets the server refuses or closes, by close code', async () => {
    const badToken = connectSocket(server, { authorization: 'Bearer not-a-token' });
    expect((await badToken.closed).code).toBe(4403);
    const garbage = await openRawSocket(server.wsUrl);
    garbage.send('not json');
    expect((await garbage.closed).code).toBe(4400);
    const text = await scrape(server);
    expect(sample(text, 'switchboard_refused_connections_total', { code: '4403' })).toBe(1);
    expect(sample(text, 'switchboard_refused_connections_total', { code: '4400' })).toBe(1);
  });

  it('counts rate-limit refusals by rule', async () => {
    const account = await signUp(server);
    let refused = 0;
    for (let i = 0; i < 6 && refused === 0; i++) {
      const response = await gql(server, LOGIN, { input: { login: account.username, password: 'still-not-it' } });
      if (errorCodes(response).includes('RATE_LIMITED')) refused++;
    }
    expect(refused).toBe(1);
    expect(sample(await scrape(server), 'switchboard_rate_limit_hits_total', { kind: 'login-account-ip' })).toBe(1);
  });
});

describe('serverLog', () => {
  let server: TestServer;
  let admin: { accessToken: string };
  beforeAll(async () => {
    server = (await logServers())[0]!;
    admin = await logIn(server, adminUser, 'admin-password-123');
  });

  it('streams this instance\'s log lines live to an admin, at or above the level asked, and counts the subscription', async () => {
    const socket = connectSocket(server, { authorization: `Bearer ${admin.accessToken}` });
    await socket.acked;
    const debug = collect(socket.client, SERVER_LOG, { level: 'debug' });
    const warn = collect(socket.client, SERVER_LOG, { level: 'WARN' });
    await eventually(async () => sample(await scrape(server), 'switchboard_subscriptions', { field: 'serverLog' }) === 2, 5000, 'two serverLog subscriptions');

    // Another user's socket logs "socket connected" at info level with its user id.
    const other = await signUp(server);
    const otherSocket = connectSocket(server, { authorization: `Bearer ${other.accessToken}` });
    await otherSocket.acked;
    await eventually(() => debug.results.some((r) => r.data?.serverLog.message === 'socket connected'), 5000, 'the debug line');
    const line = debug.results.find((r) => r.data?.serverLog.message === 'socket connected')!.data.serverLog;
    expect(line).toMatchObject({ level: 'info', logger: 'switchboard', detail: { userId: expect.any(String), connectionId: expect.any(String) } });
    expect(new Date(line.at).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(warn.results.filter((r) => ['debug', 'info'].includes(r.data?.serverLog.level))).toEqual([]);
    // What the admin receives is what the redacting logger wrote: no token anywhere.
    expect(JSON.stringify(debug.results)).not.toContain(other.accessToken);

    debug.unsubscribe();
    warn.unsubscribe();
    await eventually(async () => sample(await scrape(server), 'switchboard_subscriptions', { field: 'serverLog' }) === 0, 5000, 'subscriptions back to 0');
    expect(sample(await scrape(server), 'switchboard_subscription_events_total', { field: 'serverLog' })).toBeGreaterThan(0);
    await otherSocket.client.dispose();
    await socket.client.dispose();
  });

  it('refuses non-admins (FORBIDDEN), anonymous callers (UNAUTHENTICATED) and unknown levels (BAD_USER_INPUT)', async () => {
    const user = await signUp(server);
    const userSocket = connectSocket(server, { authorization: `Bearer ${user.accessToken}` });
    await userSocket.acked;
    const refused = collect(userSocket.client, SERVER_LOG);
    await refused.done;
    expect(refused.results[0]?.errors?.[0]?.extensions?.code ?? (refused.error as any)?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const adminSocket = connectSocket(server, { authorization: `Bearer ${admin.accessToken}` });
    await adminSocket.acked;
    const badLevel = collect(adminSocket.client, SERVER_LOG, { level: 'loud' });
    await badLevel.done;
    const error = badLevel.results[0]?.errors?.[0] ?? (badLevel.error as any)?.[0];
    expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'level' });

    const anonymous = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: SERVER_LOG }),
    });
    expect(await anonymous.text()).toContain('UNAUTHENTICATED');
    await userSocket.client.dispose();
    await adminSocket.client.dispose();
  });
});

describe('serverLog across instances', () => {
  let servers: TestServer[];
  beforeAll(async () => {
    servers = await logServers();
  });
  const LINES = 'subscription Log($level: String) { serverLog(level: $level) { instance level message detail } }';
  /** The "socket connected" lines of `userId` a subscription has received. */
  const connectedLines = (sub: ReturnType<typeof collect<any>>, userId: string) =>
    sub.results.map((r) => r.data?.serverLog).filter((line) => line?.message === 'socket connected' && line.detail?.userId === uuidOf(userId));

  it("streams every instance's lines once each, tagged with the instance, at the level asked", async () => {
    const admin = await logIn(servers[0]!, adminUser, 'admin-password-123');
    const sockets = servers.map((server) => connectSocket(server, { authorization: `Bearer ${admin.accessToken}` }));
    await Promise.all(sockets.map((s) => s.acked));
    const [debugHere, debugThere] = sockets.map((s, i) => collect(s.client, LINES, { level: 'debug' }, { on: servers[i]! }));
    const warnHere = collect(sockets[0]!.client, LINES, { level: 'warn' }, { on: servers[0]! });
    await Promise.all([debugHere!.live, debugThere!.live, warnHere.live]);
    // Live here; each instance hears from the other that someone reads once the other's lines reach it: probe until both do.
    const instancesHeard = (reader: typeof debugHere) => new Set(reader!.results.map((r) => r.data?.serverLog.instance)).size;
    await expect
      .poll(async () => {
        for (const server of servers) {
          const probe = connectSocket(server, { authorization: `Bearer ${admin.accessToken}` });
          await probe.acked;
          await probe.client.dispose();
        }
        return instancesHeard(debugHere) >= 2 && instancesHeard(debugThere) >= 2;
      }, { timeout: 10_000 })
      .toBe(true);

    // A user connects to each instance: each instance logs it once, at debug, and both readers see both lines once.
    const users = await Promise.all(servers.map((server) => signUp(server)));
    const userSockets = users.map((user, i) => connectSocket(servers[i]!, { authorization: `Bearer ${user.accessToken}` }));
    await Promise.all(userSockets.map((s) => s.acked));
    for (const reader of [debugHere!, debugThere!]) {
      await eventually(() => users.every((user) => connectedLines(reader, user.id).length > 0), 5000, 'both instances\' lines');
    }
    // Two users more, one on each instance: a repeat of the lines before would have come before theirs (each instance's lines in order).
    const late = await Promise.all(servers.map((server) => signUp(server)));
    const lateSockets = late.map((user, i) => connectSocket(servers[i]!, { authorization: `Bearer ${user.accessToken}` }));
    userSockets.push(...lateSockets);
    for (const reader of [debugHere!, debugThere!]) {
      await eventually(() => late.every((user) => connectedLines(reader, user.id).length > 0), 5000, 'the later lines');
    }
    const instanceOf = users.map((user) => connectedLines(debugHere!, user.id)[0]!.instance);
    expect(instanceOf[0]).not.toBe(instanceOf[1]);
    for (const reader of [debugHere!, debugThere!]) {
      expect(users.map((user) => connectedLines(reader, user.id).map((line) => line.instance))).toEqual([[instanceOf[0]], [instanceOf[1]]]);
    }
    expect(warnHere.results.filter((r) => ['debug', 'info'].includes(r.data?.serverLog.level))).toEqual([]);

    await Promise.all([...userSockets, ...sockets].map((s) => s.client.dispose()));
  });

  it('an instance sends its lines over Redis only while someone reads them, and only from the least level read', async () => {
    const second = servers[1]!;
    // What crosses Redis, read off the channels themselves: the lines, and the instances saying who reads.
    const tap = new Redis(testRedisUrl);
    const sent: { instance: string; line: { msg?: string; userId?: string } }[] = [];
    const wanted: { minLevel: number | null }[] = [];
    tap.on('message', (channel, text) => (channel === Channels.serverLogWanted ? wanted : sent).push(JSON.parse(text)));
    await tap.subscribe(Channels.serverLogLines, Channels.serverLogWanted);
    /** Connects a new user to the second instance; resolves to its id once the instance has written its "socket connected" line. */
    const connectOnSecond = async () => {
      const user = await signUp(second);
      const id = uuidOf(user.id);
      const socket = connectSocket(second, { authorization: `Bearer ${user.accessToken}` });
      await socket.acked;
      await eventually(() => second.logs.some((line) => line.includes('"msg":"socket connected"') && line.includes(id)), 5000, 'the "socket connected" line');
      await socket.client.dispose();
      return id;
    };
    const connectionSent = (id: string) => sent.some((message) => message.line.msg === 'socket connected' && message.line.userId === id);
    /** Makes the second instance write a warn line ("auth: refresh_reuse", a refresh token used twice); resolves to its user id. */
    const warnOnSecond = async () => {
      const user = await signUp(second);
      for (let i = 0; i < 2; i++) await gql(second, REFRESH, { token: user.refreshToken });
      return uuidOf(user.id);
    };
    const warnSent = (id: string) => sent.some((message) => message.line.msg === 'auth: refresh_reuse' && message.line.userId === id);
    try {
      const admin = await logIn(servers[0]!, adminUser, 'admin-password-123');
      const socket = connectSocket(servers[0]!, { authorization: `Bearer ${admin.accessToken}` });
      await socket.acked;
      // While nobody reads, nothing crosses, so no later line can be a barrier: a window for the line to cross.
      const unread = await connectOnSecond();
      await new Promise((r) => setTimeout(r, 300));
      expect(connectionSent(unread)).toBe(false);

      const warn = collect(socket.client, LINES, { level: 'warn' });
      // The second instance has heard of the reader once a warn line of its crosses.
      await eventually(async () => warnSent(await warnOnSecond()), 10_000, 'a warn line to cross');
      const atInfo = await connectOnSecond();
      // Its lines cross in the order it writes them: a warn line written after is the barrier.
      const barrier = await warnOnSecond();
      await eventually(() => warnSent(barrier), 5000, 'the barrier warn line to cross');
      expect(connectionSent(atInfo)).toBe(false);

      const debug = collect(socket.client, LINES, { level: 'debug' });
      await eventually(async () => connectionSent(await connectOnSecond()), 10_000, 'an info line to cross');

      const told = wanted.length;
      debug.unsubscribe();
      warn.unsubscribe();
      // The first instance tells the others that nobody reads any more: Redis hands the second instance
      // that message as it hands it to the tap, well before the next user has signed up and connected.
      await eventually(() => wanted.slice(told).some((message) => message.minLevel === null), 5000, 'nobody reading, told');
      const unreadAgain = await connectOnSecond();
      // Again nothing crosses after it: a window.
      await new Promise((r) => setTimeout(r, 300));
      expect(connectionSent(unreadAgain)).toBe(false);
      await socket.client.dispose();
    } finally {
      tap.disconnect();
    }
  });
});
