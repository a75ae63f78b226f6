/**
 * Messages over real HTTP and graphql-ws: sending and its refusals, rate
 * limits, idempotent retries on two instances, paging, and roomMessages
 * replay + live with no gap and no duplicate, also across instances.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, collect, collectLive, connectSocket, errorCodes, eventually, gql, scaledEnv, startServer, stopAllServers, uuidOf, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { flushTestRedis } from '../helpers/redis.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND, storedMessages, warmUp } from '../rooms/helpers.ts';

const db = new pg.Client({ connectionString: testDatabaseUrl });
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  await flushTestRedis();
  await db.connect();
  const env = { ...scaledEnv(), MESSAGE_RATE_PER_USER: '1000', MESSAGE_RATE_PER_ROOM: '1000', MESSAGE_MAX_LENGTH: '50' };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(async () => {
  await db.end();
  await stopAllServers();
});


describe('sendMessage', () => {
  it('stores the body exactly as given, <script> included, and refuses bad bodies storing nothing', async () => {
    const owner = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    const script = '<script>alert(1)</script>\n\ttabs & "quotes"';
    const sent = await gql(a, SEND, { id: room.id, body: script }, { token: owner.accessToken });
    expect(sent.data.sendMessage.body).toBe(script);
    for (const [body, why] of [['', 'empty'], ['x'.repeat(51), 'too long'], ['bell\u0007', 'control'], ['nul\u0000', 'nul'], ['esc\u001b[0m', 'escape']]) {
      const refused = await gql(a, SEND, { id: room.id, body }, { token: owner.accessToken });
      expect(errorCodes(refused), why).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors![0]!.extensions!.field).toBe('body');
    }
    expect((await storedMessages(room.id)).map((m) => m.body)).toEqual([script]);
  });

  it('refuses non-members (FORBIDDEN), strangers to the room (NOT_FOUND), bad ids and anonymous callers', async () => {
    const owner = await signUp(a);
    const other = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    const hidden = await createRoom(a, owner.accessToken, { permission: 'OWNER_ONLY' });
    expect(errorCodes(await gql(a, SEND, { id: room.id, body: 'hi' }, { token: other.accessToken }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(a, SEND, { id: hidden.id, body: 'hi' }, { token: other.accessToken }))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await gql(a, SEND, { id: 'nonsense', body: 'hi' }, { token: owner.accessToken }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await gql(a, SEND, { id: room.id, body: 'hi' }))).toEqual(['UNAUTHENTICATED']);
    expect(await storedMessages(room.id)).toEqual([]);
  });

  it('a member who sent here and then left, or lost access, on the other instance is refused here as soon as this one hears of it', async () => {
    const owner = await signUp(a);
    const leaver = await signUp(a);
    const member = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    for (const user of [leaver, member]) await gql(a, JOIN, { id: room.id }, { token: user.accessToken });
    // The owner's subscription keeps the room open here; its presence events say when this instance heard of a leave.
    const socket = connectSocket(a, bearer(owner.accessToken));
    await socket.acked;
    // Live before the leave: the warm-up below shows only memberMessages live, and a leave made before this listens is never told.
    const presence = await collectLive(a, socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } } }', { id: room.id });
    const memberSocket = connectSocket(a, bearer(member.accessToken));
    await memberSocket.acked;
    const memberMessages = collect(memberSocket.client, ROOM_MESSAGES, { id: room.id });
    await warmUp(a, owner.accessToken, room.id, () => memberMessages.results.length > 0);
    const send = (user: { accessToken: string }, body: string) => gql(a, SEND, { id: room.id, body }, { token: user.accessToken });
    for (const user of [leaver, member]) for (const body of ['known 1', 'known 2']) expect((await send(user, body)).data?.sendMessage.body).toBe(body);

    await gql(b, 'mutation($id: ID!) { leaveRoom(roomId: $id) }', { id: room.id }, { token: leaver.accessToken });
    await expect.poll(() => presence.results.some((r) => r.data?.roomPresence.kind === 'LEFT' && r.data.roomPresence.user.id === leaver.id)).toBe(true);
    expect(errorCodes(await send(leaver, 'after leaving'))).toEqual(['FORBIDDEN']);

    await gql(b, 'mutation($id: ID!) { updateRoom(id: $id, input: { permission: OWNER_ONLY }) { id } }', { id: room.id }, { token: owner.accessToken });
    await expect.poll(() => memberMessages.completed).toBe(true);
    // No longer a member of a room it may not see: NOT_FOUND, as for any stranger.
    expect(errorCodes(await send(member, 'after the change'))).toEqual(['NOT_FOUND']);
    expect((await send(owner, 'owner still')).data?.sendMessage.body).toBe('owner still');
    const stored = (await storedMessages(room.id)).map((m) => m.body);
    expect(stored).not.toContain('after leaving');
    expect(stored).not.toContain('after the change');
    await Promise.all([socket.client.dispose(), memberSocket.client.dispose()]);
  });

  it('a retried send with the same idempotencyKey, on the same and the other instance, stores and delivers one message', async () => {
    const owner = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    const socket = connectSocket(b, bearer(owner.accessToken));
    await socket.acked;
    const live = collect(socket.client, ROOM_MESSAGES, { id: room.id }, { on: b });
    await live.live;
    const results = await Promise.all([
      gql(a, SEND, { id: room.id, body: 'once', key: 'k-1' }, { token: owner.accessToken }),
      gql(a, SEND, { id: room.id, body: 'once', key: 'k-1' }, { token: owner.accessToken }),
      gql(b, SEND, { id: room.id, body: 'once', key: 'k-1' }, { token: owner.accessToken }),
    ]);
    const ids = new Set(results.map((r) => r.data.sendMessage.id));
    expect(ids.size).toBe(1);
    expect(await storedMessages(room.id)).toHaveLength(1);
    // Another key is another message; it comes after any repeat of the first would have.
    await gql(b, SEND, { id: room.id, body: 'twice', key: 'k-2' }, { token: owner.accessToken });
    expect(await storedMessages(room.id)).toHaveLength(2);
    await live.waitFor(2);
    expect(live.results.map((r) => r.data!.roomMessages.body)).toEqual(['once', 'twice']);
  });

  it('an idempotencyKey older than 24 h is free again: the resend stores a new message; a refused resend frees nothing', async () => {
    const server = await startServer({ ...scaledEnv(), MESSAGE_RATE_PER_USER: '2', MESSAGE_RATE_WINDOW: '3' });
    const owner = await signUp(server);
    const room = await createRoom(server, owner.accessToken);
    const first = await gql(server, SEND, { id: room.id, body: 'day one', key: 'daily' }, { token: owner.accessToken });
    const keyOf = async (globalId: string) =>
      (await db.query('SELECT "idempotencyKey" FROM "Message" WHERE id = $1', [uuidOf(globalId)])).rows[0]?.idempotencyKey;
    await db.query(`UPDATE "Message" SET "createdAt" = "createdAt" - interval '25 hours' WHERE "roomId" = $1`, [uuidOf(room.id)]);
    // The second point of the window is used up by another message: the resend is refused and must leave the old key alone.
    expect(errorCodes(await gql(server, SEND, { id: room.id, body: 'filler' }, { token: owner.accessToken }))).toEqual([]);
    const refused = await gql(server, SEND, { id: room.id, body: 'day two', key: 'daily' }, { token: owner.accessToken });
    expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
    expect(await keyOf(first.data.sendMessage.id)).toBe('daily');
    // Clock: the idempotency key's window has to end.
    await new Promise((r) => setTimeout(r, 3200));
    const again = await gql(server, SEND, { id: room.id, body: 'day two', key: 'daily' }, { token: owner.accessToken });
    expect(again.data.sendMessage.id).not.toBe(first.data.sendMessage.id);
    expect(await keyOf(first.data.sendMessage.id)).toBeNull();
    expect((await storedMessages(room.id)).map((m) => m.body)).toEqual(['day one', 'filler', 'day two']);
  });

  it('30 quick sends past the per-user limit: the accepted ones are the stored ones, the refused carry retryAfter', async () => {
    const server = await startServer({ ...scaledEnv(), MESSAGE_RATE_PER_USER: '10', MESSAGE_RATE_WINDOW: '30' });
    const owner = await signUp(server);
    const room = await createRoom(server, owner.accessToken);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => gql(server, SEND, { id: room.id, body: `m${i}` }, { token: owner.accessToken })));
    const accepted = results.filter((r) => r.data?.sendMessage).map((r) => r.data.sendMessage.body);
    const refused = results.filter((r) => r.errors);
    expect(accepted).toHaveLength(10);
    expect(refused).toHaveLength(20);
    for (const r of refused) {
      expect(errorCodes(r)).toEqual(['RATE_LIMITED']);
      expect(r.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);
    }
    expect((await storedMessages(room.id)).map((m) => m.body).sort()).toEqual(accepted.sort());
  });

  it("past the per-room limit: RATE_LIMITED naming the room, nothing stored, and the sender's own budget untouched", async () => {
    const server = await startServer({ ...scaledEnv(), MESSAGE_RATE_PER_USER: '4', MESSAGE_RATE_PER_ROOM: '3', MESSAGE_RATE_WINDOW: '30' });
    const [owner, member] = [await signUp(server), await signUp(server)];
    const busy = await createRoom(server, owner.accessToken);
    const quiet = await createRoom(server, member.accessToken);
    await gql(server, JOIN, { id: busy.id }, { token: member.accessToken });
    for (const body of ['o1', 'o2']) expect(errorCodes(await gql(server, SEND, { id: busy.id, body }, { token: owner.accessToken }))).toEqual([]);
    expect(errorCodes(await gql(server, SEND, { id: busy.id, body: 'm1' }, { token: member.accessToken }))).toEqual([]);
    const refused = await gql(server, SEND, { id: busy.id, body: 'm2' }, { token: member.accessToken });
    expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.errors![0]!.message).toBe('This room receives too many messages; try again later.');
    expect(refused.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);
    expect((await storedMessages(busy.id)).map((m) => m.body)).toEqual(['o1', 'o2', 'm1']);
    // The refused send took none of the member's 4 points: three more go through elsewhere, the fifth send is refused as the user's.
    for (const body of ['q1', 'q2', 'q3']) expect(errorCodes(await gql(server, SEND, { id: quiet.id, body }, { token: member.accessToken }))).toEqual([]);
    const own = await gql(server, SEND, { id: quiet.id, body: 'q4' }, { token: member.accessToken });
    expect(own.errors![0]!.message).toBe('You are sending too fast; try again later.');
  });
});

describe('messages query', () => {
  it('pages backwards, newest last', async () => {
    const owner = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    for (let i = 1; i <= 5; i++) await gql(a, SEND, { id: room.id, body: `m${i}` }, { token: owner.accessToken });
    const PAGE = 'query($id: ID!, $last: Int, $before: String) { messages(roomId: $id, last: $last, before: $before) { edges { cursor node { body } } pageInfo { hasPreviousPage startCursor } } }';
    const page1 = await gql(a, PAGE, { id: room.id, last: 2 }, { token: owner.accessToken });
    expect(page1.data.messages.edges.map((e: any) => e.node.body)).toEqual(['m4', 'm5']);
    expect(page1.data.messages.pageInfo.hasPreviousPage).toBe(true);
    const page2 = await gql(a, PAGE, { id: room.id, last: 3, before: page1.data.messages.pageInfo.startCursor }, { token: owner.accessToken });
    expect(page2.data.messages.edges.map((e: any) => e.node.body)).toEqual(['m1', 'm2', 'm3']);
    expect(page2.data.messages.pageInfo.hasPreviousPage).toBe(false);
    expect(errorCodes(await gql(a, PAGE, { id: room.id, before: 'garbage' }, { token: owner.accessToken }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await gql(a, PAGE, { id: room.id, last: 1000 }, { token: owner.accessToken }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('roomMessages', () => {
  it('replays after a cursor, then streams live ones sent on the other instance, in order', async () => {
    const owner = await signUp(a);
    const member = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    await gql(a, JOIN, { id: room.id }, { token: member.accessToken });
    const first = await gql(a, SEND, { id: room.id, body: 'one' }, { token: owner.accessToken });
    await gql(a, SEND, { id: room.id, body: 'two' }, { token: owner.accessToken });
    const socket = connectSocket(b, bearer(member.accessToken));
    await socket.acked;
    const sub = collect(socket.client, ROOM_MESSAGES, { id: room.id, after: first.data.sendMessage.cursor });
    await sub.waitFor(1);
    await gql(a, SEND, { id: room.id, body: 'three' }, { token: owner.accessToken });
    await sub.waitFor(2);
    expect(sub.results.map((r) => r.data!.roomMessages.body)).toEqual(['two', 'three']);
    expect(errorCodes({ errors: (await new Promise<any>((resolve) => socket.client.subscribe({ query: ROOM_MESSAGES, variables: { id: room.id, after: 'bad' } }, { next: resolve, error: (e) => resolve({ errors: e }), complete: () => {} }))).errors } as any)).toEqual(['BAD_USER_INPUT']);
  });

  it("Room.messagesCursor: the room's start while empty, then its newest message; a stream after it misses nothing; null for non-members", async () => {
    const owner = await signUp(a);
    const outsider = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    const CURSOR = 'query($id: ID!) { room(id: $id) { messagesCursor } }';
    const cursorOf = async (token?: string) => (await gql(a, CURSOR, { id: room.id }, { token })).data?.room?.messagesCursor;
    const start = await cursorOf(owner.accessToken);
    expect(start).toEqual(expect.any(String));
    expect(await cursorOf(outsider.accessToken)).toBeNull();
    const asNode = await gql(a, 'query($id: ID!) { node(id: $id) { ... on Room { messagesCursor } } }', { id: room.id }, { token: outsider.accessToken });
    expect(asNode.data.node).toEqual({ messagesCursor: null });

    // Sent after the cursor was read, before anyone subscribed: replayed from the start cursor.
    const one = await gql(a, SEND, { id: room.id, body: 'one' }, { token: owner.accessToken });
    const socket = connectSocket(b, bearer(owner.accessToken));
    await socket.acked;
    const fromStart = collect(socket.client, ROOM_MESSAGES, { id: room.id, after: start });
    await fromStart.waitFor(1);
    const newest = await cursorOf(owner.accessToken);
    expect(newest).toBe(one.data.sendMessage.cursor);
    await gql(a, SEND, { id: room.id, body: 'two' }, { token: owner.accessToken });
    const fromNewest = collect(socket.client, ROOM_MESSAGES, { id: room.id, after: newest });
    await Promise.all([fromStart.waitFor(2), fromNewest.waitFor(1)]);
    // One more: a duplicate of what came before would have come before it.
    await gql(a, SEND, { id: room.id, body: 'three' }, { token: owner.accessToken });
    await Promise.all([fromStart.waitFor(3), fromNewest.waitFor(2)]);
    expect(fromStart.results.map((r) => r.data!.roomMessages.body)).toEqual(['one', 'two', 'three']);
    expect(fromNewest.results.map((r) => r.data!.roomMessages.body)).toEqual(['two', 'three']);
    await socket.client.dispose();
  });

  it('property: random sends on two instances and a subscriber that resumes on the other instance see exactly the stored sequence', async () => {
    const owner = await signUp(a);
    const room = await createRoom(a, owner.accessToken);
    const seqOf = (cursor: string) => Number(Buffer.from(cursor, 'base64url').toString().slice(2));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: 3, maxLength: 12 }), async (plan) => {
        const before = (await storedMessages(room.id)).at(-1)?.seq ?? 0;
        const received: { seq: number; body: string }[] = [];
        let cursor = Buffer.from(`m:${before}`).toString('base64url');
        let instance = 0;
        const open = () => {
          const socket = connectSocket([a, b][instance++ % 2]!, bearer(owner.accessToken));
          return { socket, sub: collect(socket.client, ROOM_MESSAGES, { id: room.id, after: cursor }) };
        };
        // What a resuming client keeps: every message it saw, and the cursor of the last one.
        const drain = (sub: ReturnType<typeof collect<any>>) => {
          for (const r of sub.results.splice(0)) {
            const m = r.data!.roomMessages;
            received.push({ seq: seqOf(m.cursor), body: m.body });
            cursor = m.cursor;
          }
        };
        let current = open();
        await current.socket.acked;
        const sends: Promise<unknown>[] = [];
        for (const [onB, reconnect] of plan) {
          sends.push(gql(onB ? b : a, SEND, { id: room.id, body: `p${Math.random().toString(36).slice(2, 8)}` }, { token: owner.accessToken }));
          if (reconnect) {
            await new Promise((r) => setTimeout(r, 20));
            await current.socket.client.dispose();
            drain(current.sub);
            current = open();
            await current.socket.acked;
          }
        }
        await Promise.all(sends);
        const expected = (await storedMessages(room.id)).filter((m) => m.seq > before);
        await eventually(() => received.length + current.sub.results.length >= expected.length, 5000, 'all messages');
        await new Promise((r) => setTimeout(r, 200));
        drain(current.sub);
        await current.socket.client.dispose();
        expect(received).toEqual(expected);
      }),
      { numRuns: 5 },
    );
  }, 90_000);
});

describe('on the embedded database (npm start without DATABASE_URL)', () => {
  it('sends, answers a repeated key with the first message, refuses an empty body, pages and replays in order', async () => {
    const embedded = await startServer({});
    const owner = await signUp(embedded);
    const room = await createRoom(embedded, owner.accessToken);
    const first = await gql(embedded, SEND, { id: room.id, body: 'one', key: 'k1' }, { token: owner.accessToken });
    expect(first.data.sendMessage).toMatchObject({ body: 'one', author: { username: owner.username }, room: { id: room.id } });
    const again = await gql(embedded, SEND, { id: room.id, body: 'one again', key: 'k1' }, { token: owner.accessToken });
    expect(again.data.sendMessage).toEqual(first.data.sendMessage);
    await gql(embedded, SEND, { id: room.id, body: 'two' }, { token: owner.accessToken });
    const refused = await gql(embedded, SEND, { id: room.id, body: '' }, { token: owner.accessToken });
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    const page = await gql(embedded, 'query($id: ID!) { messages(roomId: $id, last: 10) { edges { node { body } } } }', { id: room.id }, { token: owner.accessToken });
    expect(page.data.messages.edges.map((e: any) => e.node.body)).toEqual(['one', 'two']);
    const socket = connectSocket(embedded, { token: owner.accessToken });
    const replay = collect(socket.client, ROOM_MESSAGES, { id: room.id, after: first.data.sendMessage.cursor });
    await replay.waitFor(1);
    await gql(embedded, SEND, { id: room.id, body: 'three' }, { token: owner.accessToken });
    await replay.waitFor(2);
    expect(replay.results.map((r) => r.data!.roomMessages.body)).toEqual(['two', 'three']);
    await socket.client.dispose();
  }, 30_000);
});
