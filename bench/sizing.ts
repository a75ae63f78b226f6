/**
 * Redis commands per stored message, per seat renewal and per presence
 * change, counted with INFO commandstats on a private Redis around each
 * step (figures for sizing Redis; they do not depend on the machine's
 * speed). Runs one Switchboard (dist/src/main.js: run `npm run build`
 * first) in scaled mode on a fresh database, with SLOT_LEASE_TTL=3 (a
 * renewal every second) and a presence check every second.
 *
 *   node --import tsx bench/sizing.ts
 *
 * BENCH_POSTGRES_URL as for `npm run bench`; BENCH_REDIS_PORT picks the
 * private Redis's port.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { Redis } from 'ioredis';
import { PrismaPg } from '@prisma/adapter-pg';
import { applyMigrations } from '../src/adapters/migrations.ts';
import { serverEntry } from '../scripts/build.ts';
import { startPrivateRedis } from '../test/helpers/redis-server.ts';
import { accepts, freePort } from '../test/helpers/ports.ts';
import { graphqlWs, type Connection } from './load/protocols.ts';

const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const database = `switchboard_sizing_${process.pid}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: `${postgresUrl}/postgres` });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

async function graphql<T>(port: number, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const result = (await response.json()) as { data?: T; errors?: unknown[] };
  if (!result.data || result.errors) throw new Error(`${query.slice(0, 40)}…: ${JSON.stringify(result.errors)}`);
  return result.data;
}

/** Commands by name since the last reset (INFO commandstats). */
async function commands(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const counts: Record<string, number> = {};
  for (const [, name, calls] of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) if (name !== 'info' && name !== 'config') counts[name!] = Number(calls);
  return counts;
}

/** Counts the Redis commands `work` causes, per `units` (what runs anyway meanwhile, measured over as long, taken off). */
async function perUnit(redis: Redis, label: string, units: number, work: () => Promise<void>, idlePerMs?: Record<string, number>) {
  await redis.config('RESETSTAT');
  const started = Date.now();
  await work();
  const ms = Date.now() - started;
  const counts = await commands(redis);
  const per: Record<string, number> = {};
  for (const [name, calls] of Object.entries(counts)) {
    const net = calls - (idlePerMs?.[name] ?? 0) * ms;
    if (net / units >= 0.05) per[name] = Math.round((net / units) * 100) / 100;
  }
  const total = Object.values(per).reduce((a, b) => a + b, 0);
  console.log(`${label}: ${total.toFixed(2)} Redis commands each (${Object.entries(per).map(([n, c]) => `${n} ${c}`).join(', ')})`);
  return counts;
}

const redis = await startPrivateRedis(process.env.BENCH_REDIS_PORT ? Number(process.env.BENCH_REDIS_PORT) : undefined);
await admin(`CREATE DATABASE "${database}"`);
const databaseUrl = `${postgresUrl}/${database}`;
const port = await freePort();
const server = spawn(process.execPath, [serverEntry], {
  env: {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    JWT_SECRET: 'sizing-secret-sizing-secret-sizing-0000',
    BCRYPT_COST: '4',
    SLOT_LEASE_TTL: '3',
    PRESENCE_CHECK_INTERVAL: '1',
    MAX_CONNECTIONS: '1000',
    CONNECTS_PER_IP: '100000',
    REGISTER_PER_IP: '100000',
    MESSAGE_RATE_PER_USER: '100000',
    MESSAGE_RATE_PER_ROOM: '100000',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const watch = new Redis(redis.url);
const sockets: Connection[] = [];
try {
  await applyMigrations(new PrismaPg({ connectionString: databaseUrl }));
  while (!(await accepts(port))) await sleep(100);
  const users = 40;
  const tokens: string[] = [];
  for (let i = 0; i < users; i++) {
    const input = { username: `sizing_${i}`, email: `sizing_${i}@sizing.test`, password: 'sizing-password-1' };
    await graphql(port, 'mutation($input: RegisterInput!) { register(input: $input) { id } }', { input });
    const { login } = await graphql<{ login: { accessToken: string } }>(port, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { login: input.username, password: input.password },
    });
    tokens.push(login.accessToken);
  }
  const { createRoom } = await graphql<{ createRoom: { id: string } }>(port, 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }', { input: { name: 'sizing', maxMembers: 100 } }, tokens[0]);
  for (const token of tokens.slice(1)) await graphql(port, 'mutation($id: ID!) { joinRoom(roomId: $id) { id } }', { id: createRoom.id }, token);
  const protocol = graphqlWs('switchboard');
  // SIZING_SOCKETS: how many users hold a socket (run twice with different counts to split the idle figures per socket).
  const connected = Number(process.env.SIZING_SOCKETS ?? 10);
  for (const token of tokens.slice(0, connected)) {
    const socket = await protocol.connect(port, token);
    await socket.join(createRoom.id);
    sockets.push(socket);
  }
  await sleep(2000);

  // Idle: what runs anyway (seat renewals every second, presence checks every second, keepalives), per ms.
  const idleSeconds = 10;
  const idle = await perUnit(watch, `idle, ${connected} sockets of ${connected} users, per second (a seat renewal and a presence check each second)`, idleSeconds, async () => void (await sleep(idleSeconds * 1000)));
  const idlePerMs = Object.fromEntries(Object.entries(idle).map(([n, c]) => [n, c / (idleSeconds * 1000)]));

  const messages = 200;
  await perUnit(
    watch,
    `a stored message (room of ${users}, ${connected} subscribed on this instance)`,
    messages,
    async () => {
      const sender = sockets[0]!;
      for (let i = 0; i < messages; i++) {
        sender.publish(createRoom.id, `b|${i}|0|sizing`);
        await sleep(5);
      }
      await sleep(1000);
    },
    idlePerMs,
  );

  const changes = 5;
  await perUnit(
    watch,
    'a connect of a user not yet online (seat admitted, presence online), then its close (seat released, presence offline)',
    changes,
    async () => {
      for (let i = 0; i < changes; i++) {
        const socket = await protocol.connect(port, tokens[connected + i]);
        await sleep(300);
        socket.close();
        await sleep(300);
      }
      await sleep(1000);
    },
    idlePerMs,
  );
} finally {
  for (const socket of sockets) socket.close();
  watch.disconnect();
  server.kill('SIGTERM');
  await once(server, 'exit');
  await redis.stop();
  await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
}
