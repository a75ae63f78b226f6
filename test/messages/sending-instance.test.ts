/**
 * A message reaches the subscribers on the instance that stored it without
 * waiting for the bus, and the bus's copy, when it comes, is not delivered
 * again; a stored message whose publish failed is published again, and so
 * are a leave and a join, in their order, and an ended session, without
 * failing the mutation that made them. Two instances reach Redis through a
 * proxy that can hold back what Redis sends on the subscriber connections (a
 * bus that has stalled) and cut the connection a PUBLISH goes out on (Redis
 * dying between commit and publish); a third has a link of its own whose
 * command connections can be cut off alone (Redis out of reach for them):
 * what it gives up, the others re-read once Redis answers it again. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/messages/service.ts';
import { closeWithin, collect, collectLive, connectSocket, gql, metric, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp, type TestAccount } from '../helpers/accounts.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { privateRedisForSuite } from '../helpers/redis-server.ts';
import { startTcpProxy, type ProxiedConnection, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { createRoom, JOIN, memberWatching, ROOM_MESSAGES, SEND, SKIPPED, storedMessages, untilAlone, warmUp } from '../rooms/helpers.ts';

const redisUrl = privateRedisForSuite();
let redis: TcpProxy;
/** Connections that have sent SUBSCRIBE: the bus's subscriber connections. */
const subscribers = new Set<{ held: boolean }>();
/** While true, a connection that sends PUBLISH is cut before Redis sees it. */
let cutPublishes = false;
/** While true, the next connection that sends a send's rate-limit script is cut once its answer is through. */
let cutAfterScript = false;
const scripting = new WeakSet<ProxiedConnection>();
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  redis = await startTcpProxy(redisUrl(), {
    watch: (connection) => (chunk) => {
      const command = chunk.toString().toUpperCase();
      if (command.includes('SUBSCRIBE')) subscribers.add(connection);
      if (cutPublishes && command.includes('PUBLISH')) connection.drop();
      // The send's own limits (their keys are in the message group), not a seat renewal's or presence's script.
      if (cutAfterScript && command.includes('EVALSHA') && command.includes('RL:{MESSAGE}:MESSAGE-USER')) scripting.add(connection);
    },
    passedOn: (connection) => {
      if (!scripting.has(connection)) return;
      scripting.delete(connection);
      cutAfterScript = false;
      connection.drop();
    },
  });
  const env = { DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.via(redisUrl()) };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(async () => {
  await stopAllServers();
  await redis.stop();
});

/** `watcher`'s roomMessages subscriptions on both instances, each known to be live, and their bodies. */
async function watchOnBoth(room: string, sender: TestAccount, watcher: TestAccount) {
  const [onA, onB] = [connectSocket(a, { token: watcher.accessToken }), connectSocket(b, { token: watcher.accessToken })];
  await Promise.all([onA.acked, onB.acked]);
  const here = collect(onA.client, ROOM_MESSAGES, { id: room });
  const there = collect(onB.client, ROOM_MESSAGES, { id: room });
  await warmUp(a, sender.accessToken, room, () => here.results.length > 0 && there.results.length > 0);
  const bodies = (view: typeof here) => view.results.map((r) => r.data!.roomMessages.body as string);
  return { here, there, bodies, close: () => Promise.all([onA.client.dispose(), onB.client.dispose()]) };
}

/**
 * A third instance with a link of its own to Redis, whose command connections alone can be cut off
 * (`cutOff`: cut, and new ones refused until `reconnect`) while its subscriber connection stays.
 */
async function instanceWithItsOwnLinkToRedis(env: Record<string, string> = {}) {
  const commandConnections = new Set<ProxiedConnection>();
  const link = await startTcpProxy(redisUrl(), {
    watch: (connection) => {
      commandConnections.add(connection);
      return (chunk) => {
        if (chunk.toString().toUpperCase().includes('SUBSCRIBE')) commandConnections.delete(connection);
      };
    },
  });
  const server = await startServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: link.via(redisUrl()), ...env });
  return {
    server,
    cutOff() {
      link.pause();
      for (const connection of commandConnections) connection.drop();
    },
    reconnect: () => link.start(),
    async stop() {
      await server.stop();
      await link.stop();
    },
  };
}

describe('the instance that stores a message', () => {
  it('delivers it to its own subscribers at once; the other instance gets it from the bus; nobody gets it twice', async () => {
    const owner = await signUp(a);
    const reader = await signUp(a);
    const room = (await createRoom(a, owner.accessToken)).id;
    await gql(a, JOIN, { id: room }, { token: reader.accessToken });
    const { here, there, bodies, close } = await watchOnBoth(room, owner, reader);
    await gql(a, SEND, { id: room, body: 'ready' }, { token: owner.accessToken });
    await expect.poll(() => bodies(here).at(-1) === 'ready' && bodies(there).at(-1) === 'ready').toBe(true);
    const [hereBefore, thereBefore] = [here.results.length, there.results.length];

    // The bus stalls: Redis takes the publishes but nothing reaches any instance's subscriber connection.
    for (const connection of subscribers) connection.held = true;
    for (const body of ['one', 'two', 'three']) await gql(a, SEND, { id: room, body }, { token: owner.accessToken });
    await expect.poll(() => bodies(here).slice(hereBefore)).toEqual(['one', 'two', 'three']);
    expect(there.results.length).toBe(thereBefore);

    redis.release();
    await expect.poll(() => bodies(there).slice(thereBefore)).toEqual(['one', 'two', 'three']);
    await gql(a, SEND, { id: room, body: 'four' }, { token: owner.accessToken });
    await expect.poll(() => bodies(there).at(-1)).toBe('four');
    await expect.poll(() => bodies(here).at(-1)).toBe('four');
    expect(bodies(here).slice(hereBefore)).toEqual(['one', 'two', 'three', 'four']);
    await close();
  });

  it('answers a send at once when Redis is gone between its commit and its publish, and publishes it once Redis is back', async () => {
    const owner = await signUp(a);
    const room = (await createRoom(a, owner.accessToken)).id;
    const { here, there, bodies, close } = await watchOnBoth(room, owner, owner);
    const count = (view: typeof here, body: string) => bodies(view).filter((b) => b === body).length;

    // No warm-up's publish may still be on its way (a send is answered before its publish leaves): b has the last one.
    const lastWarmUp = encodeCursor((await storedMessages(room)).at(-1)!.seq);
    await expect.poll(() => there.results.some((r) => r.data?.roomMessages.cursor === lastWarmUp)).toBe(true);
    // Cut while the PUBLISH is on its way: ioredis sends it again once reconnected.
    cutPublishes = true;
    const inFlight = await gql(a, SEND, { id: room, body: 'cut in flight' }, { token: owner.accessToken });
    expect(inFlight.errors).toBeUndefined();
    expect(inFlight.data.sendMessage.body).toBe('cut in flight');
    await expect.poll(() => bodies(here).at(-1)).toBe('cut in flight');
    expect(count(there, 'cut in flight')).toBe(0);
    cutPublishes = false;
    await expect.poll(() => count(there, 'cut in flight'), { timeout: 10_000 }).toBe(1);

    // Cut after the rate limit answered: the connection is down when the publish comes, which fails and is retried.
    cutAfterScript = true;
    const refusedPublish = await gql(a, SEND, { id: room, body: 'publish refused' }, { token: owner.accessToken });
    expect(refusedPublish.data.sendMessage.body).toBe('publish refused');
    await expect.poll(() => a.logs.some((line) => line.includes('bus message not published yet') && line.includes('"event":"message"'))).toBe(true);
    await expect.poll(() => count(there, 'publish refused'), { timeout: 10_000 }).toBe(1);
    expect([count(here, 'cut in flight'), count(here, 'publish refused')]).toEqual([1, 1]);
    await close();
  }, 30_000);

  it("answers a leave and a join whose publishes fail, and tells the other instance of both once Redis answers again, in their order", async () => {
    const { server: c, cutOff, reconnect, stop } = await instanceWithItsOwnLinkToRedis();
    try {
      const [owner, member] = await Promise.all([signUp(c), signUp(c)]);
      const room = (await createRoom(c, owner.accessToken)).id;
      const leave = () => gql(c, 'mutation($id: ID!) { leaveRoom(roomId: $id) }', { id: room }, { token: member.accessToken });
      const join = () => gql(c, JOIN, { id: room }, { token: member.accessToken });
      const watching = connectSocket(b, { token: owner.accessToken });
      await watching.acked;
      const presence = await collectLive(b, watching.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } } }', { id: room });
      const heard = () => presence.results.map((r) => `${r.data!.roomPresence.kind} ${r.data!.roomPresence.user.id}`);
      await join();
      await expect.poll(() => heard().includes(`JOINED ${member.id}`), { timeout: 10_000 }).toBe(true);
      const from = heard().length;

      cutOff();
      const [left, joined] = [await leave(), await join()];
      expect([left.errors, joined.errors]).toEqual([undefined, undefined]);
      expect([left.data.leaveRoom, joined.data.joinRoom.id]).toEqual([true, room]);
      await expect.poll(() => c.logs.some((line) => line.includes('bus message not published yet') && line.includes('"event":"left"')), { timeout: 10_000 }).toBe(true);
      expect(heard().slice(from)).toEqual([]);
      await reconnect();
      await expect.poll(() => heard().slice(from), { timeout: 15_000 }).toEqual([`LEFT ${member.id}`, `JOINED ${member.id}`]);
      await watching.client.dispose();
    } finally {
      await stop();
    }
  }, 40_000);

  it("gives up a member's removal it could not publish, and once Redis answers asks every instance to re-read: the member's subscription elsewhere ends with FORBIDDEN", async () => {
    const { server: c, cutOff, reconnect, stop } = await instanceWithItsOwnLinkToRedis({ BUS_GIVE_UP_AFTER: '1' });
    try {
      const { owner, member, room, socket: reading, messages } = await memberWatching(c, b, a);

      cutOff();
      const removed = await gql(c, 'mutation($room: ID!, $user: ID!) { removeFromRoom(roomId: $room, userId: $user) { memberCount } }', { room, user: member.id }, { token: owner.accessToken });
      expect(removed.errors).toBeUndefined();
      await expect.poll(() => c.logs.some((line) => line.includes('given up') && line.includes('"event":"left"')), { timeout: 10_000 }).toBe(true);
      // b never heard of it: the removed member is still subscribed there.
      expect(messages.completed).toBe(false);

      await reconnect();
      await expect.poll(() => messages.completed, { timeout: 20_000 }).toBe(true);
      expect(messages.results.at(-1)!.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      await reading.client.dispose();
    } finally {
      await stop();
    }
  }, 60_000);

  it("answers a logout on an instance whose commands cannot reach Redis, refuses the token there at once, and closes the session's socket on the other instance once Redis answers", async () => {
    const { server: c, cutOff, reconnect, stop } = await instanceWithItsOwnLinkToRedis();
    try {
      const user = await signUp(c);
      const socket = connectSocket(b, { token: user.accessToken });
      await socket.acked;
      cutOff();
      const out = await gql(c, 'mutation { logout }', {}, { token: user.accessToken });
      expect([out.errors, out.data?.logout]).toEqual([undefined, true]);
      expect((await gql(c, '{ me { id } }', {}, { token: user.accessToken })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      await expect.poll(() => c.logs.some((line) => line.includes('bus message not published yet') && line.includes('"sessionId"')), { timeout: 10_000 }).toBe(true);
      await reconnect();
      const closed = await closeWithin(socket, 15_000);
      expect(closed).toMatchObject({ code: 4001 });
    } finally {
      await stop();
    }
  }, 40_000);
});

/** A third instance whose subscriber connection to Redis can be held (what Redis sends it waits: it hears nothing). */
async function instanceWhoseBusCanBeHeld() {
  const subscriberConnections = new Set<ProxiedConnection>();
  const link = await startTcpProxy(redisUrl(), {
    watch: (connection) => (chunk) => {
      if (chunk.toString().toUpperCase().includes('SUBSCRIBE')) subscriberConnections.add(connection);
    },
  });
  const server = await startServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: link.via(redisUrl()) });
  return {
    server,
    hold: () => subscriberConnections.forEach((connection) => (connection.held = true)),
    release: () => link.release(),
    async stop() {
      await server.stop();
      await link.stop();
    },
  };
}

/**
 * A room alone on `c` (its owner subscribed there, its messages held back), then `c` held (it hears
 * nothing, so not that b begins to listen) and the owner subscribed on b (live, without `after`: from
 * what is stored when the room opens there). `send` sends on c; each call must hold its message back.
 */
async function aloneOnCWhileBBeginsToListen(c: Awaited<ReturnType<typeof instanceWhoseBusCanBeHeld>>) {
  const owner = await signUp(c.server);
  const room = (await createRoom(c.server, owner.accessToken)).id;
  const onC = connectSocket(c.server, { token: owner.accessToken });
  await onC.acked;
  await collectLive(c.server, onC.client, ROOM_MESSAGES, { id: room });
  await untilAlone(c.server, owner.accessToken, room);
  c.hold();
  const onB = connectSocket(b, { token: owner.accessToken });
  await onB.acked;
  const there = await collectLive(b, onB.client, ROOM_MESSAGES, { id: room });
  return {
    onC,
    onB,
    bodiesOnB: () => there.results.map((r) => r.data!.roomMessages.body as string),
    send: (body: string) => gql(c.server, SEND, { id: room, body }, { token: owner.accessToken }),
    async sendHeldBack(body: string) {
      const before = await metric(c.server, SKIPPED);
      await gql(c.server, SEND, { id: room, body }, { token: owner.accessToken });
      expect(await metric(c.server, SKIPPED)).toBe(before + 1);
    },
  };
}

describe('a room no other instance listens to', () => {
  it('has its messages published by nobody; once another instance listens, they reach it again, each once, with no gap', async () => {
    const owner = await signUp(a);
    const room = (await createRoom(a, owner.accessToken)).id;
    const onA = connectSocket(a, { token: owner.accessToken });
    await onA.acked;
    const here = await collectLive(a, onA.client, ROOM_MESSAGES, { id: room });
    await untilAlone(a, owner.accessToken, room);

    const before = await metric(a, SKIPPED);
    for (const body of ['one', 'two', 'three']) await gql(a, SEND, { id: room, body }, { token: owner.accessToken });
    expect(await metric(a, SKIPPED)).toBe(before + 3);
    await expect.poll(() => here.results.slice(-3).map((r) => r.data!.roomMessages.body)).toEqual(['one', 'two', 'three']);

    // b begins to listen, from the last message stored: what a sends from now on reaches it.
    const onB = connectSocket(b, { token: owner.accessToken });
    await onB.acked;
    const last = (await storedMessages(room)).at(-1)!;
    const there = await collectLive(b, onB.client, ROOM_MESSAGES, { id: room, after: encodeCursor(last.seq) });
    for (const body of ['four', 'five']) await gql(a, SEND, { id: room, body }, { token: owner.accessToken });
    await expect.poll(() => there.results.map((r) => r.data!.roomMessages.body)).toEqual(['four', 'five']);
    await expect.poll(() => here.results.slice(-5).map((r) => r.data!.roomMessages.body)).toEqual(['one', 'two', 'three', 'four', 'five']);
    await Promise.all([onA.client.dispose(), onB.client.dispose()]);
  }, 30_000);

  it('publishes the last message it held back once it hears that another instance began to listen, which then reads any it missed from the store', async () => {
    const c = await instanceWhoseBusCanBeHeld();
    try {
      const { onC, onB, bodiesOnB, send, sendHeldBack } = await aloneOnCWhileBBeginsToListen(c);
      for (const body of ['unheard 1', 'unheard 2']) await sendHeldBack(body);
      expect(bodiesOnB()).toEqual([]);

      // c hears it: it publishes the last one held back, and b reads the one before from the store.
      c.release();
      await expect.poll(bodiesOnB, { timeout: 10_000 }).toEqual(['unheard 1', 'unheard 2']);
      await send('heard');
      await expect.poll(bodiesOnB).toEqual(['unheard 1', 'unheard 2', 'heard']);
      await Promise.all([onC.client.dispose(), onB.client.dispose()]);
    } finally {
      await c.stop();
    }
  }, 40_000);

  it('publishes the last message it held back when it stops listening to the room', async () => {
    const c = await instanceWhoseBusCanBeHeld();
    try {
      const { onC, onB, bodiesOnB, sendHeldBack } = await aloneOnCWhileBBeginsToListen(c);
      await sendHeldBack('held back');
      // c's last subscriber of the room leaves while c still has not heard of b.
      await onC.client.dispose();
      await expect.poll(bodiesOnB, { timeout: 10_000 }).toEqual(['held back']);
      c.release();
      await onB.client.dispose();
    } finally {
      await c.stop();
    }
  }, 40_000);
});
