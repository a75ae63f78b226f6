/**
 * Measured servers as child processes on loopback: started with the probe
 * preloaded, waited for until their port accepts, sampled over IPC, stopped.
 * Each runs compiled to plain JavaScript (scripts/build.ts, once per run),
 * as `npm start` runs Switchboard: no TypeScript compiled at start-up and no
 * tsx loader thread, whose heap every server would carry (and give back tens
 * of seconds later, in the middle of a memory measurement).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sample } from './probe.ts';
import { accepts, freePort } from '../../test/helpers/ports.ts';
import { build, compiledPath } from '../../scripts/build.ts';

let built = false;

/** The compiled file of `file` (a TypeScript entry), compiling everything once per run. */
function compiled(file: string): string {
  if (!built) {
    build();
    built = true;
  }
  return compiledPath(file);
}

const probe = fileURLToPath(new URL('./probe.ts', import.meta.url));

/** CPU time of a server process, all threads, since it started, in microseconds. */
export interface CpuTime {
  /** User + system. */
  cpuMicros: number;
  /** User alone (JavaScript and the libraries): the rest is the kernel's (system calls). */
  userMicros: number;
}

const microsPerTick = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/**
 * Read from /proc/<pid>/stat (utime and stime, proc(5)) when asked, not
 * over IPC: a server too busy to answer at once (a saturated step) would
 * report its CPU when it answers, and a window's two samples would then
 * cover less than the window. Resolution: one clock tick (10 ms).
 */
export function cpuTimeOf(pid: number): CpuTime {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: the state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [user, system] = [Number(fields[14 - 3]), Number(fields[15 - 3])];
  return { cpuMicros: (user + system) * microsPerTick, userMicros: user * microsPerTick };
}

export interface Measured {
  name: string;
  port: number;
  sample(options?: { gc?: boolean; resetLag?: boolean }): Promise<Sample>;
  /** Its CPU time now, read from /proc (see {@link cpuTimeOf}). */
  cpuTime(): CpuTime;
  stop(): Promise<void>;
}

/** Starts `node --import <probe> <file>`, both compiled, with PORT set; resolves once the port accepts. */
export async function startMeasured(name: string, file: string, env: Record<string, string> = {}): Promise<Measured> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), '--import', compiled(probe), compiled(file)], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  // On a machine shared with other work a start took over 30 s: wait longer, and never leave a late one running.
  const deadline = Date.now() + 120_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before listening`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not listen within 120 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let nextId = 0;
  return {
    name,
    port,
    sample(options = {}) {
      const id = ++nextId;
      return new Promise((resolve) => {
        const onMessage = (sample: Sample) => {
          if (sample.id !== id) return;
          child.off('message', onMessage);
          resolve(sample);
        };
        child.on('message', onMessage);
        child.send({ id, ...options });
      });
    },
    cpuTime: () => cpuTimeOf(child.pid!),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs every start at once; when one fails, stops (with `stop`) what the others started and throws its error. */
export async function startTogether<T>(starts: (() => Promise<T>)[], stop: (started: T) => Promise<unknown>): Promise<T[]> {
  const attempts = await Promise.allSettled(starts.map((start) => start()));
  const started = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
  const failed = attempts.find((attempt) => attempt.status === 'rejected');
  if (!failed) return started;
  await Promise.all(started.map(stop));
  throw failed.reason;
}
