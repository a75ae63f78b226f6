/**
 * An instance that falls behind refuses sends at once instead of queueing
 * them (src/messages/admission.ts): PostgreSQL's answers are held back
 * through a TCP proxy, so that sends stay in progress; once eight have been
 * at it past SEND_QUEUE_MAX_WAIT with none finishing, the next send is
 * refused RATE_LIMITED (overloaded) while they still wait, and it stores
 * nothing; they are stored once the answers flow, and sends are accepted
 * again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { errorCodes, gql, startServer, stopAllServers } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts';
import { startTcpProxy, type ProxiedConnection } from '../helpers/tcp-proxy.ts';
import { createRoom, SEND, storedMessages } from '../rooms/helpers.ts';

afterAll(() => stopAllServers());

describe('sends past what the instance keeps up with', () => {
  it('are refused RATE_LIMITED (overloaded, retryAfter) at once while the oldest send waits past SEND_QUEUE_MAX_WAIT, storing nothing; the waiting one is kept', async () => {
    const connections = new Set<ProxiedConnection>();
    // Once holding, connections the pool opens later are held too.
    let holding = false;
    const proxy = await startTcpProxy(testDatabaseUrl, { watch: (connection) => (connections.add(connection), (connection.held = holding), () => {}) });
    try {
      const server = await startServer({ DATABASE_URL: proxy.via(testDatabaseUrl), REDIS_URL: testRedisUrl, SEND_QUEUE_MAX_WAIT: '0.2' });
      const [sender, other] = await Promise.all([signUp(server), signUp(server)]);
      const room = await createRoom(server, sender.accessToken);
      const otherRoom = await createRoom(server, other.accessToken);
      // Warm: the access of both senders is known, so that the held statement is the insert's.
      await gql(server, SEND, { id: room.id, body: 'first' }, { token: sender.accessToken });
      await gql(server, SEND, { id: otherRoom.id, body: 'first' }, { token: other.accessToken });

      holding = true;
      for (const connection of connections) connection.held = true;
      // A backlog: eight sends in progress, none finishing (src/messages/admission.ts).
      const waiting = Promise.all(Array.from({ length: 8 }, (_, i) => gql(server, SEND, { id: room.id, body: `waits ${i}` }, { token: sender.accessToken })));
      // Clock: the waiting sends have to be older than SEND_QUEUE_MAX_WAIT.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const refused = await gql(server, SEND, { id: otherRoom.id, body: 'refused' }, { token: other.accessToken });
      expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
      expect(refused.errors![0]!.extensions).toMatchObject({ reason: 'overloaded', retryAfter: 1 });
      // Refused while the first still waited: at once, not after it.
      let firstDone = false;
      void waiting.then(() => (firstDone = true));
      await Promise.resolve();
      expect(firstDone).toBe(false);

      holding = false;
      proxy.release();
      expect((await waiting).map((answer) => answer.data.sendMessage.body)).toEqual(Array.from({ length: 8 }, (_, i) => `waits ${i}`));
      // Sends are judged again after an interval in which nothing slow finished: accepted within a moment.
      let again = await gql(server, SEND, { id: otherRoom.id, body: 'accepted again' }, { token: other.accessToken });
      for (let tries = 1; errorCodes(again)[0] === 'RATE_LIMITED' && tries < 20; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        again = await gql(server, SEND, { id: otherRoom.id, body: 'accepted again' }, { token: other.accessToken });
      }
      expect(again.data.sendMessage.body).toBe('accepted again');
      expect((await storedMessages(room.id)).map((m) => m.body).sort()).toEqual(['first', ...Array.from({ length: 8 }, (_, i) => `waits ${i}`)].sort());
      expect((await storedMessages(otherRoom.id)).map((m) => m.body)).toEqual(['first', 'accepted again']);
    } finally {
      await proxy.stop();
    }
  });
});
