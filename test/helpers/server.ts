/**
 * Real servers for tests: each instance is a child process running the
 * server compiled to JavaScript (dist/src/main.js, built once per run by
 * global-setup.ts, as `npm start` runs it) on a free loopback port, so a
 * test can run several instances on one database and one Redis, and kill
 * one with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kind, parse } from 'graphql';
import { inject } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { testDatabaseUrl, testRedisPrefix, testRedisUrl } from './env.ts';
import { serverEntry } from '../../scripts/build.ts';
import { projectPath } from '../../src/utils/project-path.ts';

export interface TestServer {
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  process: ChildProcess;
  /** Every log line the instance printed so far. */
  logs: string[];
  /** SIGTERM and wait for the exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: the instance dies without cleaning up. */
  kill(): Promise<void>;
}

const running = new Set<TestServer>();

/** Environment for the scaled mode on the test PostgreSQL and Redis. */
export const scaledEnv = (): Record<string, string> => ({ DATABASE_URL: testDatabaseUrl, REDIS_URL: testRedisUrl });

export interface StartOptions {
  /**
   * Start it as the README says, with `npm start` (which builds first) in
   * this copy of the project ({@link copyOfProject}: its build does not swap
   * the dist/ the other suites' servers run); stop() and kill() then signal
   * npm, as a process manager would.
   * @default undefined: `node dist/src/main.js`, built once per run
   */
  npmStartIn?: string;
  /** How long to wait for the "listening on" line before killing it. @default 30_000 */
  startTimeoutMs?: number;
}

/** The processes of group `pgid` that still run (zombies, dead but not yet reaped, do not). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command's closing parenthesis: state, ppid, pgrp.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return members;
}

/**
 * SIGKILL to `child` (to its process group when it leads one) and wait until
 * it has exited; for a group, until none of it runs. The leader's exit alone
 * is not enough: a grandchild (npm's shell's node) is killed by the same
 * signal but may not yet have been scheduled to die.
 */
async function killTree(child: ChildProcess, group: boolean): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null;
  const waitForExit = exited || child.pid === undefined ? Promise.resolve() : once(child, 'exit');
  if (child.pid !== undefined) {
    try {
      if (group) process.kill(-child.pid, 'SIGKILL');
      else if (!exited) child.kill('SIGKILL');
    } catch {
      // ESRCH: nothing left of it.
    }
  }
  await waitForExit;
  if (!group || child.pid === undefined) return;
  for (let polls = 0; groupMembers(child.pid).length > 0; polls++) {
    if (polls === 250) throw new Error(`process group ${child.pid} still runs 5 s after SIGKILL: ${groupMembers(child.pid).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const temporaryFolders = new Set<string>();

/**
 * A new empty folder in the temporary directory, removed after the test file
 * (test/helpers/setup-file.ts), also when a test failed.
 */
export function temporaryFolder(prefix = 'switchboard-'): string {
  const folder = mkdtempSync(path.join(tmpdir(), prefix));
  temporaryFolders.add(folder);
  return folder;
}

/**
 * A {@link temporaryFolder} holding an embedded database as a first start
 * leaves it (global-setup.ts makes it once per run), for tests of what a
 * DATA_DIR keeps across restarts that are not about creating the database.
 */
export function embeddedDataDir(prefix = 'switchboard-test-'): string {
  const folder = temporaryFolder(prefix);
  cpSync(inject('embeddedTemplate'), folder, { recursive: true });
  return folder;
}

/** Removes every folder {@link temporaryFolder} made in this file (its servers stopped first: setup-file.ts). */
export function removeTemporaryFolders(): void {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true, maxRetries: 3 });
  temporaryFolders.clear();
}

/** A copy of the project as a clone has it after `npm install` (no dist/, no data/), sharing node_modules. */
export function copyOfProject(): string {
  const root = projectPath('.');
  const copy = temporaryFolder('switchboard-clone-');
  const leftOut = /^(node_modules|dist|dist\..*|data|\.data.*|\.git|\.scratch)$/;
  cpSync(root, copy, { recursive: true, filter: (source) => !leftOut.test(path.relative(root, source)) });
  symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
  return copy;
}

/** The JWT_SECRET every test server signs with unless its env names another. */
export const testJwtSecret = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/**
 * One instance with `env`, started by the first test that asks for it and
 * shared by the file's other tests with the same settings (a start costs
 * seconds of CPU); it stops with the file's other servers. A start that
 * failed is tried again by the next caller.
 */
export function sharedServer(env: Record<string, string | undefined>): () => Promise<TestServer> {
  let started: Promise<TestServer> | undefined;
  return () =>
    (started ??= startServer(env).catch((error: unknown) => {
      started = undefined;
      throw error;
    }));
}

/**
 * Starts an instance. Without DATABASE_URL / REDIS_URL in `env` it runs
 * embedded with a DATA_DIR of its own, which holds an embedded database as
 * a first start leaves it (a copy of global-setup.ts's template: initdb and
 * the migrations cost seconds of CPU per start). Given `env.DATA_DIR`, that
 * folder is used as it is: empty, it starts the way a first start does.
 */
export async function startServer(env: Record<string, string | undefined> = {}, options: StartOptions = {}): Promise<TestServer> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !['DATABASE_URL', 'REDIS_URL', 'REDIS_SENTINELS', 'REDIS_MASTER_NAME', 'REDIS_CLUSTER_NODES', 'PORT', 'NODE_ENV'].includes(k)) childEnv[k] = v;
  Object.assign(childEnv, {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    JWT_SECRET: testJwtSecret,
    BCRYPT_COST: '4',
    // Suites open many sockets and fail many logins from 127.0.0.1 against
    // one Redis; the suites that test these limits set them low themselves.
    CONNECTS_PER_IP: '100000',
    LOGIN_FAILURES_PER_IP: '100000',
    REGISTER_PER_IP: '100000',
    // This test file's keys and channels only (env.ts): files running beside it share the Redis.
    REDIS_PREFIX: testRedisPrefix,
    DATA_DIR: env.DATA_DIR ?? (env.DATABASE_URL === undefined && !options.npmStartIn ? embeddedDataDir() : temporaryFolder('switchboard-test-')),
  });
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  // npm runs the server in a shell of its own: started in a process group of
  // its own, the whole tree can be killed when the start fails.
  const group = options.npmStartIn !== undefined;
  const child = group
    ? spawn('npm', ['start', '--silent'], { cwd: options.npmStartIn, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, [serverEntry], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let buffered = '';
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server (pid ${child.pid}) did not start in ${timeoutMs / 1000} s`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          logs.push(line);
          const match = /listening on (https?:\/\/\S+?)\/graphql/.exec(line);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`server could not be started: ${error.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server (pid ${child.pid}) exited with ${code ?? signal} before listening`));
      });
    });
  } catch (error) {
    // A server left running would keep serving on the shared Redis and
    // database, and answer other files' tests (their seats, their bus).
    await killTree(child, group);
    if (buffered) logs.push(buffered);
    const tail = logs.join('\n').split('\n').filter((line) => line !== '').slice(-40);
    throw new Error(`${(error as Error).message}; its last output:\n${tail.join('\n')}`);
  }
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const server: TestServer = {
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    process: child,
    logs,
    async stop() {
      running.delete(server);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      running.delete(server);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  running.add(server);
  return server;
}

/** Stops every instance still running (call in afterAll). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
  headers: Headers;
}

/** One GraphQL request over real HTTP. */
export async function gql<T = any>(
  server: Pick<TestServer, 'graphqlUrl'>,
  query: string,
  variables?: Record<string, unknown>,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: GraphQLResponse['errors'] };
  return { status: response.status, data: body.data ?? undefined, errors: body.errors, headers: response.headers };
}

/** The error codes of a response, in order. */
export const errorCodes = (response: GraphQLResponse) => (response.errors ?? []).map((e) => e.extensions?.code);

/** Seats taken across the cluster, as `server` counts them (connectionSlots). */
export const seatsUsed = async (server: Pick<TestServer, 'graphqlUrl'>): Promise<number> => (await gql(server, '{ connectionSlots { used } }')).data.connectionSlots.used;

/** connectionParams (or headers) carrying an access token, as clients send it. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export interface TestSocket {
  client: Client;
  /** Resolves with the close event's code and reason once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves when connection_ack arrives; rejects with the close when refused first. */
  acked: Promise<void>;
}

/**
 * A real graphql-ws client that connects at once and never retries, so a
 * test sees exactly what the server did.
 */
export function connectSocket(server: Pick<TestServer, 'wsUrl'>, connectionParams: Record<string, unknown> | undefined, options: { headers?: Record<string, string> } = {}): TestSocket {
  let closedResolve!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (closedResolve = r));
  let ackResolve!: () => void;
  let ackReject!: (e: unknown) => void;
  const acked = new Promise<void>((res, rej) => {
    ackResolve = res;
    ackReject = rej;
  });
  acked.catch(() => {});
  const headers = options.headers;
  const client = createClient({
    url: server.wsUrl,
    webSocketImpl: headers
      ? class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers });
          }
        }
      : WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams,
    on: {
      connected: () => ackResolve(),
      closed: (event: any) => {
        const close = { code: event?.code ?? 0, reason: String(event?.reason ?? '') };
        ackReject(Object.assign(new Error(`closed ${close.code} ${close.reason}`), close));
        closedResolve(close);
      },
      error: () => {},
    },
    onNonLazyError: () => {},
  });
  return { client, closed, acked };
}

/** The socket's close, or 'still open' when it has not closed within `timeoutMs` (a graphql-ws test socket or a raw one). */
export const closeWithin = <C extends { code: number }>(socket: { closed: Promise<C> }, timeoutMs: number): Promise<C | 'still open'> =>
  Promise.race([socket.closed, new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), timeoutMs))]);

/** The value of one sample line of a /metrics text (`name{labels} value`, exactly these labels), or 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(/,(?=[a-zA-Z_]+=)/).filter(Boolean);
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(match[3]);
  }
  return 0;
}

/** One figure of `server`'s GET /metrics (see {@link sample}); throws unless it answers 200. */
export async function metric(server: Pick<TestServer, 'url'>, name: string, labels: Record<string, string> = {}, metricsToken?: string): Promise<number> {
  const response = await fetch(`${server.url}/metrics`, { headers: metricsToken ? { authorization: `Bearer ${metricsToken}` } : {} });
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return sample(await response.text(), name, labels);
}

/** How many subscriptions of root field `field` went live on `server` so far (its /metrics). */
export const startedSubscriptions = (server: Pick<TestServer, 'url'>, field: string, metricsToken?: string): Promise<number> =>
  metric(server, 'switchboard_subscriptions_started_total', { field }, metricsToken);

/**
 * For a subscription made by another client (Apollo, urql, SSE, the SDK): call
 * it before subscribing; the function it returns resolves once `server` counts
 * one more `field` subscription started (its stream listens).
 */
export async function nextSubscriptionStart(server: Pick<TestServer, 'url'>, field: string, metricsToken?: string): Promise<() => Promise<void>> {
  const before = await startedSubscriptions(server, field, metricsToken);
  return () => eventually(async () => (await startedSubscriptions(server, field, metricsToken)) > before, 10_000, `a ${field} subscription to start on ${server.url}`);
}

/** The root field a subscription document selects (what the server's metrics label it with). */
function subscribedFieldOf(query: string): string {
  const operation = parse(query).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const first = operation?.selectionSet.selections[0];
  if (!first || first.kind !== Kind.FIELD) throw new Error(`no root field in ${query}`);
  return first.name.value;
}

/** One subscribe at a time per instance and field, so that each sees its own step of the count. */
const subscribing = new Map<string, Promise<unknown>>();

export interface CollectOptions {
  /**
   * The instance `client` is connected to. `live` then resolves once that
   * instance counts the subscription as started (its stream listens: what is
   * published after reaches it), read from its /metrics.
   * @default undefined: `live` resolves with the first result
   */
  on?: Pick<TestServer, 'url'>;
  /** METRICS_TOKEN of that instance, when it has one. @default undefined */
  metricsToken?: string;
}

/**
 * Subscribes and collects every result; `waitFor` waits for the n-th one.
 * `live` resolves once the subscription is live (see {@link CollectOptions.on}),
 * or once it ended (refused, say): wait on it, not on a clock, before acting.
 */
export function collect<T = any>(client: Client, query: string, variables?: Record<string, unknown>, options: CollectOptions = {}) {
  const results: { data?: T; errors?: any[] }[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let completed = false;
  let failure: unknown;
  let stop: () => void = () => {};
  let stopped = false;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const start = () => {
    if (stopped) return;
    stop = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          results.push(value as any);
          for (const w of [...waiters]) if (results.length >= w.count) w.resolve();
        },
        error: (error) => {
          failure = error;
          completed = true;
          ended();
        },
        complete: () => {
          completed = true;
          ended();
        },
      },
    );
  };
  const firstResult = new Promise<void>((resolve) => waiters.push({ count: 1, resolve }));
  let live: Promise<void>;
  const server = options.on;
  if (!server) {
    start();
    live = Promise.race([firstResult, done]);
  } else {
    const field = subscribedFieldOf(query);
    const key = `${server.url} ${field}`;
    live = (subscribing.get(key) ?? Promise.resolve()).catch(() => {}).then(async () => {
      const before = await startedSubscriptions(server, field, options.metricsToken);
      start();
      const until = Date.now() + 10_000;
      while (!completed && (await startedSubscriptions(server, field, options.metricsToken)) <= before) {
        if (Date.now() > until) throw new Error(`the ${field} subscription did not go live on ${server.url} within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    subscribing.set(key, live);
  }
  live.catch(() => {});
  return {
    results,
    done,
    /** Resolves once the subscription is live, or has ended. */
    live,
    get completed() {
      return completed;
    },
    get error() {
      return failure;
    },
    /** Resolves once at least `count` results arrived (rejects after `timeoutMs`). */
    waitFor(count: number, timeoutMs = 5000): Promise<void> {
      if (results.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`waited ${timeoutMs} ms for ${count} results, got ${results.length}: ${JSON.stringify(results)}`)), timeoutMs);
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    unsubscribe: () => {
      stopped = true;
      stop();
    },
  };
}

/** {@link collect} on `server`, resolved once the subscription is live there (or ended). */
export async function collectLive<T = any>(server: Pick<TestServer, 'url'>, client: Client, query: string, variables?: Record<string, unknown>, options: Omit<CollectOptions, 'on'> = {}) {
  const collector = collect<T>(client, query, variables, { ...options, on: server });
  await collector.live;
  return collector;
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let counter = 0;
/** A username unique to this run: tests share one database. */
export const uniqueName = (prefix = 'u') => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** The database id inside a relay global ID ("Type:uuid", base64). */
export const uuidOf = (globalId: string): string => Buffer.from(globalId, 'base64').toString('utf8').split(':').slice(1).join(':');
