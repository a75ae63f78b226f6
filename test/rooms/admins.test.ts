/**
 * The owner's decisions on rooms (shared/PRODUCT.md), over real HTTP and
 * graphql-ws on PostgreSQL + Redis: admins see and manage every room and
 * delete any message, but read a PRIVATE or OWNER_ONLY room only once they
 * joined it, a join that is audited; a room the caller may not see is
 * NOT_FOUND on every path, exactly like a room that does not exist; `rooms`
 * lists the most recently active first.
 */
import { randomUUID } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, uuidOf, type GraphQLResponse, type TestServer } from '../helpers/server.ts';
import { logIn, signUp, type TestAccount } from '../helpers/accounts.ts';
import { withDatabase } from '../helpers/env.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND } from './helpers.ts';

const adminName = uniqueName('admin');
const adminPass = 'admin-password-123';
let server: TestServer;
let adminToken: string;
beforeAll(async () => {
  server = await startServer({ ...scaledEnv(), ADMIN_USER: adminName, ADMIN_PASS: adminPass, SINGLE_SESSION: 'false' });
  adminToken = (await logIn(server, adminName, adminPass)).accessToken;
});
afterAll(stopAllServers);

const MESSAGES = 'query($id: ID!) { messages(roomId: $id) { edges { node { id body } } } }';
const DELETE_MESSAGE = 'mutation($id: ID!) { deleteMessage(id: $id) }';
const auditOf = (kind: string, roomId: string) =>
  withDatabase(async (client) => (await client.query(`SELECT "userId", detail FROM "AuditEvent" WHERE kind = $1 AND detail->>'roomId' = $2`, [kind, uuidOf(roomId)])).rows);

/** The first answer of a subscription: its error code, or 'ok' for a message. */
async function firstAnswer(token: string, query: string, variables: Record<string, unknown>, act?: (answered: () => boolean) => Promise<unknown>): Promise<{ code: string; message?: string; body?: string }> {
  const socket = connectSocket(server, { token });
  await socket.acked;
  const stream = collect(socket.client, query, variables);
  const answered = () => stream.completed || stream.results.length > 0;
  const acting = act?.(answered);
  await Promise.race([stream.done, stream.waitFor(1, 10_000).catch(() => {}), ...(acting ? [acting] : [])]);
  await socket.client.dispose();
  // What it did stops once answered: nothing of it outlives the test.
  await acting;
  const error = Array.isArray(stream.error) ? stream.error[0] : stream.results[0]?.errors?.[0];
  if (error) return { code: error.extensions?.code, message: error.message };
  return { code: 'ok', body: stream.results[0]?.data?.roomMessages?.body };
}

describe('admins', () => {
  it('see every room and its members, read a PRIVATE or OWNER_ONLY room only after joining it, and that join is audited', async () => {
    const [owner, invited] = await Promise.all([signUp(server), signUp(server)]);
    for (const permission of ['PRIVATE', 'OWNER_ONLY'] as const) {
      const room = (await createRoom(server, owner.accessToken, { permission })).id;
      if (permission === 'PRIVATE') {
        await gql(server, 'mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }', { r: room, u: invited.id }, { token: owner.accessToken });
        await gql(server, JOIN, { id: room }, { token: invited.accessToken });
      }
      await gql(server, SEND, { id: room, body: 'before the admin' }, { token: owner.accessToken });
      // Seen, with its members, in the list and by id.
      const seen = await gql(server, 'query($id: ID!) { room(id: $id) { id members { id } } }', { id: room }, { token: adminToken });
      expect(seen.data.room.members.map((m: { id: string }) => m.id).sort()).toEqual((permission === 'PRIVATE' ? [owner.id, invited.id] : [owner.id]).sort());
      let listed = false;
      let after: string | null = null;
      for (let page = 0; page < 50 && !listed; page++) {
        const response: GraphQLResponse = await gql(server, 'query($after: String) { rooms(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }', { after }, { token: adminToken });
        listed = response.data.rooms.edges.some((e: { node: { id: string } }) => e.node.id === room);
        if (!response.data.rooms.pageInfo.hasNextPage) break;
        after = response.data.rooms.pageInfo.endCursor;
      }
      expect(listed, permission).toBe(true);
      // No messages before joining, by query or subscription.
      expect(errorCodes(await gql(server, MESSAGES, { id: room }, { token: adminToken })), permission).toEqual(['FORBIDDEN']);
      expect((await firstAnswer(adminToken, ROOM_MESSAGES, { id: room, after: null })).code, permission).toBe('FORBIDDEN');
      expect(await auditOf('admin_room_join', room)).toEqual([]);

      expect(errorCodes(await gql(server, JOIN, { id: room }, { token: adminToken })), permission).toEqual([]);
      const [audit, ...more] = await auditOf('admin_room_join', room);
      expect(more).toEqual([]);
      expect(audit).toMatchObject({ detail: { roomId: uuidOf(room), permission } });
      expect(audit.userId).not.toBeNull();
      // Joined: the history, and live messages.
      expect((await gql(server, MESSAGES, { id: room }, { token: adminToken })).data.messages.edges.map((e: { node: { body: string } }) => e.node.body)).toEqual(['before the admin']);
      const live = await firstAnswer(adminToken, ROOM_MESSAGES, { id: room, after: null }, async (answered) => {
        // The subscription is live once a message sent now reaches it; send until one does.
        for (let i = 0; i < 20 && !answered(); i++) {
          await gql(server, SEND, { id: room, body: 'live' }, { token: owner.accessToken });
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      expect(live).toEqual({ code: 'ok', body: 'live' });
    }
    // A PUBLIC or RESTRICTED room admitted admins all along: nothing to audit.
    const open = (await createRoom(server, owner.accessToken, { permission: 'RESTRICTED', allowedRoles: ['staff'] })).id;
    expect(errorCodes(await gql(server, JOIN, { id: open }, { token: adminToken }))).toEqual([]);
    expect(await auditOf('admin_room_join', open)).toEqual([]);
  });

  it('manage and delete any room and delete any message; authors delete their own, owners any in their room, others none', async () => {
    const [owner, member, stranger] = await Promise.all([signUp(server), signUp(server), signUp(server)]);
    const room = (await createRoom(server, owner.accessToken)).id;
    await gql(server, JOIN, { id: room }, { token: member.accessToken });
    await gql(server, JOIN, { id: room }, { token: stranger.accessToken });
    const send = async (who: TestAccount, body: string) => (await gql(server, SEND, { id: room, body }, { token: who.accessToken })).data.sendMessage.id as string;
    const [byOwner, byMember, byMember2, byStranger] = [await send(owner, 'o'), await send(member, 'm'), await send(member, 'm2'), await send(stranger, 's')];

    expect(errorCodes(await gql(server, DELETE_MESSAGE, { id: byOwner }, { token: member.accessToken }))).toEqual(['FORBIDDEN']);
    expect((await gql(server, DELETE_MESSAGE, { id: byMember }, { token: member.accessToken })).data.deleteMessage).toBe(true);
    expect((await gql(server, DELETE_MESSAGE, { id: byMember2 }, { token: owner.accessToken })).data.deleteMessage).toBe(true);
    // The admin is no member of this room.
    expect((await gql(server, DELETE_MESSAGE, { id: byStranger }, { token: adminToken })).data.deleteMessage).toBe(true);
    expect(errorCodes(await gql(server, DELETE_MESSAGE, { id: byStranger }, { token: adminToken }))).toEqual(['NOT_FOUND']);
    const bodies = (await gql(server, MESSAGES, { id: room }, { token: owner.accessToken })).data.messages.edges.map((e: { node: { body: string } }) => e.node.body);
    expect(bodies).toEqual(['o']);
    // Deleting another's message is a moderation, audited; one's own is not.
    expect((await auditOf('message_deleted', room)).map((row) => row.detail.messageId).sort()).toEqual([uuidOf(byMember2), uuidOf(byStranger)].sort());

    const renamed = await gql(server, 'mutation($id: ID!) { updateRoom(id: $id, input: { name: "by admin" }) { name } }', { id: room }, { token: adminToken });
    expect(renamed.data.updateRoom.name).toBe('by admin');
    const ownerOnly = (await createRoom(server, owner.accessToken, { permission: 'OWNER_ONLY' })).id;
    expect((await gql(server, 'mutation($id: ID!) { deleteRoom(id: $id) }', { id: ownerOnly }, { token: adminToken })).data.deleteRoom).toBe(true);
    expect((await gql(server, 'query($id: ID!) { room(id: $id) { id } }', { id: ownerOnly }, { token: owner.accessToken })).data.room).toBeNull();
  });
});

describe('hidden rooms', () => {
  it('a room the caller may not see answers on every path exactly as a room that does not exist', async () => {
    const [owner, stranger] = await Promise.all([signUp(server), signUp(server)]);
    const hidden = (await createRoom(server, owner.accessToken, { permission: 'PRIVATE' })).id;
    const message = (await gql(server, SEND, { id: hidden, body: 'secret' }, { token: owner.accessToken })).data.sendMessage.id as string;
    const missing = encodeGlobalID('Room', randomUUID());
    const missingMessage = encodeGlobalID('Message', randomUUID());
    const token = stranger.accessToken;
    /** What the stranger gets: data, or the code and message of the first error. */
    const answer = (r: GraphQLResponse) => (r.errors ? { code: r.errors[0]!.extensions?.code, message: r.errors[0]!.message } : r.data);
    const http: [string, string, (id: string, messageId: string) => Record<string, unknown>][] = [
      ['room', 'query($id: ID!) { room(id: $id) { id } }', (id) => ({ id })],
      ['node', 'query($id: ID!) { node(id: $id) { id } }', (id) => ({ id })],
      ['message node', 'query($id: ID!) { node(id: $id) { id } }', (_id, messageId) => ({ id: messageId })],
      ['joinRoom', JOIN, (id) => ({ id })],
      ['leaveRoom', 'mutation($id: ID!) { leaveRoom(roomId: $id) }', (id) => ({ id })],
      ['updateRoom', 'mutation($id: ID!) { updateRoom(id: $id, input: { name: "x" }) { id } }', (id) => ({ id })],
      ['deleteRoom', 'mutation($id: ID!) { deleteRoom(id: $id) }', (id) => ({ id })],
      ['inviteToRoom', 'mutation($id: ID!, $u: ID!) { inviteToRoom(roomId: $id, userId: $u) { id } }', (id) => ({ id, u: stranger.id })],
      ['removeFromRoom', 'mutation($id: ID!, $u: ID!) { removeFromRoom(roomId: $id, userId: $u) { id } }', (id) => ({ id, u: owner.id })],
      ['sendMessage', SEND, (id) => ({ id, body: 'x' })],
      ['messages', MESSAGES, (id) => ({ id })],
      ['deleteMessage', DELETE_MESSAGE, (_id, messageId) => ({ id: messageId })],
    ];
    for (const [name, query, variables] of http) {
      const [ofHidden, ofMissing] = [answer(await gql(server, query, variables(hidden, message), { token })), answer(await gql(server, query, variables(missing, missingMessage), { token }))];
      expect(ofHidden, name).toEqual(ofMissing);
      expect(JSON.stringify(ofHidden), name).toMatch(/NOT_FOUND|null/);
    }
    for (const query of [ROOM_MESSAGES, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind } }']) {
      const [ofHidden, ofMissing] = [await firstAnswer(token, query, { id: hidden }), await firstAnswer(token, query, { id: missing })];
      expect(ofHidden, query).toEqual(ofMissing);
      expect(ofHidden.code, query).toBe('NOT_FOUND');
    }
    // Nothing was done to it.
    const still = await gql(server, 'query($id: ID!) { room(id: $id) { name memberCount } messages(roomId: $id) { edges { node { body } } } }', { id: hidden }, { token: owner.accessToken });
    expect(still.data).toEqual({ room: { name: 'room', memberCount: 1 }, messages: { edges: [{ node: { body: 'secret' } }] } });
  });
});

describe('room order', () => {
  it('rooms lists the most recently active first: last message, else creation; paging keeps that order', async () => {
    const owner = await signUp(server);
    const [a, b, c] = [await createRoom(server, owner.accessToken, { name: 'a' }), await createRoom(server, owner.accessToken, { name: 'b' }), await createRoom(server, owner.accessToken, { name: 'c' })];
    const names = new Map([a, b, c].map((room) => [room.id, room.name]));
    const LIST = 'query($first: Int, $after: String) { rooms(first: $first, after: $after) { edges { node { id lastActivityAt } } pageInfo { hasNextPage endCursor } } }';
    /** The whole list, `size` rooms a page: [id, lastActivityAt] in order. */
    const list = async (size: number) => {
      const rows: [string, string][] = [];
      let after: string | null = null;
      for (let page = 0; page < 1000; page++) {
        const response: GraphQLResponse = await gql(server, LIST, { first: size, after }, { token: owner.accessToken });
        rows.push(...response.data.rooms.edges.map((e: { node: { id: string; lastActivityAt: string } }) => [e.node.id, e.node.lastActivityAt] as [string, string]));
        if (!response.data.rooms.pageInfo.hasNextPage) return rows;
        after = response.data.rooms.pageInfo.endCursor;
      }
      throw new Error('too many pages');
    };
    const ours = async (size = 100) => {
      const rows = await list(size);
      // The whole list is in order of last activity, newest first.
      const times = rows.map(([, at]) => Date.parse(at));
      expect(times).toEqual([...times].sort((x, y) => y - x));
      return rows.filter(([id]) => names.has(id)).map(([id]) => names.get(id));
    };
    expect(await ours()).toEqual(['c', 'b', 'a']);
    const sent = await gql(server, SEND, { id: a.id, body: 'wake a' }, { token: owner.accessToken });
    expect(await ours()).toEqual(['a', 'c', 'b']);
    const [, activeAt] = (await list(100)).find(([id]) => id === a.id)!;
    const stored = await withDatabase(async (client) => (await client.query('SELECT "createdAt" FROM "Message" WHERE id = $1', [uuidOf(sent.data.sendMessage.id)])).rows[0].createdAt as Date);
    expect(new Date(activeAt).getTime()).toBe(stored.getTime());
    await gql(server, SEND, { id: b.id, body: 'wake b' }, { token: owner.accessToken });
    expect(await ours()).toEqual(['b', 'a', 'c']);
    expect(await ours(1)).toEqual(['b', 'a', 'c']);
    expect(await ours(2)).toEqual(['b', 'a', 'c']);
  });
});
