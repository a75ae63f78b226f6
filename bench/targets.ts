/**
 * What the benchmark measures: Switchboard and the three baselines, each
 * started as child processes with the probe, and how a client reaches it.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startMeasured, startTogether, type Measured } from './lib/process.ts';
import { graphqlWs, rawWs, socketIo, socketIoNamed, type Protocol } from './load/protocols.ts';
import { inPool, type Audience, type RoomSpec } from './load/scenarios.ts';

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
  /** Makes `count` rooms of `size` members each (the chat-like shape) on a running cluster. */
  prepareRooms(servers: Measured[], count: number, size: number): Promise<RoomSpec[]>;
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

/**
 * The relays (raw ws, Socket.IO, bare graphql-ws: rooms are names, nothing
 * checked or stored) and the Socket.IO with Switchboard's guarantees, which
 * uses Switchboard's users, tokens and rooms in the same database.
 */
export function baselines(services: SharedServices, ours: Switchboard): Target[] {
  const room = async () => ({ room: 'bench' });
  const prepareRooms = async (_servers: Measured[], count: number) => Array.from({ length: count }, (_, i) => ({ id: `bench-${i}` }));
  return [
    {
      name: 'socket.io guarded',
      protocol: socketIoNamed('socket.io guarded'),
      clusters: true,
      start: (n, extra) =>
        startMany(n, () => startMeasured('socket.io guarded', file('./servers/socketio-guarded.ts'), { ...limits, DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, JWT_SECRET: ours.secret, INSTANCES: String(n), ...extra })),
      prepare: async () => {
        const { logins: _, ...prepared } = await ours.prepared();
        return { ...prepared, room: rowId(prepared.room) };
      },
      prepareRooms: async (_servers, count, size) => (await ours.rooms(count, size)).map((room) => ({ ...room, id: rowId(room.id) })),
    },
    { name: 'raw ws', protocol: rawWs, clusters: false, start: (n, extra) => startMany(n, () => startMeasured('raw ws', file('./servers/raw-ws.ts'), extra)), prepare: room, prepareRooms },
    {
      name: 'socket.io',
      protocol: socketIo,
      clusters: true,
      // The Redis adapter only where there are several instances, as Socket.IO users run it.
      start: (n, extra) => startMany(n, () => startMeasured('socket.io', file('./servers/socketio.ts'), { ...(n > 1 ? { REDIS_URL: services.redisUrl } : {}), ...extra })),
      prepare: room,
      prepareRooms,
    },
    {
      name: 'bare graphql-ws',
      protocol: graphqlWs('bare graphql-ws'),
      clusters: false,
      start: (n, extra) => startMany(n, () => startMeasured('bare graphql-ws', file('./servers/bare-graphql.ts'), extra)),
      prepare: room,
      prepareRooms,
    },
  ];
}

/** The row id in a Relay global id (base64 of `Room:<uuid>`), which is what the peer's tables know. */
const rowId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

/** The message limits Switchboard and the guarded peer both run with: raised so that only the machine limits the load. */
const limits = { MESSAGE_RATE_PER_USER: '10000000', MESSAGE_RATE_PER_ROOM: '10000000' };

/** One operation; refused with RATE_LIMITED (registrations wait for bcrypt's queue on a busy machine), retried after retryAfter, ten times at most. */
async function graphql<T>(port: number, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const result = (await response.json()) as { data?: T; errors?: { extensions?: { code?: string; retryAfter?: number } }[] };
    const limited = result.errors?.find((e) => e.extensions?.code === 'RATE_LIMITED');
    if (limited && attempt < 10) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, limited.extensions?.retryAfter ?? 1) * 1000));
      continue;
    }
    if (!result.data || result.errors) throw new Error(`${query.slice(0, 40)}…: ${JSON.stringify(result.errors)}`);
    return result.data;
  }
}

type Prepared = Awaited<ReturnType<Target['prepare']>>;

/** Switchboard as a target, and what the guarded peer borrows from it: its secret, users, tokens and rooms. */
export interface Switchboard extends Target {
  secret: string;
  /** The users, tokens and one room of all of them; made once per run (on a server started for it when none runs). */
  prepared(): Promise<Prepared>;
  /** `count` rooms of `size` of those users each; made once per run, like {@link prepared}. */
  rooms(count: number, size: number): Promise<RoomSpec[]>;
}

/** Switchboard in scaled mode (PostgreSQL and Redis), limits raised so that only the machine limits the load. */
export function switchboard(services: SharedServices, users: number): Switchboard {
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0',
    BCRYPT_COST: '10',
    // The run outlasts the default 15 minutes; its tokens are made once.
    ACCESS_TOKEN_TTL: '86400',
    MAX_CONNECTIONS: '20000',
    MAX_SOCKETS_PER_USER: '1000',
    CONNECTS_PER_IP: '10000000',
    LOGIN_FAILURES_PER_IP: '10000000',
    // A login refused while bcrypt's queue is full is retried (graphql below), and counts against the account.
    LOGIN_FAILURES_PER_ACCOUNT: '10000000',
    REGISTER_PER_IP: '10000000',
    ...limits,
    ROOM_MAX_MEMBERS: '100000',
  };
  const runId = Date.now().toString(36);
  const start: Target['start'] = (n, extra) => startMany(n, () => startMeasured('switchboard', file('../src/main.ts'), { ...env, ...extra }));
  /** Runs `work` on a running Switchboard: `servers` when given, else one started for it. */
  const onServer = async <T>(servers: Measured[] | undefined, work: (port: number) => Promise<T>) => {
    if (servers) return work(servers[0]!.port);
    const started = await start(1);
    try {
      return await work(started[0]!.port);
    } finally {
      await Promise.all(started.map((s) => s.stop()));
    }
  };
  let preparing: Promise<Prepared> | undefined;
  const roomsMade = new Map<string, Promise<RoomSpec[]>>();
  // A failed preparation is not kept: the next scenario tries again.
  const prepared = (servers?: Measured[]) => {
    if (!preparing) {
      preparing = onServer(servers, (port) => prepareOn(servers?.[0], port));
      preparing.catch(() => (preparing = undefined));
    }
    return preparing;
  };
  const rooms = (count: number, size: number, servers?: Measured[]) => {
    const key = `${count}x${size}`;
    if (!roomsMade.has(key)) {
      const making = 
        prepared(servers).then(({ tokens }) =>
          onServer(servers, (port) =>
            inPool(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
              // Room i: users i*size … i*size+size-1 (mod the user count), the first its owner.
              const members = Array.from({ length: size }, (_, k) => tokens![(i * size + k) % tokens!.length]!);
              const { createRoom } = await graphql<{ createRoom: { id: string } }>(
                port,
                'mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }',
                { input: { name: `bench ${runId} ${key} ${i}`, maxMembers: size } },
                members[0],
              );
              for (const token of members.slice(1)) await graphql(port, 'mutation($id: ID!) { joinRoom(roomId: $id) { id } }', { id: createRoom.id }, token);
              return { id: createRoom.id, tokens: members };
            }),
          ),
        );
      roomsMade.set(key, making);
      making.catch(() => roomsMade.delete(key));
    }
    return roomsMade.get(key)!;
  };
  return {
    name: 'switchboard',
    protocol: graphqlWs('switchboard'),
    clusters: true,
    secret: env.JWT_SECRET,
    start,
    prepare: (servers) => prepared(servers),
    prepared: () => prepared(),
    prepareRooms: (servers, count, size) => rooms(count, size, servers),
    rooms: (count, size) => rooms(count, size),
  };

  async function prepareOn(server: Measured | undefined, port: number): Promise<Prepared> {
    const names = Array.from({ length: users }, (_, i) => `bench_${runId}_${i}`);
    const password = 'bench-password-1';
    await inPool(names, 8, (username) =>
      graphql(port, 'mutation($input: RegisterInput!) { register(input: $input) { id } }', { input: { username, email: `${username}@bench.test`, password } }),
    );
    // Scenario 1 (login half): every user logs in, 32 at a time.
    await server?.sample({ resetLag: true });
    const started = performance.now();
    const tokens = await inPool(names, 32, async (login) => {
      const data = await graphql<{ login: { accessToken: string } }>(port, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { login, password } });
      return data.login.accessToken;
    });
    const loginsPerSecond = users / ((performance.now() - started) / 1000);
    const { lagP99Ms } = (await server?.sample({ resetLag: true })) ?? { lagP99Ms: Number.NaN };
    const { createRoom } = await graphql<{ createRoom: { id: string } }>(
      port,
      'mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }',
      { input: { name: `bench ${runId}`, maxMembers: users } },
      tokens[0],
    );
    await inPool(tokens.slice(1), 16, (token) => graphql(port, 'mutation($id: ID!) { joinRoom(roomId: $id) { id } }', { id: createRoom.id }, token));
    return { room: createRoom.id, tokens, publisherToken: tokens[0], logins: { loginsPerSecond, lagP99Ms } };
  }
}
