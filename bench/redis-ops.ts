/**
 * `node --import tsx bench/redis-ops.ts`: how many Redis commands Switchboard
 * sends per stored message, per seat renewal, per presence change (a user's
 * first socket opening and its last closing), and while idle, counted from
 * Redis's own INFO commandstats on a private Redis (so nothing else counts).
 * Counts, not times: the machine's load does not move them. docs/scaling.md
 * sizes a deployment from them.
 */
import { Redis } from 'ioredis';
import { signUp } from '../test/helpers/accounts.ts';
import { startPrivateRedis } from '../test/helpers/redis-server.ts';
import { collect, connectSocket, gql, startServer, stopAllServers } from '../test/helpers/server.ts';
import { testDatabaseUrl } from '../test/helpers/env.ts';
import { createRoom, JOIN, ROOM_MESSAGES, SEND } from '../test/rooms/helpers.ts';

const messages = 200;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Calls per command since the last reset. */
async function calls(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const found = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) found.set(match[1]!, Number(match[2]));
  return found;
}

/** Runs `step` between a reset and a read of the counters; the counters' own commands are left out. */
async function counted(redis: Redis, step: () => Promise<void>): Promise<Map<string, number>> {
  await redis.config('RESETSTAT');
  await step();
  const found = await calls(redis);
  for (const own of ['config|resetstat', 'info', 'config']) found.delete(own);
  return found;
}

const total = (found: Map<string, number>) => [...found.values()].reduce((sum, n) => sum + n, 0);
const describe = (found: Map<string, number>, per: number) =>
  [...found.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([command, n]) => `${command} ${(n / per).toFixed(2)}`)
    .join(', ');

const redisServer = await startPrivateRedis();
const redis = new Redis(redisServer.url);
try {
  // Short leases, so that a renewal comes every 2 s (a third of SLOT_LEASE_TTL).
  const server = await startServer({ DATABASE_URL: testDatabaseUrl, REDIS_URL: redisServer.url, SLOT_LEASE_TTL: '6', PRESENCE_TIMEOUT: '6', MESSAGE_RATE_PER_USER: '100000', MESSAGE_RATE_PER_ROOM: '100000' });
  const [owner, member] = await Promise.all([signUp(server), signUp(server)]);
  const room = (await createRoom(server, owner.accessToken)).id;
  await gql(server, JOIN, { id: room }, { token: member.accessToken });
  const socket = connectSocket(server, { token: member.accessToken });
  await socket.acked;
  const stream = collect(socket.client, ROOM_MESSAGES, { id: room });
  // The subscription is live once a message reaches it (bounded: 100 tries).
  for (let i = 0; i < 100 && stream.results.length === 0; i++) {
    await gql(server, SEND, { id: room, body: 'warm-up' }, { token: owner.accessToken });
    await sleep(50);
  }
  if (stream.results.length === 0) throw new Error('the subscription never went live');

  const rows: Array<[string, number, string]> = [];
  const perMessage = await counted(redis, async () => {
    for (let i = 0; i < messages; i++) await gql(server, SEND, { id: room, body: `message ${i}` }, { token: owner.accessToken });
  });
  rows.push(['a stored message (sent over HTTP, one subscriber on the instance)', total(perMessage) / messages, describe(perMessage, messages)]);

  const idleSeconds = 12;
  const idle = await counted(redis, () => sleep(idleSeconds * 1000));
  rows.push([`an idle instance with one socket, per second (renewals every 2 s here, 20 s by default; loss checks)`, total(idle) / idleSeconds, describe(idle, idleSeconds)]);

  const users = await Promise.all(Array.from({ length: 10 }, () => signUp(server)));
  const change = await counted(redis, async () => {
    for (const user of users) {
      const other = connectSocket(server, { token: user.accessToken });
      await other.acked;
      other.client.terminate();
      await other.closed;
    }
    await sleep(500);
  });
  rows.push(['a user connecting then leaving (seat, presence ONLINE, then OFFLINE), per user', total(change) / users.length, describe(change, users.length)]);

  console.log('| what | Redis commands | of which |\n| --- | ---: | --- |');
  for (const [what, n, detail] of rows) console.log(`| ${what} | ${n.toFixed(2)} | ${detail} |`);
  socket.client.terminate();
} finally {
  await stopAllServers();
  redis.disconnect();
  await redisServer.stop();
}
