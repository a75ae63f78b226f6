/**
 * Redis Sentinel: a primary, a replica and three Sentinels started by this
 * suite on loopback; two instances configured with REDIS_SENTINELS and
 * REDIS_MASTER_NAME. The primary is killed while messages flow from one
 * instance to a subscriber on the other: once a Sentinel has promoted the
 * replica, sends work again with no restart, every accepted message is
 * stored once and reaches the live subscriber and a subscriber resuming
 * from its cursor once each, in order, and the seat cap holds throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../helpers/accounts.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { startSentinelTopology, type SentinelTopology } from '../helpers/redis-topology.ts';
import { bearer, collect, connectSocket, gql, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND, storedMessages, warmUp } from '../rooms/helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let topology: SentinelTopology;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  topology = await startSentinelTopology();
  const env = { DATABASE_URL: testDatabaseUrl, ...topology.env, MAX_CONNECTIONS: '3', MESSAGE_RATE_PER_USER: '100000', MESSAGE_RATE_PER_ROOM: '100000' };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
}, 90_000);
afterAll(async () => {
  await stopAllServers();
  await topology?.stop();
});

describe('Redis Sentinel failover', () => {
  it('kill the primary while messages flow: sends resume by themselves after the promotion, nothing accepted is lost or doubled, the seat cap holds', async () => {
    const [owner, member, third, fourth] = await Promise.all([signUp(a), signUp(a), signUp(b), signUp(b)]);
    const room = (await createRoom(a, owner.accessToken)).id;
    await gql(a, JOIN, { id: room }, { token: member.accessToken });
    // Three seats of three: the owner's on A, the member's and a third user's on B.
    const ownerSocket = connectSocket(a, bearer(owner.accessToken));
    const memberSocket = connectSocket(b, bearer(member.accessToken));
    const thirdSocket = connectSocket(b, bearer(third.accessToken));
    await Promise.all([ownerSocket.acked, memberSocket.acked, thirdSocket.acked]);
    const live = collect(memberSocket.client, ROOM_MESSAGES, { id: room });
    await warmUp(a, owner.accessToken, room, () => live.results.length > 0);
    const warmUps = (await storedMessages(room)).length;

    // A fourth user keeps knocking, on both instances, all along: never admitted.
    let knocking = true;
    const knocks: string[] = [];
    const knocker = (async () => {
      for (let i = 0; knocking && i < 400; i++) {
        const socket = connectSocket(i % 2 ? a : b, bearer(fourth.accessToken));
        knocks.push(await socket.acked.then(() => 'admitted', (e) => `refused ${e.code}`));
        await socket.client.dispose();
        await sleep(100);
      }
    })();

    // Sends from A, one every 50 ms, each with its own idempotency key; a refused one is not retried.
    const accepted: string[] = [];
    const refused: string[] = [];
    let killedAt = 0;
    let resumedAt = 0;
    for (let i = 0; i < 1200; i++) {
      const body = `n${i}`;
      const response = await gql(a, SEND, { id: room, body, key: body }, { token: owner.accessToken }).catch(() => null);
      if (response?.data?.sendMessage) {
        accepted.push(body);
        if (killedAt && !resumedAt) resumedAt = Date.now();
      } else refused.push(body);
      if (i === 20) {
        await topology.killPrimary();
        killedAt = Date.now();
      }
      // Enough sends after the recovery to show that the flow goes on.
      if (resumedAt && accepted.length >= 20 && Date.now() - resumedAt > 2000) break;
      await sleep(50);
    }
    knocking = false;
    await knocker;
    expect(resumedAt, 'sends never worked again after the primary was killed').toBeGreaterThan(0);
    console.log(`sentinel failover: sends worked again ${((resumedAt - killedAt) / 1000).toFixed(1)} s after the primary was killed; ${refused.length} sends refused meanwhile`);

    // What was accepted is what is stored, in order, once each: a send reported failed stored nothing.
    expect((await storedMessages(room)).slice(warmUps).map((m) => m.body)).toEqual(accepted);
    // The live subscriber on B got each accepted message once, in order (what the bus missed is read again).
    const bodies = () => live.results.map((r) => r.data?.roomMessages.body).filter((body) => body !== 'warm-up');
    await expect.poll(bodies, { timeout: 15_000 }).toEqual(accepted);
    // A subscriber resuming from the cursor of the last message before the kill gets the rest, once each.
    const before = live.results.find((r) => r.data?.roomMessages.body === accepted[19])!.data.roomMessages.cursor;
    const resumed = collect(memberSocket.client, ROOM_MESSAGES, { id: room, after: before });
    await expect.poll(() => resumed.results.map((r) => r.data?.roomMessages.body), { timeout: 15_000 }).toEqual(accepted.slice(20));

    // The seat cap held: the fourth user was never admitted, and after the failover it still is not.
    expect(knocks.length).toBeGreaterThan(0);
    expect(knocks).not.toContain('admitted');
    const after = connectSocket(b, bearer(fourth.accessToken));
    expect((await after.closed).code).toBe(4029);
    expect((await gql(b, '{ connectionSlots { used } }')).data.connectionSlots.used).toBe(3);
  }, 120_000);
});
