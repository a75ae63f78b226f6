/**
 * Redis as production runs it, on loopback, for the tests that need it: a
 * primary with a replica watched by three Sentinels, or a three-primary
 * Cluster. Each node is a redis-server child process of the test, in a
 * temporary directory, on ports taken from TEST_REDIS_TOPOLOGY_PORTS
 * (a range `from-to`, default 7500-7599; a Cluster node also uses its
 * port + 10000 for the cluster bus); stop() ends them all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { accepts } from './ports.ts';

const [rangeFrom, rangeTo] = (process.env.TEST_REDIS_TOPOLOGY_PORTS ?? '7500-7599').split('-').map(Number) as [number, number];
let nextPort = rangeFrom;

/** The next port of the range on which nothing listens (nor on its cluster-bus port, when `clusterBus`). */
async function takePort(clusterBus = false): Promise<number> {
  while (nextPort <= rangeTo) {
    const port = nextPort++;
    if (!(await accepts(port)) && !(clusterBus && (await accepts(port + 10000)))) return port;
  }
  throw new Error(`no free port left in ${rangeFrom}-${rangeTo} (TEST_REDIS_TOPOLOGY_PORTS)`);
}

interface Node {
  port: number;
  process: ChildProcess;
}

async function startNode(port: number, dir: string, args: string[]): Promise<Node> {
  const child = spawn('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await accepts(port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await accepts(port))) throw new Error(`redis-server on port ${port} did not start`);
  return { port, process: child };
}

async function stopNode(node: Node): Promise<void> {
  const child = node.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Polls `check` every 100 ms until it is true; throws after `timeoutMs`. */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One command to one node, on a connection of its own. */
async function ask(port: number, ...command: string[]): Promise<any> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await redis.call(command[0]!, ...command.slice(1));
  } finally {
    redis.disconnect();
  }
}

export interface SentinelTopology {
  /** REDIS_SENTINELS and REDIS_MASTER_NAME for the servers. */
  env: { REDIS_SENTINELS: string; REDIS_MASTER_NAME: string };
  /** The port of the node that is primary now, as the sentinels say. */
  primaryPort(): Promise<number>;
  /** SIGKILLs the current primary; resolves with its port. */
  killPrimary(): Promise<number>;
  /** Resolves once the sentinels name a primary other than `port` and it answers as one. */
  promotedFrom(port: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const masterName = 'switchboard';

/**
 * A primary, one replica and three Sentinels (quorum 2, a node is down
 * after 1 s without an answer). Resolves once the replica is in sync and
 * every sentinel knows the replica and the other sentinels.
 */
export async function startSentinelTopology(): Promise<SentinelTopology> {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-sentinel-'));
  const nodes: Node[] = [];
  const primary = await startNode(await takePort(), dir, ['--dbfilename', 'primary.rdb']);
  nodes.push(primary);
  const replica = await startNode(await takePort(), dir, ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(primary.port)]);
  nodes.push(replica);
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await takePort();
    const file = path.join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${masterName} 1000`,
        `sentinel failover-timeout ${masterName} 10000`,
        '',
      ].join('\n'),
    );
    nodes.push(await startNode(port, dir, [file, '--sentinel']));
    sentinelPorts.push(port);
  }
  const stop = async () => {
    await Promise.all(nodes.map(stopNode));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => /master_link_status:up/.test(await ask(replica.port, 'INFO', 'replication')), 20_000, 'the replica to sync');
    for (const port of sentinelPorts) {
      await waitFor(
        async () => {
          const [master] = (await ask(port, 'SENTINEL', 'MASTERS')) as string[][];
          const field = (name: string) => Number(master![master!.indexOf(name) + 1]);
          return field('num-slaves') === 1 && field('num-other-sentinels') === 2;
        },
        20_000,
        `sentinel ${port} to know the replica and the other sentinels`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const primaryPort = async () => Number(((await ask(sentinelPorts[0]!, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[])[1]);
  return {
    env: { REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','), REDIS_MASTER_NAME: masterName },
    primaryPort,
    async killPrimary() {
      const port = await primaryPort();
      await stopNode(nodes.find((n) => n.port === port)!);
      return port;
    },
    async promotedFrom(port, timeoutMs = 30_000) {
      let promoted = 0;
      await waitFor(
        async () => {
          promoted = await primaryPort();
          return promoted !== port && /role:master/.test(await ask(promoted, 'INFO', 'replication'));
        },
        timeoutMs,
        'a replica to be promoted',
      );
      return promoted;
    },
    stop,
  };
}

export interface RedisClusterTopology {
  /** REDIS_CLUSTER_NODES for the servers. */
  env: { REDIS_CLUSTER_NODES: string };
  ports: number[];
  /** Empties every node (FLUSHALL on each primary). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** Three primaries sharing the 16384 slots, no replicas; resolves once the cluster state is ok on every node. */
export async function startRedisCluster(): Promise<RedisClusterTopology> {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-cluster-'));
  const nodes: Node[] = [];
  const stop = async () => {
    await Promise.all(nodes.map(stopNode));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await takePort(true);
      nodes.push(
        await startNode(port, dir, ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dbfilename', `dump-${port}.rdb`]),
      );
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const node of nodes) {
      await waitFor(async () => /cluster_state:ok/.test(await ask(node.port, 'CLUSTER', 'INFO')), 20_000, `cluster state ok on ${node.port}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const ports = nodes.map((n) => n.port);
  return {
    env: { REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(',') },
    ports,
    async flush() {
      await Promise.all(ports.map((port) => ask(port, 'FLUSHALL')));
    },
    stop,
  };
}
