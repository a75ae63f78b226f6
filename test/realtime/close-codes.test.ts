/**
 * Every application close code, each by its own test, with real graphql-ws
 * clients on real instances sharing PostgreSQL and Redis.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Keys } from '../../src/core/codes.ts';
import { bearer, closeWithin, collect, connectSocket, gql, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { logIn, signUp } from '../helpers/accounts.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { flushTestRedis } from '../helpers/redis.ts';

afterAll(stopAllServers);

const LOGOUT = 'mutation { logout }';

describe('close codes', () => {
  let server: TestServer;
  beforeAll(async () => {
    await flushTestRedis();
    server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: '3' });
  });

  it('4001 when the session is logged out', async () => {
    const user = await signUp(server);
    const socket = connectSocket(server, bearer(user.accessToken));
    await socket.acked;
    expect((await gql(server, LOGOUT, {}, { token: user.accessToken })).data).toEqual({ logout: true });
    expect((await socket.closed).code).toBe(4001);
  });

  it('4002 when a newer login replaces the session', async () => {
    const user = await signUp(server);
    const socket = connectSocket(server, bearer(user.accessToken));
    await socket.acked;
    await logIn(server, user.username, user.password);
    expect((await socket.closed).code).toBe(4002);
  });

  it('4003 when the access token expires unrenewed', async () => {
    const user = await signUp(server);
    const socket = connectSocket(server, bearer(user.accessToken));
    await socket.acked;
    const closed = await socket.closed;
    expect(closed).toEqual({ code: 4003, reason: 'access token expired' });
  });

  describe('4403 before the ack', () => {
    const refusedWith = async (params: Record<string, unknown> | undefined) => {
      const socket = connectSocket(server, params);
      await expect(socket.acked).rejects.toMatchObject({ code: 4403 });
      return socket.closed;
    };

    it('without a token', async () => {
      expect((await refusedWith(undefined)).code).toBe(4403);
      expect((await refusedWith({})).code).toBe(4403);
    });

    it('with garbage', async () => {
      expect((await refusedWith(bearer('not-a-jwt'))).code).toBe(4403);
      expect((await refusedWith({ token: 42 })).code).toBe(4403);
    });

    it('signed with another key', async () => {
      const user = await signUp(server);
      const claims = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString());
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-that-is-long-enough-0123456789'));
      expect((await refusedWith(bearer(forged))).code).toBe(4403);
    });

    it('with alg none', async () => {
      const user = await signUp(server);
      const [, payload] = user.accessToken.split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      expect((await refusedWith(bearer(`${header}.${payload}.`))).code).toBe(4403);
    });

    it('expired', async () => {
      const user = await signUp(server);
      const { exp } = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString());
      // Clock: the token's expiry has to pass.
      await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 300));
      expect((await refusedWith(bearer(user.accessToken))).code).toBe(4403);
    });

    it('revoked', async () => {
      const user = await signUp(server);
      await gql(server, LOGOUT, {}, { token: user.accessToken });
      expect((await refusedWith({ token: user.accessToken })).code).toBe(4403);
    });
  });
});

describe('a token living longer than a Node timer can wait (about 24.8 days)', () => {
  it('keeps its socket open, over WebSocket and over SSE, instead of closing it at once as expired', async () => {
    const server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: String(30 * 24 * 3600) });
    const user = await signUp(server);
    const socket = connectSocket(server, bearer(user.accessToken));
    await socket.acked;
    const sse = await fetch(`${server.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${user.accessToken}` },
      body: JSON.stringify({ query: 'subscription { connectionSlots { used } }' }),
    });
    expect(sse.status).toBe(200);
    // What the stream says in its first 1.5 s: the counts, and no end.
    let said = '';
    const reader = sse.body!.getReader();
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        said += Buffer.from(value).toString();
      }
    })().catch(() => {});
    expect(await closeWithin(socket, 1500)).toBe('still open');
    expect(said).toMatch(/"connectionSlots":\{"used":\d+\}/);
    expect(said).not.toMatch(/expired|"errors"|event: complete/);
    const answer = await new Promise<unknown>((resolve, reject) => socket.client.subscribe({ query: '{ me { username } }' }, { next: resolve, error: reject, complete: () => {} }));
    expect(answer).toEqual({ data: { me: { username: user.username } } });
    await reader.cancel();
    await reading;
    await socket.client.dispose();
  });
});

describe('renewal over the socket', () => {
  it('a socket that sends refresh over itself outlives its token, its subscription untouched; one that does not closes 4003', async () => {
    // A flush under live instances is Redis losing its state: they would hold admissions (slots/recovery.ts).
    await stopAllServers();
    await flushTestRedis();
    const server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: '3', SINGLE_SESSION: 'false' });
    const renewing = await signUp(server);
    const idle = await signUp(server);
    const socket = connectSocket(server, bearer(renewing.accessToken));
    const idleSocket = connectSocket(server, bearer(idle.accessToken));
    await Promise.all([socket.acked, idleSocket.acked]);
    const slots = collect(socket.client, 'subscription { connectionSlots { used } }');
    await slots.waitFor(1);

    let refreshToken = renewing.refreshToken;
    const started = Date.now();
    const renewals: Promise<void>[] = [];
    const renew = () =>
      renewals.push(
        (async () => {
          const result = await new Promise<any>((resolve, reject) =>
            socket.client.subscribe(
              { query: 'mutation($t: String) { refresh(refreshToken: $t) { refreshToken } }', variables: { t: refreshToken } },
              { next: resolve, error: reject, complete: () => {} },
            ),
          );
          refreshToken = result.data.refresh.refreshToken;
        })(),
      );
    // At once (the first token was issued before the sockets opened, which on a busy machine takes a
    // good part of its 3 s), then every second: a renewal may be slow without the token running out.
    renew();
    const timer = setInterval(renew, 1000);
    try {
      expect((await idleSocket.closed).code).toBe(4003);
      // Another user's seat freed: the renewing socket's subscription still hears of it.
      await slots.waitFor(2);
      // Clock: the socket has to outlive several token lifetimes.
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - started))));
    } finally {
      clearInterval(timer);
    }
    await Promise.all(renewals);
    expect(renewals.length).toBeGreaterThanOrEqual(4);
    expect(slots.completed).toBe(false);
    expect(await closeWithin(socket, 100)).toBe('still open');
    await socket.client.dispose();
  }, 30_000);
});

describe('4029 on connection attempts per IP', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The attempts of the tests above count against 127.0.0.1 too: start from an empty Redis, with no instance alive to lose its state.
    await stopAllServers();
    await flushTestRedis();
    server = await startServer({ ...scaledEnv(), CONNECTS_PER_IP: '3', CONNECT_WINDOW: '60' });
  });
  // One instance serves both tests; each starts with the whole budget of a new window, as on a Redis without the counter.
  beforeEach(() => flushTestRedis(testRedisUrl, `${Keys.rateLimit('connect')}:`));

  it('refuses attempts past CONNECTS_PER_IP within CONNECT_WINDOW, naming the rate', async () => {
    const user = await signUp(server);
    const sockets = [0, 1, 2].map(() => connectSocket(server, bearer(user.accessToken)));
    await Promise.all(sockets.map((s) => s.acked));
    const fourth = connectSocket(server, bearer(user.accessToken));
    const closed = await fourth.closed;
    expect(closed.code).toBe(4029);
    expect(closed.reason).toMatch(/rate/);
  });

  it('counts WebSocket connections and subscriptions over SSE against one budget per address', async () => {
    const user = await signUp(server);
    /** One subscription attempt over graphql-sse without a token: answered at once with one error event. */
    const sseAttempt = async () => {
      const response = await fetch(`${server.url}/graphql/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'subscription { connectionSlots { used } }' }),
      });
      const event = (await response.text()).split('\n').find((line) => line.startsWith('data: {'));
      return JSON.parse(event!.slice('data: '.length)).errors[0].extensions.code as string;
    };
    const sockets = [0, 1].map(() => connectSocket(server, bearer(user.accessToken)));
    await Promise.all(sockets.map((s) => s.acked));
    // The third attempt of the window, over SSE: counted, and refused for its missing token.
    expect(await sseAttempt()).toBe('UNAUTHENTICATED');
    const fourth = connectSocket(server, bearer(user.accessToken));
    expect((await fourth.closed).code).toBe(4029);
    expect(await sseAttempt()).toBe('RATE_LIMITED');
  });
});

describe('ALLOWED_ORIGINS', () => {
  it('refuses upgrades and browser requests from other origins with 403', async () => {
    const server = await startServer({ ...scaledEnv(), ALLOWED_ORIGINS: 'http://app.test' });
    const user = await signUp(server);
    const foreign = connectSocket(server, bearer(user.accessToken), { headers: { origin: 'http://evil.test' } });
    await expect(foreign.acked).rejects.toBeTruthy();
    const allowed = connectSocket(server, bearer(user.accessToken), { headers: { origin: 'http://app.test' } });
    await allowed.acked;
    const upgrade = await fetch(server.graphqlUrl, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', origin: 'http://evil.test', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    }).catch((e) => e);
    expect(upgrade instanceof Response ? upgrade.status : 403).toBe(403);
    const http = await fetch(server.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.test' }, body: '{"query":"{ me { id } }"}' });
    expect(http.status).toBe(403);
    const ok = await fetch(server.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://app.test' }, body: '{"query":"{ connectionSlots { max } }"}' });
    expect(ok.status).toBe(200);
  });
});
