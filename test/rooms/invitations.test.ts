/**
 * roomInvitations across two instances on one Redis and one database: an
 * invitation made on one instance reaches the invitee's subscriptions on
 * both, once each; a repeated invitation, one of a member and refused ones
 * announce nothing; nobody else hears it; a subscription needs a signed-in
 * user (over SSE, UNAUTHENTICATED).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectLive, connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { signUp, type TestAccount } from '../helpers/accounts.ts';
import { createRoom, JOIN } from './helpers.ts';

const INVITATIONS = 'subscription { roomInvitations { at room { id name permission } invitedBy { username } } }';
const INVITE = 'mutation($room: ID!, $user: ID!) { inviteToRoom(roomId: $room, userId: $user) { id } }';

let first: TestServer;
let second: TestServer;
beforeAll(async () => {
  [first, second] = await Promise.all([startServer(scaledEnv()), startServer(scaledEnv())]);
});
afterAll(stopAllServers);

const subscribe = async (server: TestServer, user: TestAccount) => {
  const socket = connectSocket(server, { authorization: `Bearer ${user.accessToken}` });
  await socket.acked;
  // Live once the instance counts it started: what is published after reaches it.
  return collectLive(server, socket.client, INVITATIONS);
};
const invite = (owner: TestAccount, roomId: string, invitee: TestAccount) => gql(first, INVITE, { room: roomId, user: invitee.id }, { token: owner.accessToken });
const roomIdsOf = (stream: { results: { data?: any }[] }) => stream.results.map((r) => r.data?.roomInvitations.room.id);

describe('roomInvitations', () => {
  it('tells the invitee on every instance, once per invitation; not for a repeat, a member or a refused invitation; nobody else', async () => {
    const [alice, bob, carol, mallory] = await Promise.all([signUp(first), signUp(first), signUp(first), signUp(first)]);
    const onSecond = await subscribe(second, bob);
    const onFirst = await subscribe(first, bob);
    const carols = await subscribe(second, carol);
    const heard = { second: onSecond.results.length, first: onFirst.results.length };

    const room = await createRoom(first, alice.accessToken, { name: uniqueName('private'), permission: 'PRIVATE' });
    expect((await invite(alice, room.id, bob)).data.inviteToRoom.id).toBe(room.id);
    await onSecond.waitFor(heard.second + 1);
    await onFirst.waitFor(heard.first + 1);
    const event = onSecond.results.at(-1)!.data!.roomInvitations;
    expect(event).toEqual({ at: expect.any(String), room: { id: room.id, name: room.name, permission: 'PRIVATE' }, invitedBy: { username: alice.username } });
    expect(Math.abs(Date.parse(event.at) - Date.now())).toBeLessThan(60_000);
    expect(onFirst.results.at(-1)!.data!.roomInvitations).toEqual(event);

    // Nothing for these: the same invitation again, a room Bob is already a member of, a non-owner's (of Carol) and a bad user id (refused).
    await invite(alice, room.id, bob);
    const joined = await createRoom(first, alice.accessToken, { name: uniqueName('public') });
    expect((await gql(second, JOIN, { id: joined.id }, { token: bob.accessToken })).errors).toBeUndefined();
    await invite(alice, joined.id, bob);
    // Mallory may not manage either room: the private one she cannot even see.
    expect(errorCodes(await invite(mallory, room.id, carol))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await invite(mallory, joined.id, carol))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(first, INVITE, { room: room.id, user: 'not-an-id' }, { token: alice.accessToken }))).toEqual(['BAD_USER_INPUT']);
    // ...as the next invitation, announced after them, shows: it is the next thing each stream says.
    const next = await createRoom(first, alice.accessToken, { name: uniqueName('next'), permission: 'PRIVATE' });
    await invite(alice, next.id, bob);
    await onSecond.waitFor(heard.second + 2);
    await onFirst.waitFor(heard.first + 2);
    expect(roomIdsOf(onSecond).slice(heard.second)).toEqual([room.id, next.id]);
    expect(roomIdsOf(onFirst).slice(heard.first)).toEqual([room.id, next.id]);

    // Carol heard none of Bob's; her own invitation, made last, is the first thing she hears.
    const hers = await createRoom(first, alice.accessToken, { name: uniqueName('hers'), permission: 'PRIVATE' });
    await invite(alice, hers.id, carol);
    await carols.waitFor(1);
    expect(roomIdsOf(carols)).toEqual([hers.id]);
    for (const stream of [onSecond, onFirst, carols]) expect(stream.results.every((r) => r.errors === undefined)).toBe(true);
  });

  it('asks for a signed-in user: over SSE without a token, UNAUTHENTICATED', async () => {
    const response = await fetch(`${second.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: INVITATIONS }),
    });
    const event = (await response.text()).split('\n').find((line) => line.startsWith('data: {'));
    expect(JSON.parse(event!.slice('data: '.length)).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});
