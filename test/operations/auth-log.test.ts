/**
 * Normal traffic in the live server log: an admin watching `serverLog` sees
 * sign-ins, refusals, sign-outs, registrations, refresh reuse and sockets
 * opening and closing, with the user and request or connection id; and no
 * line of a run that went through every auth path holds a password or a token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, collect, connectSocket, eventually, gql, scaledEnv, startServer, stopAllServers, uniqueName, uuidOf, type TestServer } from '../helpers/server.ts';
import { logIn, signUp, LOGIN } from '../helpers/accounts.ts';
import { LOGOUT, REFRESH } from '../auth/support.ts';

afterAll(stopAllServers);

const SERVER_LOG = 'subscription { serverLog(level: "info") { at level message detail } }';
type Line = { at: string; level: string; message: string; detail: Record<string, any> | null };

describe('auth and connections in the server log', () => {
  let server: TestServer;
  const adminUser = uniqueName('admin');
  const adminPass = 'admin-password-123';
  let log: ReturnType<typeof collect<{ serverLog: Line }>>;
  let stopLog: () => Promise<void>;

  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), ADMIN_USER: adminUser, ADMIN_PASS: adminPass, MAX_SOCKETS_PER_USER: '2' });
    const admin = await logIn(server, adminUser, adminPass);
    const socket = connectSocket(server, bearer(admin.accessToken));
    await socket.acked;
    log = collect<{ serverLog: Line }>(socket.client, SERVER_LOG);
    // Wait until the stream is attached: a line written after this point reaches it.
    await eventually(async () => {
      await gql(server, '{ __typename }');
      await signUp(server);
      return log.results.length > 0;
    }, 5000, 'the log stream');
    stopLog = async () => {
      log.unsubscribe();
      await socket.client.dispose();
    };
  });

  const seen = () => log.results.map((r) => r.data!.serverLog);
  const find = (message: string, userId?: string) => seen().find((l) => l.message === message && (userId === undefined || l.detail?.userId === userId));

  it('shows a sign-in to an admin within a second, with the user and the session', async () => {
    const user = await signUp(server);
    const userId = uuidOf(user.id);
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: LOGIN, variables: { input: { login: user.username, password: user.password } } }),
    });
    expect(response.status).toBe(200);
    await eventually(() => find('auth: login', userId) !== undefined, 1000, 'the sign-in line within 1 s');
    expect(find('auth: login', userId)).toMatchObject({ level: 'info', detail: { userId, detail: { session: expect.any(String) } } });
  });

  it('shows every auth path and socket, and no line holds a password or a token', async () => {
    const secrets: string[] = [];
    const user = await signUp(server);
    const userId = uuidOf(user.id);
    secrets.push(user.password, user.accessToken, user.refreshToken);

    // A failed sign-in.
    const failed = await gql(server, LOGIN, { input: { login: user.username, password: 'wrong-password-zz9' } });
    expect(failed.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    secrets.push('wrong-password-zz9');
    // Refresh, then the old refresh token again (reuse ends the session).
    const refreshed = await gql(server, REFRESH, { token: user.refreshToken });
    secrets.push(refreshed.data.refresh.accessToken, refreshed.data.refresh.refreshToken);
    const reused = await gql(server, REFRESH, { token: user.refreshToken });
    expect(reused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // A new session: sockets open, one past MAX_SOCKETS_PER_USER is refused, one closes; then sign out.
    const again = await logIn(server, user.username, user.password);
    secrets.push(again.accessToken, again.refreshToken);
    const sockets = [connectSocket(server, bearer(again.accessToken)), connectSocket(server, bearer(again.accessToken))];
    await Promise.all(sockets.map((s) => s.acked));
    const third = connectSocket(server, bearer(again.accessToken));
    expect((await third.closed).code).toBe(4029);
    await sockets[0]!.client.dispose();
    await sockets[0]!.closed;
    expect((await gql(server, LOGOUT, {}, { token: again.accessToken })).data).toEqual({ logout: true });
    expect((await sockets[1]!.closed).code).toBe(4001);

    for (const [message, level] of [
      ['auth: register', 'info'],
      ['auth: login_failed', 'info'],
      ['auth: refresh', 'info'],
      ['auth: refresh_reuse', 'warn'],
      ['auth: logout', 'info'],
      ['auth: connection_rejected', 'info'],
      ['socket connected', 'info'],
      ['socket closed', 'info'],
    ] as const) {
      await eventually(() => find(message, userId) !== undefined, 5000, message);
      expect(find(message, userId)!.level).toBe(level);
    }
    expect(find('auth: connection_rejected', userId)!.detail).toMatchObject({ detail: { code: 4029, reason: expect.stringMatching(/^sockets/) } });
    expect(find('socket connected', userId)!.detail).toMatchObject({ connectionId: expect.any(String) });
    const closes = () => seen().filter((l) => l.message === 'socket closed' && l.detail?.userId === userId).map((l) => l.detail!.code);
    await eventually(() => closes().length === 2, 5000, 'both sockets closed');
    expect(closes().sort()).toEqual([1000, 4001]);

    // Every line the instance printed, and every line the admin received.
    await stopLog();
    const everything = [...server.logs, JSON.stringify(seen())].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toContain(adminPass);
  });
});
