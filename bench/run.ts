/**
 * `npm run bench`: Switchboard against raw ws, Socket.IO and bare
 * graphql-ws, in one run, with one load client. Starts everything it
 * measures on loopback (a private Redis, a fresh PostgreSQL database),
 * prints a table and writes bench/results/latest.json and latest.md.
 *
 * BENCH_QUICK=1 runs a smaller version (fewer sockets, shorter steps);
 * BENCH_TARGETS=switchboard,socket.io measures only those targets;
 * BENCH_SCENARIOS=fan-out,cross-instance only those scenarios (storm,
 * memory, fan-out, cross-instance), e.g. to profile one with
 * BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { applyMigrations } from '../src/adapters/migrations.ts';
import { startPrivateRedis } from '../test/helpers/redis-server.ts';
import { startTogether, type Measured } from './lib/process.ts';
import { connectStorm, fanOut, idleMemory, medianOfRounds, memoryScenarioEnv, oneAtATime, saturated, type Audience, type StepFigures } from './load/scenarios.ts';
import { baselines, switchboard, type Target } from './targets.ts';
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
  stepSeconds: quick ? 1.5 : 2.5,
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

const redis = await startPrivateRedis();
await admin(`CREATE DATABASE "${database}"`);
// This machine's disk stalls fsync for up to a second now and then (seen with pg_test_fsync and a loop of
// single-row commits: p99 16 ms, max 1 s): with durable commits the fan-out latency would measure the disk.
// The bench database commits without waiting for the WAL flush; production keeps PostgreSQL's default.
await admin(`ALTER DATABASE "${database}" SET synchronous_commit = off`);
const databaseUrl = `${postgresUrl}/${database}`;
const results: Results = { machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; PostgreSQL with synchronous_commit=off`, date: new Date().toISOString(), plan, targets: {} };
try {
  await applyMigrations(new PrismaPg({ connectionString: databaseUrl }));
  const services = { databaseUrl, redisUrl: redis.url };
  const ours = switchboard(services, plan.users);
  // Switchboard registers its users once; later clusters reuse the tokens (same database and secret).
  let prepared: Awaited<ReturnType<Target['prepare']>> | undefined;
  const reuse: Target = { ...ours, prepare: async (servers) => (prepared ??= await ours.prepare(servers)) };


  const targets = [reuse, ...baselines(services)].filter((t) => !only || only.includes(t.name));
  for (const target of targets) {
    const figures: Results['targets'][string] = {};
    results.targets[target.name] = figures;
    if (runs('storm')) {
      log(`${target.name}: connect storm`);
      await withCluster(target, 1, async (audience, { logins }) => {
        figures.logins = logins;
        figures.storm = await connectStorm(audience, plan.stormSockets);
      });
    }
    figures.fanOut = {};
    for (const subscribers of runs('fan-out') ? plan.fanOutSubscribers : []) {
      log(`${target.name}: fan-out to ${subscribers}`);
      figures.fanOut[subscribers] = await withCluster(target, 1, (audience) => fanOut(audience, subscribers, plan.rates, plan.stepSeconds));
    }
  }
  // Idle memory: one server per target, started together so that they sit out the quiet time after a start
  // (see idleMemory) at once, then measured together, holding their sockets one at a time.
  if (runs('memory')) {
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
  }
  // More rounds of the first step, alternating the targets that kept up with it (one that did not has nothing to compare).
  const comparedStep = (target: Target) => results.targets[target.name]!.fanOut?.[plan.fanOutSubscribers[0]!]?.[0];
  const compared = targets.filter((target) => comparedStep(target) && !saturated(comparedStep(target)!));
  const fanOutRounds = new Map<Target, StepFigures[][]>(compared.map((target) => [target, [[comparedStep(target)!]]]));
  for (let round = 2; round <= plan.fanOutRounds; round++) {
    for (const target of compared) {
      log(`${target.name}: fan-out to ${plan.fanOutSubscribers[0]} at ${plan.rates[0]} msg/s, round ${round} of ${plan.fanOutRounds}`);
      fanOutRounds.get(target)!.push(await withCluster(target, 1, (audience) => fanOut(audience, plan.fanOutSubscribers[0]!, [plan.rates[0]!], plan.stepSeconds)));
    }
  }
  for (const [target, list] of fanOutRounds) Object.assign(results.targets[target.name]!, { fanOutMedian: medianOfRounds(list), fanOutRounds: list });

  const clustered = runs('cross-instance') ? targets.filter((t) => t.clusters) : [];
  const rounds = new Map<string, StepFigures[][]>(clustered.map((t) => [t.name, []]));
  for (let round = 1; round <= plan.crossRounds; round++) {
    for (const target of clustered) {
      log(`${target.name}: cross-instance fan-out, round ${round} of ${plan.crossRounds}`);
      rounds.get(target.name)!.push(await withCluster(target, 2, (audience) => fanOut(audience, plan.fanOutSubscribers[0]!, plan.crossRates, plan.stepSeconds)));
    }
  }
  for (const [name, list] of rounds) Object.assign(results.targets[name]!, { crossInstance: medianOfRounds(list), crossInstanceRounds: list });
} finally {
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
log(`wrote bench/results/${name}.json and ${name}.md`);
