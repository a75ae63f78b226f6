/**
 * An instance that falls behind refuses sends at once instead of queueing
 * them (src/messages/admission.ts): PostgreSQL's answers are held back
 * through a TCP proxy, so that the first send stays in progress; once it has
 * been at it past SEND_QUEUE_MAX_WAIT, the next send is refused RATE_LIMITED
 * (overloaded) while the first still waits, and it stores nothing; the first
 * is stored once the answers flow, and sends are accepted again.
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
    const proxy = await startTcpProxy(testDatabaseUrl, { watch: (connection) => (connections.add(connection), () => {}) });
    try {
      const server = await startServer({ DATABASE_URL: proxy.via(testDatabaseUrl), REDIS_URL: testRedisUrl, SEND_QUEUE_MAX_WAIT: '0.2' });
      const [sender, other] = await Promise.all([signUp(server), signUp(server)]);
      const room = await createRoom(server, sender.accessToken);
      const otherRoom = await createRoom(server, other.accessToken);
      // Warm: the access of both senders is known, so that the held statement is the insert's.
      await gql(server, SEND, { id: room.id, body: 'first' }, { token: sender.accessToken });
      await gql(server, SEND, { id: otherRoom.id, body: 'first' }, { token: other.accessToken });

      for (const connection of connections) connection.held = true;
      const waiting = gql(server, SEND, { id: room.id, body: 'waits' }, { token: sender.accessToken });
      // Clock: the waiting send has to be older than SEND_QUEUE_MAX_WAIT.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const refused = await gql(server, SEND, { id: otherRoom.id, body: 'refused' }, { token: other.accessToken });
      expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
      expect(refused.errors![0]!.extensions).toMatchObject({ reason: 'overloaded', retryAfter: 1 });
      // Refused while the first still waited: at once, not after it.
      let firstDone = false;
      void waiting.then(() => (firstDone = true));
      await Promise.resolve();
      expect(firstDone).toBe(false);

      proxy.release();
      expect((await waiting).data.sendMessage.body).toBe('waits');
      expect((await gql(server, SEND, { id: otherRoom.id, body: 'accepted again' }, { token: other.accessToken })).data.sendMessage.body).toBe('accepted again');
      expect((await storedMessages(room.id)).map((m) => m.body)).toEqual(['first', 'waits']);
      expect((await storedMessages(otherRoom.id)).map((m) => m.body)).toEqual(['first', 'accepted again']);
    } finally {
      await proxy.stop();
    }
  });
});
