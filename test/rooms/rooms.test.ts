/**
 * Rooms over real HTTP and graphql-ws on PostgreSQL + Redis: the permission
 * matrix, maxMembers under concurrent joins, management refusals, room
 * presence, and subscriptions ending when access is lost, for each way.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, collect, connectSocket, errorCodes, eventually, gql, scaledEnv, startServer, stopAllServers, uniqueName, uuidOf, type TestServer } from '../helpers/server.ts';
import { logIn, signUp } from '../helpers/accounts.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { flushTestRedis } from '../helpers/redis.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND } from './helpers.ts';

const adminName = uniqueName('admin');
const adminPass = 'admin-password-123';
const db = new pg.Client({ connectionString: testDatabaseUrl });
let server: TestServer;
let other: TestServer;
beforeAll(async () => {
  await flushTestRedis();
  await db.connect();
  const env = { ...scaledEnv(), ADMIN_USER: adminName, ADMIN_PASS: adminPass, SINGLE_SESSION: 'false', MESSAGE_RATE_PER_USER: '1000', MESSAGE_RATE_PER_ROOM: '1000' };
  [server, other] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(async () => {
  await db.end();
  await stopAllServers();
});

const ROOM = 'query($id: ID!) { room(id: $id) { id name } }';
const ROOMS = 'query($after: String) { rooms(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }';

/** Can `token` subscribe to roomMessages? 'ok' when the subscription stays open, else the error code. */
async function subscribeOutcome(token: string, roomId: string): Promise<string> {
  const socket = connectSocket(server, bearer(token));
  await socket.acked;
  // Live (the server counts it started) or ended: either way the outcome is known, with no clock.
  const sub = collect(socket.client, ROOM_MESSAGES, { id: roomId }, { on: server });
  await sub.live;
  const refusal = sub.results.find((r) => r.errors)?.errors?.[0] ?? (sub.error as any)?.[0];
  const outcome = refusal ? (refusal.extensions?.code ?? 'error') : sub.completed ? 'complete' : 'ok';
  await socket.client.dispose();
  return outcome;
}

describe('permission matrix', () => {
  it('each permission × {owner, invited, role holder, admin, other} × {see, join, send, subscribe}', async () => {
    const owner = await signUp(server);
    const invited = await signUp(server);
    const roleHolder = await signUp(server);
    const stranger = await signUp(server);
    const admin = await logIn(server, adminName, adminPass);
    await gql(server, 'mutation($id: ID!) { setRoles(userId: $id, roles: ["staff"]) { id } }', { id: roleHolder.id }, { token: admin.accessToken });
    const holder = await logIn(server, roleHolder.username, roleHolder.password);

    const actors: Record<string, string> = { owner: owner.accessToken, invited: invited.accessToken, roleHolder: holder.accessToken, admin: admin.accessToken, other: stranger.accessToken };
    const expected: Record<string, Record<string, boolean>> = {
      PUBLIC: { owner: true, invited: true, roleHolder: true, admin: true, other: true },
      // Admins may join any room (admins.test.ts: such a join is audited).
      PRIVATE: { owner: true, invited: true, roleHolder: false, admin: true, other: false },
      RESTRICTED: { owner: true, invited: false, roleHolder: true, admin: true, other: false },
      OWNER_ONLY: { owner: true, invited: false, roleHolder: false, admin: true, other: false },
    };
    for (const permission of Object.keys(expected)) {
      const room = await createRoom(server, owner.accessToken, { permission, allowedRoles: ['staff'] });
      await gql(server, 'mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }', { r: room.id, u: invited.id }, { token: owner.accessToken });
      for (const [actor, token] of Object.entries(actors)) {
        const allowed = expected[permission]![actor]!;
        const label = `${permission} ${actor}`;
        // see: admins see every room, the others what they may join.
        const seen = (await gql(server, ROOM, { id: room.id }, { token })).data.room !== null;
        expect(seen, `${label} see`).toBe(allowed || actor === 'admin');
        // subscribe and send before joining: members only.
        if (actor !== 'owner') {
          expect(['FORBIDDEN', 'NOT_FOUND'], `${label} subscribe before joining`).toContain(await subscribeOutcome(token, room.id));
          expect(errorCodes(await gql(server, SEND, { id: room.id, body: 'x' }, { token })), `${label} send before joining`).not.toEqual([]);
        }
        const join = await gql(server, JOIN, { id: room.id }, { token });
        expect(join.errors === undefined, `${label} join`).toBe(allowed);
        if (!allowed) expect(errorCodes(join), `${label} join refusal`).toEqual([actor === 'admin' || seen ? 'FORBIDDEN' : 'NOT_FOUND']);
        const send = await gql(server, SEND, { id: room.id, body: `from ${actor}` }, { token });
        expect(send.errors === undefined, `${label} send`).toBe(allowed);
        const subscribed = await subscribeOutcome(token, room.id);
        if (allowed) expect(subscribed, `${label} subscribe`).toBe('ok');
        else expect(['FORBIDDEN', 'NOT_FOUND'], `${label} subscribe`).toContain(subscribed);
      }
    }
  }, 120_000);

  it('lists only visible rooms, with forward paging', async () => {
    const owner = await signUp(server);
    const viewer = await signUp(server);
    const visible = await createRoom(server, owner.accessToken, { name: 'open' });
    const hidden = await createRoom(server, owner.accessToken, { permission: 'PRIVATE' });
    const ids: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const response: any = await gql(server, ROOMS, { after }, { token: viewer.accessToken });
      ids.push(...response.data.rooms.edges.map((e: any) => e.node.id));
      if (!response.data.rooms.pageInfo.hasNextPage) break;
      after = response.data.rooms.pageInfo.endCursor;
    }
    expect(ids).toContain(visible.id);
    expect(ids).not.toContain(hidden.id);
    expect(errorCodes(await gql(server, ROOMS, { after: 'nope' }, { token: viewer.accessToken }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await gql(server, ROOMS, {}))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('membership', () => {
  it('30 concurrent joins on maxMembers 10: exactly 10 members (owner included), the rest ROOM_FULL', async () => {
    const owner = await signUp(server);
    const room = await createRoom(server, owner.accessToken, { maxMembers: 10 });
    const joiners = await Promise.all(Array.from({ length: 30 }, () => signUp(server)));
    const results = await Promise.all(joiners.map((u, i) => gql(i % 2 ? other : server, JOIN, { id: room.id }, { token: u.accessToken })));
    expect(results.filter((r) => !r.errors)).toHaveLength(9);
    expect(results.filter((r) => r.errors).map(errorCodes)).toEqual(Array(21).fill(['ROOM_FULL']));
    const { rows } = await db.query('SELECT count(*)::int AS n, (SELECT "memberCount" FROM "Room" WHERE id = $1) AS counted FROM "RoomMember" WHERE "roomId" = $1', [uuidOf(room.id)]);
    expect(rows[0]).toEqual({ n: 10, counted: 10 });
  });

  it('refuses bad input and management by others, changing nothing', async () => {
    const owner = await signUp(server);
    const stranger = await signUp(server);
    for (const input of [{ name: '' }, { name: 'x'.repeat(101) }, { name: 'ok', maxMembers: 0 }, { name: 'ok', allowedRoles: ['bad role!'] }]) {
      const response = await gql(server, 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }', { input }, { token: owner.accessToken });
      expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    }
    const room = await createRoom(server, owner.accessToken, { name: 'mine' });
    const UPDATE = 'mutation($id: ID!, $input: UpdateRoomInput!) { updateRoom(id: $id, input: $input) { name } }';
    expect(errorCodes(await gql(server, UPDATE, { id: room.id, input: { name: 'stolen' } }, { token: stranger.accessToken }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(server, 'mutation($id: ID!) { deleteRoom(id: $id) }', { id: room.id }, { token: stranger.accessToken }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(server, 'mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }', { r: room.id, u: stranger.id }, { token: stranger.accessToken }))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(server, 'mutation($id: ID!) { deleteRoom(id: $id) }', { id: 'garbage' }, { token: owner.accessToken }))).toEqual(['BAD_USER_INPUT']);
    expect((await gql(server, ROOM, { id: room.id }, { token: owner.accessToken })).data.room.name).toBe('mine');
    expect((await gql(server, UPDATE, { id: room.id, input: { name: 'renamed' } }, { token: owner.accessToken })).data.updateRoom.name).toBe('renamed');
  });

  it('roomPresence: JOINED, STATUS and LEFT of members, once each, on the other instance', async () => {
    const owner = await signUp(server);
    const joiner = await signUp(server);
    const room = await createRoom(server, owner.accessToken);
    const socket = connectSocket(other, bearer(owner.accessToken));
    await socket.acked;
    const events = collect(socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } status room { id } } }', { id: room.id }, { on: other });
    await events.live;
    await gql(server, JOIN, { id: room.id }, { token: joiner.accessToken });
    await events.waitFor(1);
    const joinerSocket = connectSocket(server, bearer(joiner.accessToken));
    await joinerSocket.acked;
    await events.waitFor(2);
    await gql(server, 'mutation($id: ID!) { leaveRoom(roomId: $id) }', { id: room.id }, { token: joiner.accessToken });
    await events.waitFor(3);
    // A join after: anything repeated would have come before it, on the same channel.
    await gql(server, JOIN, { id: room.id }, { token: joiner.accessToken });
    await events.waitFor(4);
    expect(events.results.map((r) => [r.data!.roomPresence.kind, r.data!.roomPresence.user.id, r.data!.roomPresence.status])).toEqual([
      ['JOINED', joiner.id, 'OFFLINE'],
      ['STATUS', joiner.id, 'ONLINE'],
      ['LEFT', joiner.id, 'ONLINE'],
      ['JOINED', joiner.id, 'ONLINE'],
    ]);
  });

  it("a deleted user leaves its rooms: they count a member fewer (the seat is free again), and its own rooms' subscriptions end", async () => {
    const admin = await logIn(server, adminName, adminPass);
    const [owner, leaving, waiting] = await Promise.all([signUp(server), signUp(server), signUp(server)]);
    const room = await createRoom(server, owner.accessToken, { maxMembers: 2 });
    await gql(server, JOIN, { id: room.id }, { token: leaving.accessToken });
    expect(errorCodes(await gql(server, JOIN, { id: room.id }, { token: waiting.accessToken }))).toEqual(['ROOM_FULL']);
    const owned = await createRoom(server, leaving.accessToken);
    await gql(server, JOIN, { id: owned.id }, { token: waiting.accessToken });
    const socket = connectSocket(other, bearer(waiting.accessToken));
    await socket.acked;
    const sub = collect(socket.client, ROOM_MESSAGES, { id: owned.id }, { on: other });
    const presence = collect(socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind } }', { id: owned.id }, { on: other });
    await Promise.all([sub.live, presence.live]);

    expect((await gql(server, 'mutation($id: ID!) { deleteUser(id: $id) }', { id: leaving.id }, { token: admin.accessToken })).data.deleteUser).toBe(true);
    const members = 'query($id: ID!) { room(id: $id) { memberCount members { id } } }';
    expect((await gql(server, members, { id: room.id }, { token: owner.accessToken })).data.room).toEqual({ memberCount: 1, members: [{ id: owner.id }] });
    expect((await gql(server, JOIN, { id: room.id }, { token: waiting.accessToken })).data.joinRoom.id).toBe(room.id);
    for (const ended of [sub, presence]) {
      await eventually(() => ended.completed, 3000, 'the subscription of a room whose owner was deleted to end');
      expect(ended.results.at(-1)?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    await socket.client.dispose();
  });

  it("a deletion PostgreSQL aborts as a deadlock's victim is run again: it answers true, the room counts right", async () => {
    const admin = await logIn(server, adminName, adminPass);
    const [owner, leaving] = await Promise.all([signUp(server), signUp(server)]);
    const room = await createRoom(server, owner.accessToken);
    await gql(server, JOIN, { id: room.id }, { token: leaving.accessToken });
    // A second session takes the room's row, then, once the deletion waits for it, the user's row the deletion holds:
    // each waits for the other. Its own deadlock_timeout is long, so the deletion's backend finds the cycle and is aborted.
    const deadlocks = async () => Number((await db.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);
    const deadlocksBefore = await deadlocks();
    const blocker = new pg.Client({ connectionString: testDatabaseUrl });
    await blocker.connect();
    try {
      await blocker.query(`SET deadlock_timeout = '10s'`);
      await blocker.query('BEGIN');
      await blocker.query(`UPDATE "Room" SET "name" = "name" WHERE "id" = $1::uuid`, [uuidOf(room.id)]);
      const deletion = gql(server, 'mutation($id: ID!) { deleteUser(id: $id) }', { id: leaving.id }, { token: admin.accessToken });
      const waitsForBlocker = 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))';
      await eventually(async () => (await blocker.query(waitsForBlocker)).rows[0].n > 0, 5000, 'the deletion to wait for the room');
      await blocker.query(`SELECT 1 FROM "User" WHERE "id" = $1::uuid FOR UPDATE`, [uuidOf(leaving.id)]);
      await blocker.query('COMMIT');
      const answer = await deletion;
      expect(answer.errors).toBeUndefined();
      expect(answer.data.deleteUser).toBe(true);
    } finally {
      await blocker.end();
    }
    // The deadlock did happen (else this would pass without the retry): PostgreSQL counts it once its victim reports.
    await eventually(async () => (await deadlocks()) > deadlocksBefore, 5000, 'PostgreSQL to count the deadlock');
    const members = 'query($id: ID!) { room(id: $id) { memberCount members { id } } }';
    expect((await gql(server, members, { id: room.id }, { token: owner.accessToken })).data.room).toEqual({ memberCount: 1, members: [{ id: owner.id }] });
    expect((await db.query(`SELECT count(*)::int AS n FROM "User" WHERE "id" = $1::uuid`, [uuidOf(leaving.id)])).rows[0].n).toBe(0);
  });

  it('roomPresence shows the room as last read: renamed from the next event on, as it was once its row is gone', async () => {
    const owner = await signUp(server);
    const member = await signUp(server);
    const room = await createRoom(server, owner.accessToken);
    await gql(server, JOIN, { id: room.id }, { token: member.accessToken });
    const socket = connectSocket(other, bearer(owner.accessToken));
    await socket.acked;
    const events = collect(socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } status room { id name memberCount } } }', { id: room.id }, { on: other });
    await events.live;
    await gql(server, 'mutation($id: ID!) { updateRoom(id: $id, input: { name: "renamed" }) { id } }', { id: room.id }, { token: owner.accessToken });
    // No event tells a client that the rename reached the other instance's view (it reads the room again then): a window for it.
    await new Promise((r) => setTimeout(r, 300));
    const memberSocket = connectSocket(server, bearer(member.accessToken));
    await memberSocket.acked;
    await events.waitFor(1);
    // The row goes behind the service's back (no event tells the view): the next event still shows the room, not an error.
    await db.query('DELETE FROM "Room" WHERE "id" = $1', [uuidOf(room.id)]);
    await memberSocket.client.dispose();
    await events.waitFor(2);
    expect(events.results.map((r) => r.errors ?? [r.data!.roomPresence.kind, r.data!.roomPresence.status, r.data!.roomPresence.room])).toEqual([
      ['STATUS', 'ONLINE', { id: room.id, name: 'renamed', memberCount: 2 }],
      ['STATUS', 'OFFLINE', { id: room.id, name: 'renamed', memberCount: 2 }],
    ]);
  });
});

const REMOVE = 'mutation($room: ID!, $user: ID!) { removeFromRoom(roomId: $room, userId: $user) { memberCount } }';

describe('removeFromRoom', () => {
  it("takes a PRIVATE room's membership and invitation away (no way back in), with a LEFT; refusals change nothing", async () => {
    const admin = await logIn(server, adminName, adminPass);
    const [owner, member, invited, stranger] = await Promise.all([signUp(server), signUp(server), signUp(server), signUp(server)]);
    const room = await createRoom(server, owner.accessToken, { permission: 'PRIVATE' });
    const invite = 'mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }';
    for (const user of [member, invited]) await gql(server, invite, { r: room.id, u: user.id }, { token: owner.accessToken });
    await gql(server, JOIN, { id: room.id }, { token: member.accessToken });
    const socket = connectSocket(other, bearer(owner.accessToken));
    await socket.acked;
    const presence = collect(socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id } } }', { id: room.id }, { on: other });
    await presence.live;

    const members = async () => (await gql(server, 'query($id: ID!) { room(id: $id) { memberCount members { id } } }', { id: room.id }, { token: owner.accessToken })).data.room;
    const before = await members();
    expect(before.memberCount).toBe(2);
    const refusals: [string, Record<string, unknown>, string][] = [
      [member.accessToken, { room: room.id, user: member.id }, 'FORBIDDEN'],
      [stranger.accessToken, { room: room.id, user: member.id }, 'NOT_FOUND'],
      [owner.accessToken, { room: room.id, user: owner.id }, 'BAD_USER_INPUT'],
      [owner.accessToken, { room: room.id, user: stranger.id }, 'NOT_FOUND'],
      [owner.accessToken, { room: room.id, user: 'garbage' }, 'BAD_USER_INPUT'],
      [owner.accessToken, { room: 'garbage', user: member.id }, 'BAD_USER_INPUT'],
    ];
    for (const [token, variables, code] of refusals) expect(errorCodes(await gql(server, REMOVE, variables, { token }))).toEqual([code]);
    expect(errorCodes(await gql(server, REMOVE, { room: room.id, user: member.id }))).toEqual(['UNAUTHENTICATED']);
    expect(await members()).toEqual(before);

    // The owner takes the member away, an admin the invitation: neither gets back in.
    expect((await gql(server, REMOVE, { room: room.id, user: member.id }, { token: owner.accessToken })).data.removeFromRoom).toEqual({ memberCount: 1 });
    expect((await gql(server, REMOVE, { room: room.id, user: invited.id }, { token: admin.accessToken })).data.removeFromRoom).toEqual({ memberCount: 1 });
    // A PRIVATE room is not even visible to who is neither member nor invited.
    for (const user of [member, invited]) expect(errorCodes(await gql(server, JOIN, { id: room.id }, { token: user.accessToken }))).toEqual(['NOT_FOUND']);
    expect(await members()).toEqual({ memberCount: 1, members: [{ id: owner.id }] });
    await presence.waitFor(1);
    expect(presence.results.map((r) => r.data?.roomPresence)).toEqual([{ kind: 'LEFT', user: { id: member.id } }]);
    await socket.client.dispose();
  });
});

describe('losing access ends the subscription', () => {
  /** A room with a member whose roomMessages subscription runs on the other instance. */
  async function watchedRoom() {
    const owner = await signUp(server);
    const member = await signUp(server);
    const room = await createRoom(server, owner.accessToken);
    await gql(server, JOIN, { id: room.id }, { token: member.accessToken });
    const socket = connectSocket(other, bearer(member.accessToken));
    await socket.acked;
    const sub = collect(socket.client, ROOM_MESSAGES, { id: room.id }, { on: other });
    await sub.live;
    return { owner, member, room, sub };
  }
  const endedForbidden = async (sub: ReturnType<typeof collect>) => {
    await eventually(() => sub.completed, 3000, 'the subscription to end');
    expect(sub.results.at(-1)?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  };

  it('by leaving', async () => {
    const { member, room, sub } = await watchedRoom();
    await gql(server, 'mutation($id: ID!) { leaveRoom(roomId: $id) }', { id: room.id }, { token: member.accessToken });
    await endedForbidden(sub);
  });

  it('by the room turning OWNER_ONLY', async () => {
    const { owner, room, sub } = await watchedRoom();
    await gql(server, 'mutation($id: ID!) { updateRoom(id: $id, input: { permission: OWNER_ONLY }) { id memberCount } }', { id: room.id }, { token: owner.accessToken });
    await endedForbidden(sub);
    // Ended: the client takes nothing more on this subscription, so none of its results may be a message.
    await gql(server, SEND, { id: room.id, body: 'after' }, { token: owner.accessToken });
    expect(sub.results.filter((r) => r.data)).toHaveLength(0);
  });

  it('by being removed by the owner', async () => {
    const { owner, member, room, sub } = await watchedRoom();
    const removed = await gql(server, REMOVE, { room: room.id, user: member.id }, { token: owner.accessToken });
    expect(removed.data.removeFromRoom).toEqual({ memberCount: 1 });
    await endedForbidden(sub);
    expect(errorCodes(await gql(server, SEND, { id: room.id, body: 'after' }, { token: member.accessToken }))).toEqual(['FORBIDDEN']);
  });

  it('by the room being deleted', async () => {
    const { owner, room, sub } = await watchedRoom();
    await gql(server, 'mutation($id: ID!) { deleteRoom(id: $id) }', { id: room.id }, { token: owner.accessToken });
    await endedForbidden(sub);
  });

  it('by roles changing (the session ends, and its socket with it)', async () => {
    const owner = await signUp(server);
    const member = await signUp(server);
    const admin = await logIn(server, adminName, adminPass);
    const room = await createRoom(server, owner.accessToken);
    await gql(server, JOIN, { id: room.id }, { token: member.accessToken });
    const socket = connectSocket(other, bearer(member.accessToken));
    await socket.acked;
    collect(socket.client, ROOM_MESSAGES, { id: room.id });
    await gql(server, 'mutation($id: ID!) { setRoles(userId: $id, roles: ["guest"]) { id } }', { id: member.id }, { token: admin.accessToken });
    expect((await socket.closed).code).toBe(4001);
  });
});
