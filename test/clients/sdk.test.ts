/**
 * The client SDK against real servers (PostgreSQL + Redis): token renewal
 * over the live socket, reconnects after 4003 and after a network drop (to
 * another instance) with roomMessages resumed from the last cursor, the end
 * of the session elsewhere, refused seats, and sendMessage retried with the
 * same idempotency key when its answer is lost.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateRoomDocument, DeleteRoomDocument, InviteToRoomDocument, JoinRoomDocument, MessagesDocument, RemoveFromRoomDocument, RoomDocument, SlotsChangedDocument, UpdateRoomDocument } from '../../client/documents.ts';
import type { Message, SessionEnd, SwitchboardClient } from '../../client/sdk.ts';
import { eventually, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer, nextSubscriptionStart, sharedServer } from '../helpers/server.ts';
import { freePort } from '../helpers/ports.ts';
import { emptyRedisDatabase } from '../helpers/redis.ts';
import { account, closeClients, password, portOf, room, sdk, statusOf, tcpProxy } from './helpers.ts';

const ttl = 3;

/** Sends `count` messages from `sender` one after another, `gapMs` apart; returns their bodies in order. */
async function sendSeries(sender: SwitchboardClient, roomId: string, count: number, gapMs: number, prefix: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    const body = `${prefix} ${i}`;
    await sender.sendMessage(roomId, body);
    bodies.push(body);
    // Paced on the clock: the traffic has to span token lifetimes and reconnects.
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return bodies;
}

/**
 * Sends one message more and waits for it: a repeat of anything sent before
 * would have arrived before it (one room, one stream, in order). Returns its body.
 */
async function lastOne(sender: SwitchboardClient, roomId: string, received: Message[]): Promise<string> {
  const [body] = await sendSeries(sender, roomId, 1, 0, 'last');
  await eventually(() => received.some((m) => m.body === body), 10_000, 'the last message');
  return body!;
}

/** Signs in an SDK client and records what it receives. */
async function signedIn(server: Pick<TestServer, 'graphqlUrl'>, user: { username: string }, options: Parameters<typeof sdk>[1] = {}) {
  const client = sdk(server, options);
  const ended: SessionEnd[] = [];
  const connections: boolean[] = [];
  let tokenChanges = 0;
  client.on('ended', (end) => ended.push(end));
  client.on('connected', ({ reconnected }) => connections.push(reconnected));
  client.on('tokens', () => tokenChanges++);
  await client.login(user.username, password);
  await statusOf(client, 'connected');
  return { client, ended, connections, tokenChanges: () => tokenChanges };
}

describe('SDK', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: String(ttl), SINGLE_SESSION: 'true', MESSAGE_RATE_PER_USER: '1000' });
  });
  afterEach(() => closeClients());
  afterAll(() => stopAllServers());

  // The tests that move a client to a second instance share one, started by the first of them: a start costs
  // seconds of CPU (test/helpers/server.ts), and the liveRooms test sends no message, so the raised rate is moot there.
  const otherInstance = sharedServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: String(ttl), MESSAGE_RATE_PER_USER: '1000' });

  it('renews the access token over the live socket before it expires: one connection, every message once, in order', async () => {
    const alice = await account(server, 'al');
    const bob = await account(server, 'bo');
    const roomId = await room(server, alice, [bob]);
    const reader = await signedIn(server, alice);
    const sender = await signedIn(server, bob);
    const received: Message[] = [];
    const seed = await sender.client.sendMessage(roomId, 'seed');
    reader.client.roomMessages(roomId, { next: (m) => received.push(m) }, { after: seed.cursor });

    // About three token lifetimes of traffic.
    const sent = await sendSeries(sender.client, roomId, 30, (ttl * 1000 * 3) / 30, 'renew');
    await eventually(() => received.length >= sent.length, 10_000, 'all messages');
    const last = await lastOne(sender.client, roomId, received);

    expect(received.map((m) => m.body)).toEqual([...sent, last]);
    expect(reader.connections).toEqual([false]);
    expect(reader.tokenChanges()).toBeGreaterThanOrEqual(3);
    expect(reader.ended).toEqual([]);
    expect(reader.client.status).toBe('connected');
  });

  it('reconnects with a fresh token after 4003 and resumes roomMessages from its last cursor: no gap, no duplicate', async () => {
    const alice = await account(server, 'al');
    const bob = await account(server, 'bo');
    const roomId = await room(server, alice, [bob]);
    // No timer renewal: the server closes the socket with 4003 at each expiry.
    const reader = await signedIn(server, alice, { autoRefresh: false });
    const sender = await signedIn(server, bob);
    const received: Message[] = [];
    const seed = await sender.client.sendMessage(roomId, 'seed');
    reader.client.roomMessages(roomId, { next: (m) => received.push(m) }, { after: seed.cursor });

    const sent = await sendSeries(sender.client, roomId, 30, (ttl * 1000 * 3) / 30, 'expiry');
    await eventually(() => received.length >= sent.length, 15_000, 'all messages');
    const last = await lastOne(sender.client, roomId, received);

    expect(received.map((m) => m.body)).toEqual([...sent, last]);
    expect(reader.connections.length).toBeGreaterThanOrEqual(2);
    expect(reader.connections.slice(1).every(Boolean)).toBe(true);
    expect(reader.ended).toEqual([]);
  });

  it('after a network drop reconnects to another instance and replays what it missed, once', async () => {
    const other = await otherInstance();
    const proxy = await tcpProxy({ port: portOf(server) });
    try {
      const alice = await account(server, 'al');
      const bob = await account(server, 'bo');
      const roomId = await room(server, alice, [bob]);
      const reader = await signedIn(proxy, alice);
      const sender = await signedIn(server, bob);
      const received: Message[] = [];
      const seed = await sender.client.sendMessage(roomId, 'seed');
      reader.client.roomMessages(roomId, { next: (m) => received.push(m) }, { after: seed.cursor });

      const before = await sendSeries(sender.client, roomId, 5, 20, 'before');
      await eventually(() => received.length === 5, 5000, 'first messages');
      // The network drops and the load balancer now sends the client to the other instance.
      proxy.target.port = portOf(other);
      proxy.drop();
      const during = await sendSeries(sender.client, roomId, 5, 20, 'during');
      await eventually(() => reader.connections.length >= 2, 10_000, 'reconnect');
      const after = await sendSeries(sender.client, roomId, 5, 20, 'after');
      await eventually(() => received.length >= 15, 10_000, 'all messages');
      const last = await lastOne(sender.client, roomId, received);

      expect(received.map((m) => m.body)).toEqual([...before, ...during, ...after, last]);
      expect(reader.connections).toEqual([false, true]);
    } finally {
      await proxy.close();
    }
  });

  it('a room that was empty at subscribe time: messages sent while disconnected are delivered after the reconnect', async () => {
    const proxy = await tcpProxy({ port: portOf(server) });
    try {
      const alice = await account(server, 'al');
      const bob = await account(server, 'bo');
      const roomId = await room(server, alice, [bob]);
      const reader = await signedIn(proxy, alice);
      const sender = await signedIn(server, bob);
      const received: Message[] = [];
      const started = await nextSubscriptionStart(server, 'roomMessages');
      reader.client.roomMessages(roomId, { next: (m) => received.push(m) });
      await started();
      proxy.drop();
      const during = await sendSeries(sender.client, roomId, 3, 20, 'gap');
      await eventually(() => received.length >= 3, 10_000, 'replayed messages');
      const after = await sendSeries(sender.client, roomId, 2, 20, 'live');
      await eventually(() => received.length >= 5, 5000, 'live messages');
      expect(received.map((m) => m.body)).toEqual([...during, ...after]);
    } finally {
      await proxy.close();
    }
  });

  it('an empty room: a message sent after roomMessages is called but before the subscription is live is delivered', async () => {
    const alice = await account(server, 'al');
    const bob = await account(server, 'bo');
    const roomId = await room(server, alice, [bob]);
    const sender = await signedIn(server, bob);
    // Once roomMessages has been called, the message goes out as soon as any request of the reader's is answered:
    // after whatever the SDK reads before subscribing, before the subscription reaches the server.
    let sendInBetween: Promise<unknown> | null = null;
    let armed = false;
    const reader = await signedIn(server, alice, {
      fetch: async (input, init) => {
        const response = await globalThis.fetch(input, init);
        if (armed && !sendInBetween) {
          await response.clone().text();
          sendInBetween = sender.client.sendMessage(roomId, 'in between');
          await sendInBetween;
        }
        return response;
      },
    });
    const received: Message[] = [];
    armed = true;
    reader.client.roomMessages(roomId, { next: (m) => received.push(m) });
    await eventually(() => sendInBetween !== null, 5000, 'the send in between');
    await sendInBetween;
    const after = await sendSeries(sender.client, roomId, 2, 20, 'live');
    await eventually(() => received.length >= 3, 5000, 'every message');
    const last = await lastOne(sender.client, roomId, received);
    expect(received.map((m) => m.body)).toEqual(['in between', ...after, last]);
  });

  it('retries sendMessage with the same idempotency key when the answer is lost: one message stored', async () => {
    const alice = await account(server, 'al');
    const roomId = await room(server, alice);
    const keys: string[] = [];
    let dropped = 0;
    const lossy: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const body = JSON.parse(String(init?.body ?? '{}'));
      if (typeof body.query === 'string' && body.query.includes('mutation SendMessage')) {
        keys.push(body.variables.idempotencyKey);
        if (dropped === 0) {
          dropped++;
          await response.text();
          throw new TypeError('fetch failed: the connection was reset');
        }
      }
      return response;
    };
    const writer = sdk(server, { fetch: lossy });
    await writer.login(alice.username, password);
    const message = await writer.sendMessage(roomId, 'exactly once');

    expect(message.body).toBe('exactly once');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    const { messages } = await writer.request(MessagesDocument, { roomId, last: 10 });
    expect(messages.edges.map((e) => e.node.body)).toEqual(['exactly once']);
    expect(messages.edges[0]!.node.id).toBe(message.id);
  });

  it('does not retry a refused message (a GraphQL error is an answer)', async () => {
    const alice = await account(server, 'al');
    const roomId = await room(server, alice);
    let sends = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(init?.body ?? '').includes('mutation SendMessage')) sends++;
      return fetch(input, init);
    };
    const writer = sdk(server, { fetch: counting });
    await writer.login(alice.username, password);
    await expect(writer.sendMessage(roomId, '')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(sends).toBe(1);
  });

  it("manages a room with the typed documents: invite to a private room, rename, remove, delete; a member's attempt is refused", async () => {
    const [alice, bob] = await Promise.all([account(server, 'al'), account(server, 'bo')]);
    const owner = sdk(server);
    const member = sdk(server);
    await owner.login(alice.username, password);
    await member.login(bob.username, password);
    const { createRoom } = await owner.request(CreateRoomDocument, { input: { name: 'team', permission: 'PRIVATE' } });
    await expect(member.request(JoinRoomDocument, { roomId: createRoom.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await owner.request(InviteToRoomDocument, { roomId: createRoom.id, userId: bob.userId })).inviteToRoom.id).toBe(createRoom.id);
    expect((await member.request(JoinRoomDocument, { roomId: createRoom.id })).joinRoom.memberCount).toBe(2);
    expect((await owner.request(UpdateRoomDocument, { id: createRoom.id, input: { name: 'team two' } })).updateRoom.name).toBe('team two');
    await expect(member.request(RemoveFromRoomDocument, { roomId: createRoom.id, userId: alice.userId })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await owner.request(RemoveFromRoomDocument, { roomId: createRoom.id, userId: bob.userId })).removeFromRoom.memberCount).toBe(1);
    expect((await member.request(RoomDocument, { id: createRoom.id })).room).toBeNull();
    await expect(member.request(DeleteRoomDocument, { id: createRoom.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await owner.request(DeleteRoomDocument, { id: createRoom.id })).deleteRoom).toBe(true);
    expect((await owner.request(RoomDocument, { id: createRoom.id })).room).toBeNull();
  });

  it('liveRooms: a read that fails is reported to readFailed and changes nothing; refresh() reads again', async () => {
    const alice = await account(server, 'al');
    const seen = (await gql(server, 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { name } }', { input: { name: uniqueName('seen') } }, { token: alice.accessToken })).data.createRoom;
    let failReads = true;
    const reader = await signedIn(server, alice, {
      fetch: (input, init) => (failReads && String(init?.body).includes('query Rooms') ? Promise.reject(new TypeError('network down')) : globalThis.fetch(input, init)),
    });
    const failures: Error[] = [];
    const lists: (readonly { name: string }[])[] = [];
    const list = reader.client.liveRooms({ next: (rooms) => lists.push(rooms), readFailed: (error) => failures.push(error) });
    await eventually(() => failures.length > 0, 5000, 'the failed read');
    expect(failures[0]).toMatchObject({ name: 'TransportError', message: expect.stringContaining('network down') });
    expect([lists, list.rooms]).toEqual([[], []]);
    failReads = false;
    await list.refresh();
    expect(list.rooms.map((r) => r.name)).toContain(seen.name);
    expect(lists).toHaveLength(1);
  });

  it('liveRooms: the rooms the user may see, then every change from any instance; a read that predates changes heard meanwhile gets them; after a reconnect to another instance, what changed while away', async () => {
    const other = await otherInstance();
    const proxy = await tcpProxy({ port: portOf(server) });
    try {
      const [alice, bob] = await Promise.all([account(server, 'al'), account(server, 'bo')]);
      const owner = sdk(other);
      await owner.login(bob.username, password);
      const make = async (name: string, permission: 'PUBLIC' | 'PRIVATE' = 'PUBLIC') => (await owner.request(CreateRoomDocument, { input: { name: uniqueName(name), permission } })).createRoom;
      const [kept, closed] = [await make('kept'), await make('closed', 'PRIVATE')];
      // While `holdReads` is on, the last page of the reader's read of `rooms` is answered only once `heldRead` is called.
      let holdReads = false;
      let heldRead: (() => void) | null = null;
      const reader = await signedIn(proxy, alice, {
        fetch: async (input, init) => {
          const response = await globalThis.fetch(input, init);
          // The last page: the newest rooms (the test database holds other tests' rooms too).
          if (holdReads && String(init?.body).includes('query Rooms') && (await response.clone().text()).includes('"hasNextPage":false')) {
            await new Promise<void>((resolve) => (heldRead = resolve));
          }
          return response;
        },
      });
      const changes: (string | null)[] = [];
      const list = reader.client.liveRooms({ next: (_rooms, change) => changes.push(change && `${change.kind} ${change.room?.name ?? change.roomId}`) });
      const names = () => list.rooms.map((r) => r.name);
      const has = (...wanted: string[]) => wanted.every((name) => names().includes(name));

      await eventually(() => has(kept.name), 10_000, 'the first read');
      expect(names()).not.toContain(closed.name);
      expect(changes).toEqual([null]);

      const added = await make('added');
      await owner.request(UpdateRoomDocument, { id: kept.id, input: { name: `${kept.name} renamed` } });
      await owner.request(InviteToRoomDocument, { roomId: closed.id, userId: alice.userId });
      await eventually(() => has(added.name, `${kept.name} renamed`, closed.name), 10_000, 'the live changes');
      expect(names()).not.toContain(kept.name);
      expect(changes).toEqual([null, `ADDED ${added.name}`, `CHANGED ${kept.name} renamed`, `ADDED ${closed.name}`]);

      // A read whose answer predates two changes heard before it arrives: both stand.
      holdReads = true;
      const refreshed = list.refresh();
      await eventually(() => heldRead !== null, 5000, 'the held read');
      const late = await make('late');
      await owner.request(DeleteRoomDocument, { id: added.id });
      await eventually(() => has(late.name) && !has(added.name), 10_000, 'the changes heard during the read');
      holdReads = false;
      heldRead!();
      await refreshed;
      expect(changes.at(-1)).toBeNull();
      expect(has(late.name, closed.name)).toBe(true);
      expect(names()).not.toContain(added.name);

      // Away (nothing answers where the proxy points), then back on the other instance: the list is read again.
      proxy.target.port = await freePort();
      proxy.drop();
      await statusOf(reader.client, 'reconnecting');
      const whileAway = await make('while away');
      await owner.request(RemoveFromRoomDocument, { roomId: closed.id, userId: alice.userId });
      proxy.target.port = portOf(other);
      await eventually(() => has(whileAway.name) && !has(closed.name), 15_000, 'the list read after the reconnect');
      expect(reader.connections).toEqual([false, true]);
      expect(changes.at(-1)).toBeNull();

      // Unsubscribed: nothing more, neither a change nor a read.
      list.unsubscribe();
      const told = changes.length;
      await make('unheard');
      await list.refresh();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(changes).toHaveLength(told);
    } finally {
      await proxy.close();
    }
  });
});

// Closing live sockets when their session ends comes with the realtime part
// (connection lifecycle, slots): connectionSlots marks it as served.
describe('SDK sessions', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), SINGLE_SESSION: 'true' });
  });
  afterEach(() => closeClients());
  afterAll(() => stopAllServers());

  it('reports "revoked" and stops when the session is logged out elsewhere', async () => {
    const alice = await account(server, 'al');
    const reader = await signedIn(server, alice);
    const token = reader.client.tokens!.accessToken;
    const tokenEvents: unknown[] = [];
    reader.client.on('tokens', (t) => tokenEvents.push(t));

    const logout = await gql(server, 'mutation { logout }', {}, { token });
    expect(logout.data?.logout).toBe(true);

    await statusOf(reader.client, 'ended');
    expect(reader.ended).toEqual([expect.objectContaining({ reason: 'revoked', code: 4001 })]);
    expect(reader.client.tokens).toBeNull();
    expect(tokenEvents).toEqual([null]);
    // It stays stopped: no reconnect (Clock: past the first retry's delay).
    await new Promise((r) => setTimeout(r, 1500));
    expect(reader.connections).toEqual([false]);
    expect(reader.client.status).toBe('ended');
  });

  it('reports "replaced" when the same user signs in elsewhere (single session)', async () => {
    const alice = await account(server, 'al');
    const first = await signedIn(server, alice);
    const second = await signedIn(server, alice);
    await statusOf(first.client, 'ended');
    expect(first.ended).toEqual([expect.objectContaining({ reason: 'replaced', code: 4002 })]);
    expect(second.client.status).toBe('connected');
  });

  it('logout through the SDK ends the session on the server too', async () => {
    const alice = await account(server, 'al');
    const reader = await signedIn(server, alice);
    const token = reader.client.tokens!.accessToken;
    await reader.client.logout();
    expect(reader.ended).toEqual([expect.objectContaining({ reason: 'logout' })]);
    const me = await gql(server, '{ me { id } }', {}, { token });
    expect(me.data?.me ?? null).toBeNull();
  });
});

describe('SDK and connection slots', () => {
  afterEach(() => closeClients());
  afterAll(() => stopAllServers());

  it('reports "limit" when no seat is free, keeps the session, and connects once a seat frees up', async () => {
    // A Redis database of its own: SDK clients of earlier tests reconnect by design and hold seats.
    const server = await startServer({ ...scaledEnv(), REDIS_URL: await emptyRedisDatabase(5), MAX_CONNECTIONS: '1' });
    const alice = await account(server, 'al');
    const bob = await account(server, 'bo');
    const first = await signedIn(server, alice);
    const second = sdk(server);
    const ended: SessionEnd[] = [];
    second.on('ended', (end) => ended.push(end));
    await second.login(bob.username, password);
    await statusOf(second, 'ended');
    expect(ended).toEqual([expect.objectContaining({ reason: 'limit', code: 4029 })]);
    expect(ended[0]!.message).toMatch(/no free seats/i);
    expect(second.tokens).not.toBeNull();

    first.client.close();
    await eventually(async () => {
      second.connect();
      try {
        await statusOf(second, 'connected', 1000);
        return true;
      } catch {
        return false;
      }
    }, 15_000, 'a free seat');
  });

  it('keeps one socket across several short token lifetimes by renewing over it, and reconnects after 4003 when it does not', async () => {
    const server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: '2' });
    const alice = await account(server, 'al');
    const renewing = await signedIn(server, alice);
    const seats: number[] = [];
    renewing.client.subscribe(SlotsChangedDocument, {}, { next: ({ connectionSlots }) => seats.push(connectionSlots.used) });
    // Clock: past several token lifetimes.
    await new Promise((r) => setTimeout(r, 5500));
    expect(renewing.connections).toEqual([false]);
    expect(renewing.tokenChanges()).toBeGreaterThanOrEqual(3);
    expect(renewing.client.status).toBe('connected');
    expect(seats.length).toBeGreaterThanOrEqual(1);
    renewing.client.close();

    const bob = await account(server, 'bo');
    const lapsing = await signedIn(server, bob, { autoRefresh: false });
    const events: number[] = [];
    lapsing.client.subscribe(SlotsChangedDocument, {}, { next: ({ connectionSlots }) => events.push(connectionSlots.used) });
    await eventually(() => lapsing.connections.length >= 3, 10_000, 'two reconnects after 4003');
    // Each new connection restarted the subscription, which emits at once.
    await eventually(() => events.length >= 3, 5000, 'an event per connection');
    expect(lapsing.ended).toEqual([]);
    expect(lapsing.connections.slice(1).every(Boolean)).toBe(true);
  });

  it('with a token living longer than a timer can wait (30 days), neither renews at once nor is closed as expired', async () => {
    const server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: String(30 * 24 * 3600) });
    const carol = await account(server, 'ca');
    const longLived = await signedIn(server, carol);
    // Clock: a renewal timer set wrong fires at once; give it the time to.
    await new Promise((r) => setTimeout(r, 1500));
    // The login's tokens only: a renewal due in 30 days did not fire at once (nor again and again).
    expect(longLived.tokenChanges()).toBe(1);
    expect(longLived.connections).toEqual([false]);
    expect(longLived.client.status).toBe('connected');
  });
});
