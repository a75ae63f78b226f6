/**
 * A user deleted while connected: its sockets close and it goes OFFLINE,
 * but there is no user left to show in that change (PresenceEvent.user and
 * RoomPresenceEvent.user are non-null). Before, `presence` and
 * `roomPresence` subscribers got an error payload for it
 * (INTERNAL_SERVER_ERROR at presence.user, roomPresence.user); now they get
 * no event for a user who is gone, and the next changes as ever.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, collectLive, connectSocket, eventually, gql, scaledEnv, seatsUsed, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { logIn, signUp, type TestAccount } from '../helpers/accounts.ts';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.ts';
import { createRoom, JOIN } from '../rooms/helpers.ts';

const adminName = uniqueName('admin');
const adminPass = 'admin-password-123';

// A Redis of its own: presence is cluster-wide, and other suites' instances would show in these streams.
let redis: PrivateRedis | undefined;
afterEach(async () => {
  await stopAllServers();
  await redis?.stop();
});

/** Two instances; on `watched`, a room's owner subscribes to presence and to the room's presence. */
async function watchedRoom(env: Record<string, string> = {}) {
  redis = await startPrivateRedis();
  const serverEnv = { ...scaledEnv(), REDIS_URL: redis.url, SINGLE_SESSION: 'false', ADMIN_USER: adminName, ADMIN_PASS: adminPass, ...env };
  const [watched, other] = await Promise.all([startServer(serverEnv), startServer(serverEnv)]);
  const owner = await signUp(watched);
  const room = await createRoom(watched, owner.accessToken);
  const socket = connectSocket(watched, bearer(owner.accessToken));
  await socket.acked;
  const presence = await collectLive(watched, socket.client, 'subscription { presence { user { id username } status } }');
  const inRoom = await collectLive(watched, socket.client, 'subscription($id: ID!) { roomPresence(roomId: $id) { kind user { id username } status } }', { id: room.id });
  return {
    watched,
    other,
    /** A new member of the room, connected to `server`, once both streams have shown it. */
    async connectedMember(server: TestServer) {
      const member = await signUp(server);
      await gql(server, JOIN, { id: room.id }, { token: member.accessToken });
      const memberSocket = connectSocket(server, bearer(member.accessToken));
      await memberSocket.acked;
      await eventually(() => statuses(member).length === 1 && roomStatuses(member).length === 2, 3000, 'JOINED, then ONLINE');
      expect(statuses(member)).toEqual(['ONLINE']);
      expect(roomStatuses(member)).toEqual(['JOINED OFFLINE', 'STATUS ONLINE']);
      return { member, socket: memberSocket };
    },
    statuses,
    roomStatuses,
    errors: () => [...presence.results, ...inRoom.results].filter((r) => r.errors),
  };
  function statuses(user: TestAccount) {
    return presence.results.filter((r) => r.data?.presence.user.id === user.id).map((r) => r.data!.presence.status);
  }
  function roomStatuses(user: TestAccount) {
    return inRoom.results.filter((r) => r.data?.roomPresence.user.id === user.id).map((r) => `${r.data!.roomPresence.kind} ${r.data!.roomPresence.status}`);
  }
}

const deleteAccount = (server: TestServer, user: TestAccount) =>
  gql(server, 'mutation($password: String!) { deleteAccount(password: $password) }', { password: user.password }, { token: user.accessToken });
const deleteUser = async (server: TestServer, user: TestAccount) =>
  gql(server, 'mutation($id: ID!) { deleteUser(id: $id) }', { id: user.id }, { token: (await logIn(server, adminName, adminPass)).accessToken });

describe('a user deleted while connected', () => {
  it.each([
    ['deleteAccount', deleteAccount],
    ['deleteUser', deleteUser],
  ])('%s: presence and roomPresence subscribers get no event for the user who is gone, no error, and the next changes', async (_how, remove) => {
    const room = await watchedRoom();
    const { member: gone, socket } = await room.connectedMember(room.other);
    const seats = await seatsUsed(room.other);
    const response = await remove(room.other, gone);
    expect(response.errors).toBeUndefined();
    expect((await socket.closed).code).toBe(4001);
    // Its seat freed, its OFFLINE is handed out; the next member's changes come after it, in order
    // (presence/service.ts): once they are shown, anything for the deleted user would have been too.
    await eventually(async () => (await seatsUsed(room.other)) === seats - 1, 5000, "the deleted user's seat freed");
    const { member: next } = await room.connectedMember(room.other);
    expect(room.errors()).toEqual([]);
    // The deletion commits about when the OFFLINE reaches the watched instance: when the user was still
    // there as that instance read it, the OFFLINE is shown, with the user, in both streams alike.
    const shownOffline = room.statuses(gone).length === 2;
    expect(room.statuses(gone)).toEqual(shownOffline ? ['ONLINE', 'OFFLINE'] : ['ONLINE']);
    expect(room.roomStatuses(gone)).toEqual(['JOINED OFFLINE', 'STATUS ONLINE', ...(shownOffline ? ['STATUS OFFLINE'] : [])]);
    expect(room.statuses(next)).toEqual(['ONLINE']);
  });

  it('after its instance died: the OFFLINE its lease brings later is not shown either', async () => {
    const room = await watchedRoom({ SLOT_LEASE_TTL: '2', PRESENCE_CHECK_INTERVAL: '1' });
    const { member: gone } = await room.connectedMember(room.other);
    await room.other.kill();
    expect((await deleteUser(room.watched, gone)).errors).toBeUndefined();
    // Clock: the lease ends within 2 s and the next check (every second) finds it: then OFFLINE would be handed out.
    await new Promise((r) => setTimeout(r, 4500));
    // The next member's changes come after that OFFLINE, in order (presence/service.ts).
    const { member: next } = await room.connectedMember(room.watched);
    expect(room.errors()).toEqual([]);
    expect(room.statuses(gone)).toEqual(['ONLINE']);
    expect(room.roomStatuses(gone)).toEqual(['JOINED OFFLINE', 'STATUS ONLINE']);
    expect(room.statuses(next)).toEqual(['ONLINE']);
  }, 30_000);
});
