/**
 * MAX_SUBSCRIPTIONS_PER_SOCKET and MAX_SUBSCRIPTIONS_PER_USER, with real
 * graphql-ws clients (and a graphql-sse stream) on real instances sharing
 * PostgreSQL and Redis: past either cap that subscribe is refused with
 * RATE_LIMITED naming the cap, the socket and its other subscriptions go on,
 * and a completed subscription, a closed socket and a killed instance give
 * their places back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient as createSseClient } from 'graphql-sse';
import { bearer, collect, connectSocket, eventually, scaledEnv, startServer, stopAllServers, type TestServer, type TestSocket } from '../helpers/server.ts';
import { signUp, type TestAccount } from '../helpers/accounts.ts';

afterAll(stopAllServers);

/** Answers at once with the counts, then stays open: a live subscription that is easy to see start. */
const SLOTS = 'subscription { connectionSlots { used max } }';

/** Starts a subscription and waits for its first result, or for its refusal: the error's extensions. */
async function subscribe(socket: TestSocket) {
  const sub = collect(socket.client, SLOTS);
  await Promise.race([sub.waitFor(1), sub.done]);
  const error = sub.error as { extensions?: Record<string, unknown> }[] | undefined;
  return { sub, refusal: Array.isArray(error) ? error[0]?.extensions : undefined, live: sub.results.length > 0 && !sub.completed };
}

async function openSocket(server: TestServer, user: TestAccount): Promise<TestSocket> {
  const socket = connectSocket(server, bearer(user.accessToken));
  await socket.acked;
  return socket;
}

describe('MAX_SUBSCRIPTIONS_PER_SOCKET', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), MAX_SUBSCRIPTIONS_PER_SOCKET: '3', MAX_SUBSCRIPTIONS_PER_USER: '50' });
  });

  it('refuses the subscribe past the cap with RATE_LIMITED; the socket and its other subscriptions go on; completing one frees its place', async () => {
    const user = await signUp(server);
    const socket = await openSocket(server, user);
    const held = [];
    for (let i = 0; i < 3; i++) {
      const started = await subscribe(socket);
      expect(started.live).toBe(true);
      held.push(started.sub);
    }
    const fourth = await subscribe(socket);
    expect(fourth.live).toBe(false);
    expect(fourth.refusal).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_SUBSCRIPTIONS_PER_SOCKET', max: 3 });

    // The socket is still open and its subscriptions still stream: another user's seat changes the counts they carry.
    const other = await signUp(server);
    const otherSocket = await openSocket(server, other);
    for (const sub of held) await sub.waitFor(2);
    expect(held.every((sub) => !sub.completed)).toBe(true);
    // A query on the same socket still runs.
    const me = collect(socket.client, 'query { me { username } }');
    await me.done;
    expect(me.results[0]?.data).toEqual({ me: { username: user.username } });

    // A burst on one socket cannot pass the cap together either.
    const burst = await Promise.all([0, 1, 2].map(() => subscribe(socket)));
    expect(burst.filter((b) => b.live)).toHaveLength(0);

    held[0]!.unsubscribe();
    await eventually(async () => {
      const again = await subscribe(socket);
      if (!again.live) return false;
      held.push(again.sub);
      return true;
    }, 5000, 'a place freed by completing a subscription');
    const past = await subscribe(socket);
    expect(past.refusal?.limit).toBe('MAX_SUBSCRIPTIONS_PER_SOCKET');
    await socket.client.dispose();
    await otherSocket.client.dispose();
  });
});

describe('MAX_SUBSCRIPTIONS_PER_USER across instances', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    const env = { ...scaledEnv(), MAX_SUBSCRIPTIONS_PER_SOCKET: '10', MAX_SUBSCRIPTIONS_PER_USER: '4', SLOT_LEASE_TTL: '3' };
    [a, b] = await Promise.all([startServer(env), startServer(env)]);
  });

  it('counts the user’s subscriptions on every instance; a completed one and a closed socket give their places back', async () => {
    const user = await signUp(a);
    const onA = await openSocket(a, user);
    const onB = await openSocket(b, user);
    const held = [];
    for (const socket of [onA, onA, onB, onB]) {
      const started = await subscribe(socket);
      expect(started.live).toBe(true);
      held.push(started.sub);
    }
    for (const socket of [onA, onB]) {
      const refused = await subscribe(socket);
      expect(refused.live).toBe(false);
      expect(refused.refusal).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_SUBSCRIPTIONS_PER_USER', max: 4 });
    }
    // Completed on A, its place is taken on B.
    held[0]!.unsubscribe();
    await eventually(async () => (await subscribe(onB)).live, 5000, 'a place freed by a completed subscription');
    expect((await subscribe(onB)).refusal?.limit).toBe('MAX_SUBSCRIPTIONS_PER_USER');
    // Another user is not held back by this one's count.
    const other = await signUp(a);
    expect((await subscribe(await openSocket(b, other))).live).toBe(true);

    // Over SSE too: a stream is one more subscription of the user.
    const refusedStream = await sseFirstResult(b, user.accessToken);
    expect(refusedStream.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_SUBSCRIPTIONS_PER_USER' });

    await onA.client.dispose();
    await onA.closed;
    await eventually(async () => (await subscribe(onB)).live, 5000, 'a place freed by a closed socket');
    expect((await subscribe(onB)).refusal?.limit).toBe('MAX_SUBSCRIPTIONS_PER_USER');
    await onB.client.dispose();
  });

  it('a killed instance’s places are given back once its sockets’ leases pass', async () => {
    const user = await signUp(a);
    const doomed = await startServer({ ...scaledEnv(), MAX_SUBSCRIPTIONS_PER_SOCKET: '10', MAX_SUBSCRIPTIONS_PER_USER: '4', SLOT_LEASE_TTL: '3' });
    const onDoomed = await openSocket(doomed, user);
    for (let i = 0; i < 4; i++) expect((await subscribe(onDoomed)).live).toBe(true);
    const onB = await openSocket(b, user);
    expect((await subscribe(onB)).refusal?.limit).toBe('MAX_SUBSCRIPTIONS_PER_USER');
    await doomed.kill();
    await eventually(async () => (await subscribe(onB)).live, 10_000, 'the killed instance’s places back');
    await onB.client.dispose();
  }, 20_000);

  it('an SSE stream takes a place and gives it back when it ends', async () => {
    const user = await signUp(a);
    const socket = await openSocket(a, user);
    for (let i = 0; i < 3; i++) expect((await subscribe(socket)).live).toBe(true);
    const results: { errors?: { extensions?: Record<string, unknown> }[] }[] = [];
    const client = createSseClient({ url: `${b.url}/graphql/stream`, headers: { authorization: `Bearer ${user.accessToken}` }, retryAttempts: 0 });
    const dispose = client.subscribe({ query: SLOTS }, { next: (r) => void results.push(r as any), error: () => {}, complete: () => {} });
    await eventually(() => results.length > 0, 5000, 'the stream’s first result');
    expect(results[0]!.errors).toBeUndefined();
    expect((await subscribe(socket)).refusal?.limit).toBe('MAX_SUBSCRIPTIONS_PER_USER');
    dispose();
    client.dispose();
    await eventually(async () => (await subscribe(socket)).live, 5000, 'the stream’s place back');
    await socket.client.dispose();
  });
});

/** The first result of a graphql-sse subscription to the slot counts. */
async function sseFirstResult(server: TestServer, token: string) {
  const response = await fetch(`${server.url}/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SLOTS }),
  });
  const reader = response.body!.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
    if (/^data: \{.*$/m.test(text)) break;
  }
  await reader.cancel();
  const line = text.split('\n').find((l) => l.startsWith('data: {'))!;
  return JSON.parse(line.slice('data: '.length)) as { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] };
}
