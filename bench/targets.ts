/**
 * What the benchmark measures: Switchboard and the three baselines, each
 * started as child processes with the probe, and how a client reaches it.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startMeasured, startTogether, type Measured } from './lib/process.ts';
import { graphqlWs, rawWs, socketIo, type Protocol } from './load/protocols.ts';
import { inPool, type Audience } from './load/scenarios.ts';

const file = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export interface Target {
  name: string;
  protocol: Protocol;
  /** Whether several instances can share one room (through Redis). */
  clusters: boolean;
  /** Starts the instances, each with `env` added to its environment (the memory scenario's allocator settings). */
  start(instances: number, env?: Record<string, string>): Promise<Measured[]>;
  /** Makes what clients need on a running cluster: a room (and users, tokens). */
  prepare(servers: Measured[]): Promise<Omit<Audience, 'protocol' | 'servers'> & { logins?: LoginFigures }>;
}

export interface LoginFigures {
  loginsPerSecond: number;
  lagP99Ms: number;
}

export interface SharedServices {
  databaseUrl: string;
  redisUrl: string;
}

/** Starts `instances` servers at once (none left running when one fails to start). */
const startMany = (instances: number, start: () => Promise<Measured>) => startTogether(Array.from({ length: instances }, () => start), (server) => server.stop());

export function baselines(services: SharedServices): Target[] {
  const room = async () => ({ room: 'bench' });
  return [
    { name: 'raw ws', protocol: rawWs, clusters: false, start: (n, extra) => startMany(n, () => startMeasured('raw ws', file('./servers/raw-ws.ts'), extra)), prepare: room },
    {
      name: 'socket.io',
      protocol: socketIo,
      clusters: true,
      // The Redis adapter only where there are several instances, as Socket.IO users run it.
      start: (n, extra) => startMany(n, () => startMeasured('socket.io', file('./servers/socketio.ts'), { ...(n > 1 ? { REDIS_URL: services.redisUrl } : {}), ...extra })),
      prepare: room,
    },
    {
      name: 'bare graphql-ws',
      protocol: graphqlWs('bare graphql-ws'),
      clusters: false,
      start: (n, extra) => startMany(n, () => startMeasured('bare graphql-ws', file('./servers/bare-graphql.ts'), extra)),
      prepare: room,
    },
  ];
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

/** Switchboard in scaled mode (PostgreSQL and Redis), limits raised so that only the machine limits the load. */
export function switchboard(services: SharedServices, users: number): Target {
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0',
    BCRYPT_COST: '10',
    MAX_CONNECTIONS: '20000',
    MAX_SOCKETS_PER_USER: '1000',
    CONNECTS_PER_IP: '10000000',
    LOGIN_FAILURES_PER_IP: '10000000',
    REGISTER_PER_IP: '10000000',
    MESSAGE_RATE_PER_USER: '10000000',
    MESSAGE_RATE_PER_ROOM: '10000000',
    ROOM_MAX_MEMBERS: '100000',
  };
  const runId = Date.now().toString(36);
  return {
    name: 'switchboard',
    protocol: graphqlWs('switchboard'),
    clusters: true,
    start: (n, extra) => startMany(n, () => startMeasured('switchboard', file('../src/main.ts'), { ...env, ...extra })),
    async prepare([server]) {
      const port = server!.port;
      const names = Array.from({ length: users }, (_, i) => `bench_${runId}_${i}`);
      const password = 'bench-password-1';
      await inPool(names, 8, (username) =>
        graphql(port, 'mutation($input: RegisterInput!) { register(input: $input) { id } }', { input: { username, email: `${username}@bench.test`, password } }),
      );
      // Scenario 1 (login half): every user logs in, 32 at a time.
      await server!.sample({ resetLag: true });
      const started = performance.now();
      const tokens = await inPool(names, 32, async (login) => {
        const data = await graphql<{ login: { accessToken: string } }>(port, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { login, password } });
        return data.login.accessToken;
      });
      const loginsPerSecond = users / ((performance.now() - started) / 1000);
      const { lagP99Ms } = await server!.sample({ resetLag: true });
      const { createRoom } = await graphql<{ createRoom: { id: string } }>(
        port,
        'mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }',
        { input: { name: `bench ${runId}`, maxMembers: users } },
        tokens[0],
      );
      await inPool(tokens.slice(1), 16, (token) => graphql(port, 'mutation($id: ID!) { joinRoom(roomId: $id) { id } }', { id: createRoom.id }, token));
      return { room: createRoom.id, tokens, publisherToken: tokens[0], logins: { loginsPerSecond, lagP99Ms } };
    },
  };
}
