/**
 * A private redis-server for tests that stop and restart Redis, on its own
 * loopback port so that nothing else sharing the machine's Redis is hurt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll } from 'vitest';
import { accepts, freePort } from './ports.ts';

export interface PrivateRedis {
  url: string;
  port: number;
  /** Starts (or restarts) the server and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL: nothing flushed, connections reset) and waits for it to exit; start() then brings it back empty. */
  kill(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing is answered, as on a link that drops packets. */
  freeze(): void;
  /** Lets a frozen process run on (SIGCONT): it answers what waited. */
  thaw(): void;
}

/** `port`: a fixed one (a suite's own range), else a free one. */
export async function startPrivateRedis(port?: number): Promise<PrivateRedis> {
  port ??= await freePort();
  let child: ChildProcess | undefined;
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !(await accepts(port)); i++) await new Promise((r) => setTimeout(r, 50));
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
  };
  await redis.start();
  return redis;
}

/**
 * A private Redis for the calling suite, started before its tests and
 * stopped after them (call it before the suite's own hooks): for suites
 * whose bus messages must not reach other suites' servers. A pub/sub
 * channel is not per database: a request to re-read (Channels.reread) on
 * the shared test Redis would reach every instance on it. Returns its URL,
 * once started.
 */
export function privateRedisForSuite(): () => string {
  let redis: PrivateRedis | undefined;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(() => redis?.stop());
  return () => redis!.url;
}
