/**
 * What an instance's bus missed while it was cut off: presence changes and
 * seat counts reach its subscribers once the bus is back, room subscribers
 * check their access again (a permission change may be among what was
 * lost), and so does the next send of a member known to have access. Two
 * instances reach Redis through a proxy; the subscriber connections are
 * held while something happens on the other instance, then cut, so what
 * Redis sent them is lost and ioredis subscribes again (or only held: a bus
 * stalled while connected).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { closeWithin, collect, collectLive, connectSocket, eventually, gql, scaledEnv, startServer, stopAllServers, type TestServer, uuidOf } from '../helpers/server.ts';
import { Redis } from 'ioredis';
import { Channels, Keys } from '../../src/core/codes.ts';
import { claimsOf, endSessionInDatabaseOnly, logIn, signUp } from '../helpers/accounts.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { flushTestRedis } from '../helpers/redis.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND, storedMessages, warmUp } from '../rooms/helpers.ts';
import { startTcpProxy, type ProxiedConnection } from '../helpers/tcp-proxy.ts';

const PRESENCE = 'subscription { presence { user { id } status } }';
const SLOTS = 'subscription { connectionSlots { used } }';

/**
 * A link to Redis through a proxy that knows the subscriber connections
 * (those that send SUBSCRIBE): they can be held, cut, and, while `refusing`,
 * cut as soon as they subscribe again (the bus stays cut off).
 */
async function linkWithSubscribers() {
  const subscribers = new Set<ProxiedConnection>();
  /** What each subscriber connection holds back now (Redis's pushes, as text). */
  const held = new Map<ProxiedConnection, string>();
  const link = {
    subscribers,
    refusing: false,
    /** Subscriber connections cut as they subscribed again, while `refusing`. */
    refused: 0,
    proxy: await startTcpProxy(testRedisUrl, {
      watch: (connection) => (chunk) => {
        if (!chunk.toString().toUpperCase().includes('SUBSCRIBE')) return;
        if (link.refusing) {
          link.refused++;
          return connection.drop();
        }
        subscribers.add(connection);
      },
      heldBack: (connection, chunk) => void held.set(connection, (held.get(connection) ?? '') + chunk.toString()),
    }),
    /** Whether some subscriber connection holds back a push with `text` in it. */
    holds: (text: string) => [...held.values()].some((pushes) => pushes.includes(text)),
    /**
     * Publishes a message of its own (on the channel every instance listens to and ignores,
     * Channels.instances) and waits until every held subscriber connection holds it back:
     * what Redis sent them before, all that was published before it, is held there too.
     */
    async barrier() {
      const marker = `barrier ${randomUUID()}`;
      const publisher = new Redis(link.proxy.via(testRedisUrl));
      try {
        await publisher.publish(Channels.instances, JSON.stringify(marker));
      } finally {
        publisher.disconnect();
      }
      await eventually(() => [...subscribers].every((connection) => held.get(connection)?.includes(marker)), 5000, 'the barrier held back on every subscriber connection');
    },
    /** Cuts every subscriber connection: what Redis sent them and they did not pass on yet is lost. */
    dropSubscribers() {
      for (const connection of [...subscribers]) {
        subscribers.delete(connection);
        connection.drop();
      }
      held.clear();
    },
    /** Passes on what was held back, and holds nothing more. */
    release() {
      link.proxy.release();
      held.clear();
    },
  };
  return link;
}

let link: Awaited<ReturnType<typeof linkWithSubscribers>>;
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  await flushTestRedis();
  link = await linkWithSubscribers();
  const env = { ...scaledEnv(), REDIS_URL: link.proxy.via(testRedisUrl) };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(async () => {
  await stopAllServers();
  await link.proxy.stop();
});

/** Holds what Redis sends to every subscriber connection, runs `meanwhile`, then cuts those connections: what they held is lost. */
async function cutTheBus(meanwhile: () => Promise<void>) {
  for (const connection of link.subscribers) connection.held = true;
  await meanwhile();
  await link.barrier();
  link.dropSubscribers();
}

/** Holds what Redis sends to every subscriber connection while `meanwhile` runs (a bus stalled, still connected), then passes it on. */
async function whileHeld(meanwhile: () => Promise<void>) {
  for (const connection of link.subscribers) connection.held = true;
  try {
    await meanwhile();
  } finally {
    link.release();
  }
}

/**
 * A room made on b whose member, on a, subscribes to it and sends there
 * twice, so that a knows the member has access (and would not check again
 * until told of a change). The owner's subscription on a keeps the room
 * open there after the member's has ended.
 */
async function memberKnownOnA() {
  const owner = await signUp(b);
  const member = await signUp(a);
  const room = (await createRoom(b, owner.accessToken)).id;
  await gql(a, JOIN, { id: room }, { token: member.accessToken });
  const socket = connectSocket(a, { token: member.accessToken });
  const keeper = connectSocket(a, { token: owner.accessToken });
  await Promise.all([socket.acked, keeper.acked]);
  const messages = collect(socket.client, ROOM_MESSAGES, { id: room });
  const kept = collect(keeper.client, ROOM_MESSAGES, { id: room });
  await warmUp(b, owner.accessToken, room, () => messages.results.length > 0 && kept.results.length > 0);
  for (const body of ['known 1', 'known 2']) expect((await gql(a, SEND, { id: room, body }, { token: member.accessToken })).data?.sendMessage.body).toBe(body);
  const ownerOnly = () => gql(b, 'mutation($id: ID!) { updateRoom(id: $id, input: { permission: OWNER_ONLY }) { permission } }', { id: room }, { token: owner.accessToken });
  const send = (body: string) => gql(a, SEND, { id: room, body }, { token: member.accessToken });
  return { owner, member, room, messages, kept, send, ownerOnly, dispose: () => Promise.all([socket.client.dispose(), keeper.client.dispose()]) };
}

/** A socket on a with `queries` subscribed; resolves once a counts each of them started (what is published after reaches it). */
async function subscribedOnA(token: string, queries: string[]) {
  const socket = connectSocket(a, { token });
  await socket.acked;
  const streams = [];
  for (const query of queries) streams.push(await collectLive(a, socket.client, query));
  return { streams, dispose: () => socket.client.dispose() };
}

describe('after a bus outage', () => {
  it("an instance's subscribers get the presence changes and seat counts they missed, once, and then live ones again", async () => {
    const watcher = await signUp(a);
    const leaver = await signUp(b);
    const watching = connectSocket(a, { token: watcher.accessToken });
    await watching.acked;
    // Live on a before the leaver connects: its ONLINE is published once, and a subscription not yet started misses it.
    const presence = await collectLive(a, watching.client, PRESENCE);
    const slots = await collectLive(a, watching.client, SLOTS);
    const statusesOf = (userId: string) => presence.results.map((r) => r.data!.presence).filter((p) => p.user.id === userId).map((p) => p.status as string);
    const leaving = connectSocket(b, { token: leaver.accessToken });
    await leaving.acked;
    await expect.poll(() => statusesOf(leaver.id)).toEqual(['ONLINE']);
    await expect.poll(() => slots.results.at(-1)?.data?.connectionSlots.used).toBe(2);

    // The leaver's socket closes on the other instance while the bus is held, then the bus is cut.
    await cutTheBus(async () => {
      await leaving.client.dispose();
      await leaving.closed;
      // Its OFFLINE, published once its seat is freed, reaches Redis and is held back.
      await eventually(() => link.holds(`"userId":"${uuidOf(leaver.id)}","status":"OFFLINE"`), 5000, 'the OFFLINE held back');
      await link.barrier();
      expect(statusesOf(leaver.id)).toEqual(['ONLINE']);
    });

    await expect.poll(() => statusesOf(leaver.id), { timeout: 10_000 }).toEqual(['ONLINE', 'OFFLINE']);
    await expect.poll(() => slots.results.at(-1)?.data?.connectionSlots.used, { timeout: 10_000 }).toBe(1);
    // Live again: the leaver comes back.
    const back = connectSocket(b, { token: leaver.accessToken });
    await back.acked;
    await expect.poll(() => statusesOf(leaver.id)).toEqual(['ONLINE', 'OFFLINE', 'ONLINE']);
    await Promise.all([watching.client.dispose(), back.client.dispose()]);
  }, 30_000);

  it("a session ended in the database alone (its instance gone before it told anyone) closes its socket with 4001 once the socket's instance has its bus back; its token is refused there", async () => {
    const user = await signUp(a);
    const socket = connectSocket(a, { token: user.accessToken });
    await socket.acked;
    await cutTheBus(() => endSessionInDatabaseOnly(user.accessToken).then(() => undefined));
    const closed = await closeWithin(socket, 10_000);
    expect(closed).toMatchObject({ code: 4001 });
    expect((await gql(a, '{ me { id } }', {}, { token: user.accessToken })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  }, 30_000);

  it('a session replaced while the bus was cut (a new login on the other instance) closes its socket with 4002, not 4001, once the bus is back', async () => {
    const user = await signUp(a);
    const socket = connectSocket(a, { token: user.accessToken });
    await socket.acked;
    await cutTheBus(() => logIn(b, user.username, user.password).then(() => undefined));
    const closed = await closeWithin(socket, 10_000);
    expect(closed).toMatchObject({ code: 4002 });
  }, 30_000);

  it("a session ended in the database alone as replaced: the first instance whose bus is back closes its socket with 4002 and writes that reason to shared state, where an instance that learns it later finds it", async () => {
    // A third instance with its own link to Redis, whose bus stays cut off until told.
    const linkOfC = await linkWithSubscribers();
    const c = await startServer({ ...scaledEnv(), REDIS_URL: linkOfC.proxy.via(testRedisUrl) });
    try {
      const user = await signUp(a);
      const [onA, onC] = [connectSocket(a, { token: user.accessToken }), connectSocket(c, { token: user.accessToken })];
      await Promise.all([onA.acked, onC.acked]);
      linkOfC.refusing = true;
      linkOfC.dropSubscribers();
      await cutTheBus(() => endSessionInDatabaseOnly(user.accessToken, 'session_replaced').then(() => undefined));
      expect(await closeWithin(onA, 10_000)).toMatchObject({ code: 4002 });
      // What a wrote for the others: the database's reason.
      const shared = new Redis(testRedisUrl);
      expect(await shared.get(Keys.revokedSession(claimsOf(user.accessToken).sid)).finally(() => shared.disconnect())).toBe('session_replaced');
      expect(await closeWithin(onC, 300)).toBe('still open');
      // c's bus comes back: it reads that shared state, and the database.
      linkOfC.refusing = false;
      expect(await closeWithin(onC, 10_000)).toMatchObject({ code: 4002 });
    } finally {
      await c.stop();
      await linkOfC.proxy.stop();
    }
  }, 30_000);

  it('roomPresence: the joins and leaves made while the bus was cut reach the subscribers once it is back, once each', async () => {
    const owner = await signUp(b);
    const [stayer, leaver, joiner, late] = await Promise.all([signUp(b), signUp(b), signUp(b), signUp(b)]);
    const room = (await createRoom(b, owner.accessToken)).id;
    await gql(b, JOIN, { id: room }, { token: leaver.accessToken });
    const socket = connectSocket(a, { token: owner.accessToken });
    await socket.acked;
    const events = collect(socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } } }', { id: room }, { on: a });
    const seen = () => events.results.map((r) => [r.data!.roomPresence.kind, r.data!.roomPresence.user.id]);
    // Live: a join heard as it happens (once the subscription has started).
    await events.live;
    await gql(b, JOIN, { id: room }, { token: stayer.accessToken });
    await expect.poll(() => seen()).toEqual([['JOINED', stayer.id]]);

    await cutTheBus(async () => {
      await gql(b, JOIN, { id: room }, { token: joiner.accessToken });
      await gql(b, 'mutation($id: ID!) { leaveRoom(roomId: $id) }', { id: room }, { token: leaver.accessToken });
      await link.barrier();
      expect(seen()).toHaveLength(1);
    });

    await expect.poll(() => seen().length, { timeout: 10_000 }).toBe(3);
    expect(seen().slice(1)).toEqual(expect.arrayContaining([['JOINED', joiner.id], ['LEFT', leaver.id]]));
    // Once each: a live join after them is the next thing heard.
    await gql(b, JOIN, { id: room }, { token: late.accessToken });
    await expect.poll(() => seen().length).toBe(4);
    expect(seen()[3]).toEqual(['JOINED', late.id]);
    await socket.client.dispose();
  }, 30_000);

  it('roomPresence: a member deleted while the bus was cut is not shown leaving (no user to show) and no error reaches the subscriber', async () => {
    const owner = await signUp(b);
    const [gone, joiner, late] = await Promise.all([signUp(b), signUp(b), signUp(b)]);
    const room = (await createRoom(b, owner.accessToken)).id;
    await gql(b, JOIN, { id: room }, { token: gone.accessToken });
    const socket = connectSocket(a, { token: owner.accessToken });
    await socket.acked;
    const events = collect(socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } } }', { id: room }, { on: a });
    await events.live;

    await cutTheBus(async () => {
      const deleted = await gql(b, 'mutation($password: String!) { deleteAccount(password: $password) }', { password: gone.password }, { token: gone.accessToken });
      expect(deleted.errors).toBeUndefined();
      await gql(b, JOIN, { id: room }, { token: joiner.accessToken });
    });

    await expect.poll(() => events.results.length, { timeout: 10_000 }).toBeGreaterThan(0);
    // A live join after it is the next thing heard: no LEFT and no error came between.
    await gql(b, JOIN, { id: room }, { token: late.accessToken });
    await expect.poll(() => events.results.length).toBe(2);
    expect(events.results).toEqual([
      { data: { roomPresence: { kind: 'JOINED', user: { id: joiner.id } } } },
      { data: { roomPresence: { kind: 'JOINED', user: { id: late.id } } } },
    ]);
    await socket.client.dispose();
  }, 30_000);

  it('roomListChanges: a room made while the bus was cut is not heard, so once it is back the subscriber is told to read its list again (RESYNC); live changes follow', async () => {
    const [viewer, owner] = await Promise.all([signUp(a), signUp(b)]);
    const {
      streams: [changes],
      dispose,
    } = await subscribedOnA(viewer.accessToken, ['subscription { roomListChanges { kind roomId room { name } } }']);
    const seen = () => changes!.results.map((r) => [r.data!.roomListChanges.kind, r.data!.roomListChanges.room?.name ?? null]);
    // The opening RESYNC comes first.
    await changes!.waitFor(1);
    const from = 1;
    expect(seen()).toEqual([['RESYNC', null]]);

    await cutTheBus(async () => {
      await createRoom(b, owner.accessToken, { name: 'while cut' });
    });
    await expect.poll(() => seen().slice(from), { timeout: 10_000 }).toEqual([['RESYNC', null]]);
    expect(changes!.results.at(-1)!.data!.roomListChanges.roomId).toBeNull();
    await createRoom(b, owner.accessToken, { name: 'after' });
    await expect.poll(() => seen().slice(from)).toEqual([['RESYNC', null], ['ADDED', 'after']]);
    await dispose();
  }, 30_000);

  it('an invitation whose room is deleted before the invitee\'s instance hears of it is skipped: roomInvitations says nothing, roomListChanges only that the room is gone', async () => {
    const [owner, invitee] = await Promise.all([signUp(b), signUp(a)]);
    const invite = async (name: string) => {
      const room = await createRoom(b, owner.accessToken, { name, permission: 'PRIVATE' });
      await gql(b, 'mutation($room: ID!, $user: ID!) { inviteToRoom(roomId: $room, userId: $user) { id } }', { room: room.id, user: invitee.id }, { token: owner.accessToken });
      return room.id;
    };
    const {
      streams: [invitations, changes],
      dispose,
    } = await subscribedOnA(invitee.accessToken, ['subscription { roomInvitations { room { name } } }', 'subscription { roomListChanges { kind roomId room { name } } }']);
    // Nothing invited yet; the room list opens with RESYNC.
    await changes!.waitFor(1);
    const [invitedFrom, changedFrom] = [0, 1];

    let gone = '';
    await whileHeld(async () => {
      gone = await invite('deleted before it is heard');
      expect((await gql(b, 'mutation($id: ID!) { deleteRoom(id: $id) }', { id: gone }, { token: owner.accessToken })).data).toEqual({ deleteRoom: true });
    });
    await invite('next');
    await expect.poll(() => invitations!.results.slice(invitedFrom).map((r) => r.data!.roomInvitations.room.name), { timeout: 10_000 }).toEqual(['next']);
    await expect
      .poll(() => changes!.results.slice(changedFrom).map((r) => [r.data!.roomListChanges.kind, r.data!.roomListChanges.roomId, r.data!.roomListChanges.room?.name ?? null]), { timeout: 10_000 })
      .toEqual([
        ['REMOVED', gone, null],
        ['ADDED', expect.any(String), 'next'],
      ]);
    await dispose();
  }, 30_000);

  it('a room subscriber that lost access while the bus was cut is told FORBIDDEN once it is back, gets nothing more, and may no longer send', async () => {
    const { owner, room, messages, kept, send, ownerOnly, dispose } = await memberKnownOnA();
    await cutTheBus(async () => {
      expect((await ownerOnly()).data.updateRoom.permission).toBe('OWNER_ONLY');
    });

    await expect.poll(() => messages.completed, { timeout: 10_000 }).toBe(true);
    expect(messages.results.at(-1)!.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const refused = await send('after');
    // Removed by the change from a room it may not see: NOT_FOUND, as for any stranger.
    expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await storedMessages(room)).map((m) => m.body)).not.toContain('after');
    const seen = messages.results.length;
    await gql(b, SEND, { id: room, body: 'owner only' }, { token: owner.accessToken });
    // The owner re-checked in the same turn, and kept its access.
    await expect.poll(() => kept.results.some((r) => r.data?.roomMessages.body === 'owner only')).toBe(true);
    expect(kept.completed).toBe(false);
    expect(messages.results.length).toBe(seen);
    await dispose();
  }, 30_000);

  it("while the bus is cut off, a member's send is checked against the database, not against what the instance knew", async () => {
    const { room, messages, send, ownerOnly, dispose } = await memberKnownOnA();
    link.refusing = true;
    try {
      link.dropSubscribers();
      // Each instance's subscriber comes back 200 ms after it noticed the cut (redis.ts), and is cut
      // again as it subscribes: two refusals, one each, say both instances know their bus is down.
      await eventually(() => link.refused >= 2, 5000, 'both subscribers refused');
      // Unheard by either instance: the bus is down.
      expect((await ownerOnly()).data.updateRoom.permission).toBe('OWNER_ONLY');
      const refused = await send('while cut off');
      expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect((await storedMessages(room)).map((m) => m.body)).not.toContain('while cut off');
    } finally {
      link.refusing = false;
    }
    await expect.poll(() => messages.completed, { timeout: 10_000 }).toBe(true);
    await dispose();
  }, 30_000);

  it('a send trusted on what the instance knew, to a room deleted meanwhile, is refused with NOT_FOUND', async () => {
    const { owner, room, send, dispose } = await memberKnownOnA();
    // The deletion is not heard on a while its bus is held: a still trusts the member's access.
    await whileHeld(async () => {
      expect((await gql(b, 'mutation($id: ID!) { deleteRoom(id: $id) }', { id: room }, { token: owner.accessToken })).data).toEqual({ deleteRoom: true });
      const refused = await send('to a deleted room');
      expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });
    await dispose();
  }, 30_000);

  it('a bus that stalls without disconnecting hides a leave for at most 5 s: then the send is checked against the database again', async () => {
    const { member, room, send, dispose } = await memberKnownOnA();
    await whileHeld(async () => {
      await gql(b, 'mutation($id: ID!) { leaveRoom(roomId: $id) }', { id: room }, { token: member.accessToken });
      // Clock: past the 5 s an access grant is trusted for.
      await new Promise((resolve) => setTimeout(resolve, 5200));
      expect((await send('after the stall')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await storedMessages(room)).map((m) => m.body)).not.toContain('after the stall');
    });
    await dispose();
  }, 30_000);
});
