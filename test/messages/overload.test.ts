/**
 * An instance that falls behind refuses sends at once instead of queueing
 * them (src/messages/admission.ts): PostgreSQL's answers are held back
 * through a TCP proxy, so that sends stay in progress and none finishes;
 * past the bound on sends in progress, the next send is refused
 * RATE_LIMITED (overloaded) while the others still wait, and it stores
 * nothing; they are all stored once the answers flow, and sends are
 * accepted again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, errorCodes, eventually, gql, metric, startServer, stopAllServers } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts';
import { startTcpProxy, type ProxiedConnection } from '../helpers/tcp-proxy.ts';
import { createRoom, SEND, storedMessages } from '../rooms/helpers.ts';
import { minInProgress } from '../../src/messages/admission.ts';
import { account, closeClients, sdk } from '../clients/helpers.ts';

afterAll(() => {
  closeClients();
  return stopAllServers();
});

/** A server whose PostgreSQL answers can be held back (`hold`: sends stay in progress, none finishes) and let through again. */
async function serverWithHeldDatabase(maxWait = '0.1') {
  const connections = new Set<ProxiedConnection>();
  // Once holding, connections the pool opens later are held too.
  let holding = false;
  const proxy = await startTcpProxy(testDatabaseUrl, { watch: (connection) => (connections.add(connection), (connection.held = holding), () => {}) });
  const server = await startServer({ DATABASE_URL: proxy.via(testDatabaseUrl), REDIS_URL: testRedisUrl, SEND_QUEUE_MAX_WAIT: maxWait, MESSAGE_RATE_PER_USER: '100000', MESSAGE_RATE_PER_ROOM: '100000' }).catch(async (error: unknown) => {
    await proxy.stop();
    throw error;
  });
  return {
    server,
    proxy,
    hold() {
      holding = true;
      for (const connection of connections) connection.held = true;
    },
    release() {
      holding = false;
      proxy.release();
    },
  };
}

describe('sends past what the instance keeps up with', () => {
  it('are refused RATE_LIMITED (overloaded, retryAfter) at once past the bound on sends in progress, storing nothing; those in progress are kept', async () => {
    const { server, proxy, hold, release } = await serverWithHeldDatabase();
    try {
      const [sender, other] = await Promise.all([signUp(server), signUp(server)]);
      const room = await createRoom(server, sender.accessToken);
      const otherRoom = await createRoom(server, other.accessToken);
      // Warm: the access of both senders is known, so that what waits is the insert.
      await gql(server, SEND, { id: room.id, body: 'first' }, { token: sender.accessToken });
      await gql(server, SEND, { id: otherRoom.id, body: 'first' }, { token: other.accessToken });
      const socket = connectSocket(server, { token: sender.accessToken });
      await socket.acked;

      hold();
      // Nothing finishes, so the bound is its floor: that many sends in progress, over one socket.
      const waiting = Array.from({ length: minInProgress }, (_, i) => collect(socket.client, SEND, { id: room.id, body: `waits ${i}` }));
      await eventually(async () => (await metric(server, 'switchboard_sends_in_progress')) === minInProgress, 20_000, 'every send in progress');
      const refused = await gql(server, SEND, { id: otherRoom.id, body: 'refused' }, { token: other.accessToken });
      expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
      expect(refused.errors![0]!.extensions).toMatchObject({ reason: 'overloaded', retryAfter: 1 });
      expect(await metric(server, 'switchboard_sends_in_progress')).toBe(minInProgress);
      // Over HTTP it came before GraphQL ran (src/messages/send-refusal.ts): a body too long for a message is refused for load first.
      const tooLongOverHttp = await gql(server, SEND, { id: otherRoom.id, body: 'x'.repeat(4001) }, { token: other.accessToken });
      expect([tooLongOverHttp.status, tooLongOverHttp.data, tooLongOverHttp.errors]).toEqual([refused.status, refused.data, refused.errors]);

      // Over a WebSocket, a document it has seen is refused before GraphQL runs too, with the same answer:
      const overSocket = connectSocket(server, { token: other.accessToken });
      await overSocket.acked;
      const sameAnswer = collect(overSocket.client, SEND, { id: otherRoom.id, body: 'refused over the socket' });
      await sameAnswer.done;
      expect(sameAnswer.results).toEqual([{ data: null, errors: refused.errors }]);
      // before its input is looked at (a body too long for a message is refused for load first), at the field's alias.
      const tooLong = collect(overSocket.client, SEND, { id: otherRoom.id, body: 'x'.repeat(100_000) });
      await tooLong.done;
      expect(tooLong.results).toEqual([{ data: null, errors: refused.errors }]);
      const ALIASED = 'mutation($id: ID!, $body: String!) { sent: sendMessage(roomId: $id, body: $body) { id } }';
      for (const attempt of ['not seen yet', 'seen']) {
        const aliased = collect(overSocket.client, ALIASED, { id: otherRoom.id, body: attempt });
        await aliased.done;
        expect(aliased.results).toEqual([{ data: null, errors: [{ ...refused.errors![0], path: ['sent'], locations: [{ line: 1, column: ALIASED.indexOf('sent:') + 1 }] }] }]);
      }
      // What does more than send goes through GraphQL, and is refused there alike.
      const MORE = 'mutation($id: ID!, $body: String!) { sendMessage(roomId: $id, body: $body) { id } ping: __typename }';
      for (const attempt of ['not seen yet', 'seen']) {
        const more = collect(overSocket.client, MORE, { id: otherRoom.id, body: attempt });
        await more.done;
        expect(more.results).toEqual([{ data: null, errors: [{ ...refused.errors![0], locations: [{ line: 1, column: MORE.indexOf('sendMessage') + 1 }] }] }]);
      }
      await overSocket.client.dispose();

      release();
      await Promise.all(waiting.map((stream) => stream.done));
      expect(waiting.flatMap((stream) => stream.results.flatMap((result) => result.errors ?? []))).toEqual([]);
      expect((await gql(server, SEND, { id: otherRoom.id, body: 'accepted again' }, { token: other.accessToken })).data.sendMessage.body).toBe('accepted again');
      expect((await storedMessages(room.id)).length).toBe(1 + minInProgress);
      expect((await storedMessages(otherRoom.id)).map((m) => m.body)).toEqual(['first', 'accepted again']);
      await socket.client.dispose();
    } finally {
      await proxy.stop();
    }
  });
});

describe('with SEND_QUEUE_MAX_WAIT=0', () => {
  it('no send is refused for load: past the bound they wait, and all are stored once the database answers', async () => {
    const { server, proxy, hold, release } = await serverWithHeldDatabase('0');
    try {
      const sender = await signUp(server);
      const room = await createRoom(server, sender.accessToken);
      await gql(server, SEND, { id: room.id, body: 'first' }, { token: sender.accessToken });
      const socket = connectSocket(server, { token: sender.accessToken });
      await socket.acked;
      hold();
      const waiting = Array.from({ length: minInProgress + 10 }, (_, i) => collect(socket.client, SEND, { id: room.id, body: `waits ${i}` }));
      await eventually(async () => (await metric(server, 'switchboard_sends_in_progress')) === minInProgress + 10, 20_000, 'every send in progress, past the bound');
      const overHttp = gql(server, SEND, { id: room.id, body: 'over HTTP' }, { token: sender.accessToken });
      await eventually(async () => (await metric(server, 'switchboard_sends_in_progress')) === minInProgress + 11, 10_000, 'the HTTP send in progress too');
      release();
      await Promise.all(waiting.map((stream) => stream.done));
      expect(waiting.flatMap((stream) => stream.results.flatMap((result) => result.errors ?? []))).toEqual([]);
      expect((await overHttp).errors).toBeUndefined();
      expect((await storedMessages(room.id)).length).toBe(1 + minInProgress + 11);
      await socket.client.dispose();
    } finally {
      await proxy.stop();
    }
  }, 40_000);
});

describe('the SDK', () => {
  it('sends again, after retryAfter, a message refused for load, and it is stored once', async () => {
    const { server, proxy, hold, release } = await serverWithHeldDatabase();
    try {
      const [filler, user] = await Promise.all([signUp(server), account(server)]);
      const [full, room] = await Promise.all([createRoom(server, filler.accessToken), createRoom(server, user.accessToken)]);
      await gql(server, SEND, { id: full.id, body: 'first' }, { token: filler.accessToken });
      const client = sdk(server);
      await client.login(user.username, user.password);
      await client.sendMessage(room.id, 'first');
      const socket = connectSocket(server, { token: filler.accessToken });
      await socket.acked;

      hold();
      const waiting = Array.from({ length: minInProgress }, (_, i) => collect(socket.client, SEND, { id: full.id, body: `waits ${i}` }));
      await eventually(async () => (await metric(server, 'switchboard_sends_in_progress')) === minInProgress, 20_000, 'every send in progress');
      const refusedBefore = await metric(server, 'switchboard_rate_limit_hits_total', { kind: 'send-overload' });
      const sent = client.sendMessage(room.id, 'sent again');
      sent.catch(() => {}); // awaited below, once the database answers again
      // Refused once; then the database answers again, and the SDK's next attempt is stored.
      await eventually(async () => (await metric(server, 'switchboard_rate_limit_hits_total', { kind: 'send-overload' })) > refusedBefore, 10_000, 'the send refused');
      release();
      expect((await sent).body).toBe('sent again');
      await Promise.all(waiting.map((stream) => stream.done));
      expect((await storedMessages(room.id)).map((m) => m.body)).toEqual(['first', 'sent again']);
      await socket.client.dispose();
    } finally {
      await proxy.stop();
    }
  }, 30_000);
});
