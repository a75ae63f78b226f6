/**
 * `npm run bench`: Switchboard against raw ws, Socket.IO and bare
 * graphql-ws, in one run, with one load client. Starts everything it
 * measures on loopback (a private Redis, a fresh PostgreSQL database),
 * prints a table and writes bench/results/latest.json and latest.md.
 *
 * BENCH_QUICK=1 runs a smaller version (fewer sockets, shorter steps);
 * BENCH_STEP_SECONDS sets how long each rate is measured (longer, to profile it);
 * BENCH_TARGETS=switchboard,socket.io measures only those targets;
 * BENCH_SCENARIOS=fan-out,cross-instance only those scenarios (storm,
 * memory, fan-out, small-room, chat, cross-instance), e.g. to profile one with
 * BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { applyMigrations } from '../src/adapters/migrations.ts';
import { startPrivateRedis } from '../test/helpers/redis-server.ts';
import { Redis } from 'ioredis';
import { cpuTimeOf, startTogether, type Measured } from './lib/process.ts';
import { connectStorm, fanOut, measureBackingCpu, idleMemory, medianOfRounds, memoryScenarioEnv, oneAtATime, saturated, type Audience, type StepFigures } from './load/scenarios.ts';
import { baselines, switchboard, type Target } from './targets.ts';
import { writeChart } from './chart.ts';
import { renderTable, type Results } from './report.ts';

const quick = process.env.BENCH_QUICK === '1';
const only = process.env.BENCH_TARGETS?.split(',');
const scenarios = process.env.BENCH_SCENARIOS?.split(',');
const runs = (scenario: string) => !scenarios || scenarios.includes(scenario);
const plan = {
  users: quick ? 50 : 100,
  stormSockets: quick ? 500 : 2000,
  memoryCounts: quick ? [500, 1000] : [1000, 5000],
  fanOutSubscribers: quick ? [200] : [500, 1000],
  rates: quick ? [50, 200] : [100, 200, 400, 800],
  crossRates: quick ? [50] : [100, 200],
  /** Cross-instance latency swings with whatever else this machine runs: rounds alternate the targets, figures are medians. */
  crossRounds: quick ? 1 : 3,
  /** So does CPU per delivery: the first fan-out step (the targets' comparison) is measured in this many rounds too. */
  fanOutRounds: quick ? 1 : 3,
  stepSeconds: Number(process.env.BENCH_STEP_SECONDS ?? (quick ? 1.5 : 2.5)),
  /** One room of 5 members at 200 msg/s: where the cost of a stored message is everything. Alternating rounds. */
  smallRoom: { members: 5, rate: 200, rounds: quick ? 1 : 3 },
  /**
   * Chat-like: 200 rooms of 5 members, messages spread over the rooms. The first rate in alternating rounds,
   * then a ramp until the target saturates (stored messages per second at saturation).
   */
  chat: { rooms: quick ? 50 : 200, members: 5, rate: 200, rounds: quick ? 1 : 3, ramp: process.env.BENCH_CHAT_RAMP?.split(',').map(Number) ?? (quick ? [400, 800] : [400, 800, 1200, 1600, 2000, 2400, 2800, 3200, 4000, 4800, 5600, 6400, 8000]) },
};
const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const database = `switchboard_bench_${process.pid}`;

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: `${postgresUrl}/postgres` });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

const started = Date.now();
const log = (line: string) => process.stderr.write(`bench: ${Math.round((Date.now() - started) / 1000)} s: ${line}\n`);
const stopAll = (servers: Measured[]) => Promise.all(servers.map((s) => s.stop()));

/** Runs one scenario of the run; a failure (a server too slow to start on a busy machine) is logged and leaves its figures out, not the run's. */
async function survive<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    log(`${what} failed, left out: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/** Starts `instances` of the target, prepares its room, runs `scenario`, stops them. */
async function withCluster<T>(target: Target, instances: number, scenario: (audience: Audience, prepared: Awaited<ReturnType<Target['prepare']>>) => Promise<T>) {
  const servers = await target.start(instances);
  try {
    const prepared = await target.prepare(servers);
    return await scenario({ protocol: target.protocol, servers, ...prepared }, prepared);
  } finally {
    await stopAll(servers);
  }
}

// BENCH_REDIS_PORT: a fixed port for the private Redis (on a shared machine, one of your own range); else a free one.
const redis = await startPrivateRedis(process.env.BENCH_REDIS_PORT ? Number(process.env.BENCH_REDIS_PORT) : undefined);
await admin(`CREATE DATABASE "${database}"`);
// This machine's disk stalls fsync for up to a second now and then (seen with pg_test_fsync and a loop of
// single-row commits: p99 16 ms, max 1 s): with durable commits the fan-out latency would measure the disk.
// The bench database commits without waiting for the WAL flush; production keeps PostgreSQL's default.
await admin(`ALTER DATABASE "${database}" SET synchronous_commit = off`);
const databaseUrl = `${postgresUrl}/${database}`;
// PostgreSQL's and Redis's CPU per message: the backends serving the bench database (other databases on this
// server are other work), and Redis's own count (INFO cpu).
const watcher = new pg.Client({ connectionString: `${postgresUrl}/postgres` });
await watcher.connect();
const redisWatch = new Redis(redis.url);
const backendCpu = new Map<number, number>();
measureBackingCpu(async () => {
  const { rows } = await watcher.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
  for (const { pid } of rows) {
    try {
      backendCpu.set(pid, cpuTimeOf(pid).cpuMicros);
    } catch {
      // Ended since the query: its last reading stands.
    }
  }
  const info = await redisWatch.info('cpu');
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return { postgresMicros: [...backendCpu.values()].reduce((a, b) => a + b, 0), redisMicros: (seconds('used_cpu_sys') + seconds('used_cpu_user')) * 1e6 };
});
const results: Results = { machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; PostgreSQL with synchronous_commit=off`, date: new Date().toISOString(), plan, targets: {} };
try {
  await applyMigrations(new PrismaPg({ connectionString: databaseUrl }));
  const services = { databaseUrl, redisUrl: redis.url };
  // Switchboard registers its users once; later clusters, and the guarded peer, reuse its tokens and rooms (same database and secret).
  const ours = switchboard(services, plan.users);
  const targets = [ours, ...baselines(services, ours)].filter((t) => !only || only.includes(t.name));
  for (const target of targets) {
    const figures: Results['targets'][string] = {};
    results.targets[target.name] = figures;
    if (runs('storm')) {
      log(`${target.name}: connect storm`);
      await survive(`${target.name}: connect storm`, () =>
        withCluster(target, 1, async (audience, { logins }) => {
          figures.logins = logins;
          figures.storm = await connectStorm(audience, plan.stormSockets);
        }),
      );
    }
    figures.fanOut = {};
    for (const subscribers of runs('fan-out') ? plan.fanOutSubscribers : []) {
      log(`${target.name}: fan-out to ${subscribers}`);
      const steps = await survive(`${target.name}: fan-out to ${subscribers}`, () => withCluster(target, 1, (audience) => fanOut(audience, subscribers, plan.rates, plan.stepSeconds)));
      if (steps) figures.fanOut[subscribers] = steps;
    }
  }
  // Idle memory: one server per target, started together so that they sit out the quiet time after a start
  // (see idleMemory) at once, then measured together, holding their sockets one at a time.
  if (runs('memory')) await survive('idle memory', async () => {
    const clusters = await startTogether(targets.map((target) => () => target.start(1, memoryScenarioEnv)), stopAll);
    try {
      const holding = oneAtATime();
      await Promise.all(
        targets.map(async (target, index) => {
          const servers = clusters[index]!;
          const audience = { protocol: target.protocol, servers, ...(await target.prepare(servers)) };
          results.targets[target.name]!.memory = await idleMemory(audience, plan.memoryCounts, holding);
          log(`${target.name}: idle memory measured`);
        }),
      );
    } finally {
      await Promise.all(clusters.map(stopAll));
    }
  });
  // More rounds of the first step, alternating the targets that kept up with it (one that did not has nothing to compare).
  const comparedStep = (target: Target) => results.targets[target.name]!.fanOut?.[plan.fanOutSubscribers[0]!]?.[0];
  const compared = targets.filter((target) => comparedStep(target) && !saturated(comparedStep(target)!));
  const fanOutRounds = new Map<Target, StepFigures[][]>(compared.map((target) => [target, [[comparedStep(target)!]]]));
  for (let round = 2; round <= plan.fanOutRounds; round++) {
    for (const target of compared) {
      log(`${target.name}: fan-out to ${plan.fanOutSubscribers[0]} at ${plan.rates[0]} msg/s, round ${round} of ${plan.fanOutRounds}`);
      const steps = await survive(`${target.name}: fan-out round ${round}`, () => withCluster(target, 1, (audience) => fanOut(audience, plan.fanOutSubscribers[0]!, [plan.rates[0]!], plan.stepSeconds)));
      if (steps) fanOutRounds.get(target)!.push(steps);
    }
  }
  for (const [target, list] of fanOutRounds) Object.assign(results.targets[target.name]!, { fanOutMedian: medianOfRounds(list), fanOutRounds: list });

  /** Runs `rounds` rounds of `scenario` on one instance of each target, alternating the targets; each step's medians. */
  const alternating = async (label: string, rounds: number, scenario: (target: Target, servers: Measured[]) => Promise<StepFigures[]>, env?: Record<string, string>) => {
    const all = new Map<Target, StepFigures[][]>(targets.map((t) => [t, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        log(`${target.name}: ${label}, round ${round} of ${rounds}`);
        const steps = await survive(`${target.name}: ${label}, round ${round}`, async () => {
          const servers = await target.start(1, env);
          try {
            return await scenario(target, servers);
          } finally {
            await stopAll(servers);
          }
        });
        if (steps) all.get(target)!.push(steps);
      }
    }
    return all;
  };
  const inRooms = async (target: Target, servers: Measured[], count: number, members: number) => ({
    protocol: target.protocol,
    servers,
    room: '',
    rooms: await target.prepareRooms(servers, count, members),
  });
  if (runs('small-room')) {
    const { members, rate, rounds } = plan.smallRoom;
    const all = await alternating(`one room of ${members} at ${rate} msg/s`, rounds, async (target, servers) =>
      fanOut(await inRooms(target, servers, 1, members), members, [rate], plan.stepSeconds),
    );
    for (const [target, list] of all) if (list.length) Object.assign(results.targets[target.name]!, { smallRoom: medianOfRounds(list), smallRoomRounds: list });
  }
  if (runs('chat')) {
    const { rooms, members, rate, rounds, ramp } = plan.chat;
    const all = await alternating(`${rooms} rooms of ${members} at ${rate} msg/s`, rounds, async (target, servers) =>
      fanOut(await inRooms(target, servers, rooms, members), rooms * members, [rate], plan.stepSeconds),
    );
    for (const [target, list] of all) if (list.length) Object.assign(results.targets[target.name]!, { chat: medianOfRounds(list), chatRounds: list });
    // What an instance can store: Switchboard queues here as the peer does (it refuses past a wait by default, below).
    const ramps = await alternating(
      `${rooms} rooms of ${members}, ${ramp.join(' → ')} msg/s until saturated`,
      1,
      async (target, servers) => fanOut(await inRooms(target, servers, rooms, members), rooms * members, ramp, plan.stepSeconds),
      { SEND_QUEUE_MAX_WAIT: '0' },
    );
    for (const [target, [steps]] of ramps) if (steps) results.targets[target.name]!.chatRamp = steps;
    // Offered twice the most each target kept up with: what it accepts, how fast, and what it refuses.
    const capacity = new Map([...ramps].map(([target, [steps]]) => [target, steps?.filter((step) => !saturated(step)).at(-1)?.offeredPerSecond]));
    const overload = await alternating(`${rooms} rooms of ${members}, twice the rate kept up with`, 1, async (target, servers) => {
      const kept = capacity.get(target);
      return kept ? fanOut(await inRooms(target, servers, rooms, members), rooms * members, [(2 * kept) / members], plan.stepSeconds) : [];
    });
    for (const [target, [steps]] of overload) if (steps?.length) results.targets[target.name]!.chatOverload = steps;
  }

  const clustered = runs('cross-instance') ? targets.filter((t) => t.clusters) : [];
  const rounds = new Map<string, StepFigures[][]>(clustered.map((t) => [t.name, []]));
  for (let round = 1; round <= plan.crossRounds; round++) {
    for (const target of clustered) {
      log(`${target.name}: cross-instance fan-out, round ${round} of ${plan.crossRounds}`);
      const steps = await survive(`${target.name}: cross-instance round ${round}`, () => withCluster(target, 2, (audience) => fanOut(audience, plan.fanOutSubscribers[0]!, plan.crossRates, plan.stepSeconds)));
      if (steps) rounds.get(target.name)!.push(steps);
    }
  }
  for (const [name, list] of rounds) if (list.length) Object.assign(results.targets[name]!, { crossInstance: medianOfRounds(list), crossInstanceRounds: list });
} finally {
  redisWatch.disconnect();
  await watcher.end();
  await redis.stop();
  await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
}

results.seconds = Math.round((Date.now() - started) / 1000);
const table = renderTable(results);
console.log(table);
// Only a full run replaces the committed figures; a partial one (quick, some targets or scenarios) goes beside them.
const name = quick || only || scenarios ? 'partial' : 'latest';
const folder = new URL('./results/', import.meta.url);
await writeFile(new URL(`${name}.json`, folder), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(new URL(`${name}.md`, folder), `${table}\n`);
await writeChart(results, new URL(`${name}.svg`, folder));
log(`wrote bench/results/${name}.json, ${name}.md and ${name}.svg`);
