/**
 * roomListChanges across two instances on one Redis and one database: each
 * subscriber hears, in order, the rooms it comes to see (made, opened to it,
 * an invitation), the changes of those it sees (their member count too, a
 * burst of joins as two changes), and those it no longer sees
 * (closed to it, removed from it, deleted, left when it may not join); it
 * hears nothing of rooms it cannot see; an admin sees them all. A
 * subscription needs a signed-in user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { logIn, signUp } from '../helpers/accounts.ts';
import { createRoom, JOIN } from './helpers.ts';

const CHANGES = 'subscription { roomListChanges { kind roomId room { id name permission memberCount } } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateRoomInput!) { updateRoom(id: $id, input: $input) { id } }';
const INVITE = 'mutation($room: ID!, $user: ID!) { inviteToRoom(roomId: $room, userId: $user) { id } }';
const REMOVE_MEMBER = 'mutation($room: ID!, $user: ID!) { removeFromRoom(roomId: $room, userId: $user) { id } }';
const DELETE = 'mutation($id: ID!) { deleteRoom(id: $id) }';
const LEAVE = 'mutation($id: ID!) { leaveRoom(roomId: $id) }';

const adminName = uniqueName('listadmin');
const adminPass = 'admin-password-123';
let first: TestServer;
let second: TestServer;
beforeAll(async () => {
  // Member counts told as they change (the default holds them back for a second after each): each sequence below is exact.
  const env = { ...scaledEnv(), ADMIN_USER: adminName, ADMIN_PASS: adminPass, SINGLE_SESSION: 'false', ROOM_LIST_COUNT_INTERVAL: '0.001' };
  [first, second] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(stopAllServers);

type Stream = ReturnType<typeof collect>;
const subscribe = async (server: TestServer, token: string) => {
  const socket = connectSocket(server, { authorization: `Bearer ${token}` });
  await socket.acked;
  return collect(socket.client, CHANGES);
};
const changesOf = (stream: Stream, from: number) => stream.results.slice(from).map((r) => (r.data as { roomListChanges?: unknown } | undefined)?.roomListChanges);
/** Waits for each stream's first event, RESYNC: the subscription listens from then on. Says where each stands. */
async function listening(streams: Stream[]): Promise<number[]> {
  for (const stream of streams) await stream.waitFor(1);
  expect(streams.map((s) => changesOf(s, 0)[0])).toEqual(streams.map(() => ({ kind: 'RESYNC', roomId: null, room: null })));
  return streams.map((s) => s.results.length);
}
const ok = async (response: Promise<{ errors?: unknown[] }>) => expect((await response).errors).toBeUndefined();

describe('roomListChanges', () => {
  it('tells each subscriber, on either instance and in order, what it comes to see, what changes, and what it no longer sees; nothing of rooms it cannot see', async () => {
    const [alice, bob, carol] = await Promise.all([signUp(first), signUp(first), signUp(first)]);
    const admin = await logIn(second, adminName, adminPass);
    const bobs = await subscribe(second, bob.accessToken);
    const carols = await subscribe(first, carol.accessToken);
    const admins = await subscribe(second, admin.accessToken);
    const [bobFrom, carolFrom, adminFrom] = await listening([bobs, carols, admins]);
    const as = (token: string) => ({ token });

    const open = await createRoom(first, alice.accessToken, { name: uniqueName('open') });
    const closed = await createRoom(second, alice.accessToken, { name: uniqueName('closed'), permission: 'PRIVATE' });
    await ok(gql(first, INVITE, { room: closed.id, user: bob.id }, as(alice.accessToken)));
    const renamed = uniqueName('renamed');
    await ok(gql(second, UPDATE, { id: open.id, input: { name: renamed } }, as(alice.accessToken)));
    await ok(gql(first, JOIN, { id: open.id }, as(carol.accessToken)));
    // Closed to everyone not invited: Carol, a member, loses her membership and the room.
    await ok(gql(first, UPDATE, { id: open.id, input: { permission: 'PRIVATE' } }, as(alice.accessToken)));
    await ok(gql(second, UPDATE, { id: closed.id, input: { permission: 'PUBLIC' } }, as(alice.accessToken)));
    // Invited, joined, then removed from a private room: Bob alone hears of it.
    const third = await createRoom(first, alice.accessToken, { name: uniqueName('third'), permission: 'PRIVATE' });
    await ok(gql(first, INVITE, { room: third.id, user: bob.id }, as(alice.accessToken)));
    await ok(gql(second, JOIN, { id: third.id }, as(bob.accessToken)));
    await ok(gql(first, REMOVE_MEMBER, { room: third.id, user: bob.id }, as(alice.accessToken)));
    // Refused changes tell nothing: Carol may not manage a room nor invite to it.
    expect(errorCodes(await gql(first, UPDATE, { id: closed.id, input: { name: 'hers now' } }, as(carol.accessToken)))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(first, INVITE, { room: third.id, user: carol.id }, as(carol.accessToken)))).toEqual(['NOT_FOUND']);
    await ok(gql(second, DELETE, { id: closed.id }, as(alice.accessToken)));
    const last = await createRoom(first, alice.accessToken, { name: uniqueName('last') });

    const room = (r: { id: string; name: string }, name = r.name, permission = 'PUBLIC', memberCount = 1) => ({ id: r.id, name, permission, memberCount });
    await bobs.waitFor(bobFrom + 11);
    expect(changesOf(bobs, bobFrom)).toEqual([
      { kind: 'ADDED', roomId: open.id, room: room(open) },
      { kind: 'ADDED', roomId: closed.id, room: room(closed, closed.name, 'PRIVATE') },
      { kind: 'CHANGED', roomId: open.id, room: room(open, renamed) },
      { kind: 'CHANGED', roomId: open.id, room: room(open, renamed, 'PUBLIC', 2) },
      { kind: 'REMOVED', roomId: open.id, room: null },
      { kind: 'CHANGED', roomId: closed.id, room: room(closed) },
      { kind: 'ADDED', roomId: third.id, room: room(third, third.name, 'PRIVATE') },
      { kind: 'CHANGED', roomId: third.id, room: room(third, third.name, 'PRIVATE', 2) },
      { kind: 'REMOVED', roomId: third.id, room: null },
      { kind: 'REMOVED', roomId: closed.id, room: null },
      { kind: 'ADDED', roomId: last.id, room: room(last) },
    ]);
    await carols.waitFor(carolFrom + 7);
    expect(changesOf(carols, carolFrom)).toEqual([
      { kind: 'ADDED', roomId: open.id, room: room(open) },
      { kind: 'CHANGED', roomId: open.id, room: room(open, renamed) },
      { kind: 'CHANGED', roomId: open.id, room: room(open, renamed, 'PUBLIC', 2) },
      { kind: 'REMOVED', roomId: open.id, room: null },
      { kind: 'ADDED', roomId: closed.id, room: room(closed) },
      { kind: 'REMOVED', roomId: closed.id, room: null },
      { kind: 'ADDED', roomId: last.id, room: room(last) },
    ]);
    // An admin sees every room: private ones come, change and go as public ones do; an invitation of others is nothing to it, a removal is a member fewer.
    await admins.waitFor(adminFrom + 11);
    expect(changesOf(admins, adminFrom)).toEqual([
      { kind: 'ADDED', roomId: open.id, room: room(open) },
      { kind: 'ADDED', roomId: closed.id, room: room(closed, closed.name, 'PRIVATE') },
      { kind: 'CHANGED', roomId: open.id, room: room(open, renamed) },
      { kind: 'CHANGED', roomId: open.id, room: room(open, renamed, 'PUBLIC', 2) },
      { kind: 'CHANGED', roomId: open.id, room: room(open, renamed, 'PRIVATE') },
      { kind: 'CHANGED', roomId: closed.id, room: room(closed) },
      { kind: 'ADDED', roomId: third.id, room: room(third, third.name, 'PRIVATE') },
      { kind: 'CHANGED', roomId: third.id, room: room(third, third.name, 'PRIVATE', 2) },
      { kind: 'CHANGED', roomId: third.id, room: room(third, third.name, 'PRIVATE') },
      { kind: 'REMOVED', roomId: closed.id, room: null },
      { kind: 'ADDED', roomId: last.id, room: room(last) },
    ]);
  });

  it('a member who no longer qualifies sees its room until it leaves, then hears it go', async () => {
    const [alice, dave] = await Promise.all([signUp(first), signUp(first)]);
    const admin = await logIn(first, adminName, adminPass);
    await ok(gql(first, 'mutation($id: ID!) { setRoles(userId: $id, roles: ["staff"]) { id } }', { id: dave.id }, { token: admin.accessToken }));
    const staffOnly = await createRoom(first, alice.accessToken, { name: uniqueName('staff'), permission: 'RESTRICTED', allowedRoles: ['staff'] });
    let session = await logIn(first, dave.username, dave.password);
    await ok(gql(first, JOIN, { id: staffOnly.id }, { token: session.accessToken }));
    // Its roles change (its sessions end with them): it stays a member it may no longer be, and still sees the room.
    await ok(gql(first, 'mutation($id: ID!) { setRoles(userId: $id, roles: []) { id } }', { id: dave.id }, { token: admin.accessToken }));
    session = await logIn(second, dave.username, dave.password);
    const daves = await subscribe(second, session.accessToken);
    const alices = await subscribe(first, alice.accessToken);
    const [from, aliceFrom] = await listening([daves, alices]);
    await ok(gql(second, LEAVE, { id: staffOnly.id }, { token: session.accessToken }));
    const marker = await createRoom(first, alice.accessToken, { name: uniqueName('marker') });
    const added = { kind: 'ADDED', roomId: marker.id, room: { id: marker.id, name: marker.name, permission: 'PUBLIC', memberCount: 1 } };
    await daves.waitFor(from + 2);
    expect(changesOf(daves, from)).toEqual([{ kind: 'REMOVED', roomId: staffOnly.id, room: null }, added]);
    // Its owner still sees it, a member fewer.
    await alices.waitFor(aliceFrom + 2);
    expect(changesOf(alices, aliceFrom)).toEqual([{ kind: 'CHANGED', roomId: staffOnly.id, room: { id: staffOnly.id, name: staffOnly.name, permission: 'RESTRICTED', memberCount: 1 } }, added]);
  });

  it('tells the member count of a join, a leave and a member whose account is deleted, on either instance; a refused join or leave tells nothing', async () => {
    const [alice, erin, frank] = await Promise.all([signUp(first), signUp(first), signUp(second)]);
    const hall = await createRoom(first, alice.accessToken, { name: uniqueName('hall'), maxMembers: 2 });
    const erins = await subscribe(second, erin.accessToken);
    const [from] = await listening([erins]);
    // Each change is waited for before the next: a change tells the count as read when it goes out, so
    // one still on its way when the next membership change commits would rightly carry the later count.
    await ok(gql(first, JOIN, { id: hall.id }, { token: frank.accessToken }));
    await erins.waitFor(from + 1);
    // Refused: the room is full; Frank is a member already (answered, nothing changed); Erin is no member to leave.
    expect(errorCodes(await gql(second, JOIN, { id: hall.id }, { token: erin.accessToken }))).toEqual(['ROOM_FULL']);
    await ok(gql(second, JOIN, { id: hall.id }, { token: frank.accessToken }));
    expect((await gql(second, LEAVE, { id: hall.id }, { token: erin.accessToken })).data).toEqual({ leaveRoom: false });
    await ok(gql(second, LEAVE, { id: hall.id }, { token: frank.accessToken }));
    await erins.waitFor(from + 2);
    await ok(gql(first, JOIN, { id: hall.id }, { token: frank.accessToken }));
    await erins.waitFor(from + 3);
    await ok(gql(second, 'mutation($password: String!) { deleteAccount(password: $password) }', { password: frank.password }, { token: frank.accessToken }));
    await erins.waitFor(from + 4);
    const marker = await createRoom(first, alice.accessToken, { name: uniqueName('marker') });
    const hallWith = (memberCount: number) => ({ kind: 'CHANGED', roomId: hall.id, room: { id: hall.id, name: hall.name, permission: 'PUBLIC', memberCount } });
    await erins.waitFor(from + 5);
    expect(changesOf(erins, from)).toEqual([
      hallWith(2),
      hallWith(1),
      hallWith(2),
      hallWith(1),
      { kind: 'ADDED', roomId: marker.id, room: { id: marker.id, name: marker.name, permission: 'PUBLIC', memberCount: 1 } },
    ]);
  });

  it('tells a burst of joins on another instance as one change at once and one more, a second later, with the count it reached', async () => {
    const held = await startServer(scaledEnv());
    const [owner, watcher, ...joiners] = await Promise.all(Array.from({ length: 12 }, () => signUp(first)));
    const hall = await createRoom(first, owner!.accessToken, { name: uniqueName('burst') });
    const watched = await subscribe(held, watcher!.accessToken);
    const [from] = await listening([watched]);
    await Promise.all(joiners.map((joiner) => ok(gql(first, JOIN, { id: hall.id }, { token: joiner.accessToken }))));
    const counts = () => changesOf(watched, from).map((change) => (change as { room: { memberCount: number } }).room.memberCount);
    await expect.poll(counts, { timeout: 10_000 }).toContain(11);
    // Clock: past ROOM_LIST_COUNT_INTERVAL, when the batched counts go out.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The first join at once; the nine after it within the second that followed, as one (as two, should they take longer).
    expect(counts().length).toBeGreaterThanOrEqual(2);
    expect(counts().length).toBeLessThanOrEqual(3);
    expect(counts().at(-1)).toBe(11);
    expect(changesOf(watched, from).every((change) => (change as { kind: string }).kind === 'CHANGED')).toBe(true);
  });

  it('needs a signed-in user', async () => {
    const response = await fetch(`${first.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: CHANGES }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(await response.text()).toMatch(/UNAUTHENTICATED/);
  });
});
