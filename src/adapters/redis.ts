/**
 * ioredis connections. Commands fail fast while Redis is unreachable (no
 * offline queue, one retry) so that requests get a clear error instead of
 * hanging, and so does a command Redis does not answer within
 * {@link commandTimeoutMs} while the connection stays up (Redis stopped or
 * busy, a link that drops packets without a reset: TCP alone would wait
 * for many minutes); the client keeps reconnecting in the background and
 * re-subscribes its channels by itself. Commands are written in turns
 * (utils/turns.ts): those that requests handled in one turn issue (seat
 * admissions and rate limits in a connect storm) leave in one system call.
 * A PUBLISH leaves at once, with whatever waited before it: other
 * instances' subscribers wait for it, and the rest of the turn (the sending
 * instance's own deliveries, the sender's answer) is no reason to keep them
 * waiting.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTopology } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { corkUntilTurnEnds, uncorkNow } from '../utils/turns.ts';
import { wrapCommands } from '../internals/ioredis.ts';

/** A connection to the configured Redis: one node (also through Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * How long a command may wait for Redis's answer before it fails as Redis
 * unavailable. Redis answers ours in well under a millisecond; this leaves
 * room for an event loop that is late to read the answer. Not for the
 * subscriber connection: its SUBSCRIBEs wait for Redis by design.
 */
const commandTimeoutMs = 5000;

const retryStrategy = (attempt: number) => Math.min(attempt * 200, 2000);

/**
 * A connection named `name` ('subscriber' for the bus's subscriber, which
 * queues its SUBSCRIBEs while Redis is away; anything else for commands).
 * Through Sentinel, ioredis asks the sentinels for the primary at each
 * (re)connect and listens for their failover announcements, so that it
 * moves to a promoted replica at once rather than when the old primary's
 * connection times out. On a Cluster, commands go to the node that owns
 * their key's slot and the subscriber holds one connection per primary
 * for sharded pub/sub.
 */
export function createRedis(url: string, name: string, logger: Logger): Redis;
export function createRedis(topology: RedisTopology, name: string, logger: Logger): RedisClient;
export function createRedis(target: RedisTopology | string, name: string, logger: Logger): RedisClient {
  const topology: RedisTopology = typeof target === 'string' ? { mode: 'single', url: target } : target;
  const subscriber = name === 'subscriber';
  const options: RedisOptions = {
    connectionName: `switchboard:${name}`,
    maxRetriesPerRequest: 1,
    ...(subscriber ? {} : { commandTimeout: commandTimeoutMs }),
  };
  let redis: RedisClient;
  if (topology.mode === 'cluster') {
    redis = new Cluster(topology.nodes, {
      redisOptions: options,
      enableOfflineQueue: subscriber,
      clusterRetryStrategy: retryStrategy,
      shardedSubscribers: subscriber,
    });
    redis.on('+node', (node: Redis) => writeInTurns(node));
  } else {
    const common = { ...options, enableOfflineQueue: subscriber, retryStrategy };
    redis =
      topology.mode === 'single'
        ? new Redis(topology.url, common)
        : new Redis({ ...common, sentinels: topology.sentinels, name: topology.masterName, failoverDetector: true, sentinelRetryStrategy: retryStrategy });
    writeInTurns(redis);
    if (topology.mode === 'sentinel') reconnectWhenEnded(redis, name, logger);
  }
  let down = false;
  const unreachable = (error: Error) => {
    if (!down) logger.warn({ redis: name, err: error.message }, 'redis unreachable');
    down = true;
  };
  redis.on('error', unreachable);
  // A Cluster reports the faults of its nodes apart; it stays usable while the other nodes answer.
  redis.on('node error', unreachable);
  redis.on('ready', () => {
    if (down) logger.info({ redis: name }, 'redis reachable again');
    down = false;
  });
  return redis;
}

/** Connections closed by our own shutdown: they must stay closed. */
const closedOnPurpose = new WeakSet<object>();

/** Closes a connection made by `createRedis` for good. */
export function closeRedis(redis: RedisClient): void {
  closedOnPurpose.add(redis);
  redis.disconnect();
}

/**
 * After a Sentinel failover, ioredis now and then ends a connection for good
 * (every command then fails with "Connection is closed." while the
 * promoted replica answers): seen in about one failover in three in
 * test/operations/sentinel-failover.test.ts. Such a connection starts again.
 */
function reconnectWhenEnded(redis: Redis, name: string, logger: Logger): void {
  redis.on('end', () => {
    if (closedOnPurpose.has(redis)) return;
    logger.warn({ redis: name }, 'redis connection ended by the client after a failover; connecting again');
    setTimeout(() => {
      if (!closedOnPurpose.has(redis) && redis.status === 'end') void redis.connect().catch(() => undefined);
    }, 500).unref();
  });
}

/** Commands issued in one turn leave in one system call (see above). */
function writeInTurns(redis: Redis): void {
  // Commands leave in turns; a PUBLISH at once (src/internals/ioredis.ts).
  wrapCommands(redis, { before: corkUntilTurnEnds, after: (socket, command) => (command.name === 'publish' || command.name === 'spublish') && uncorkNow(socket) });
}

/** Resolves when `redis` is ready, or after `timeoutMs` (then readiness checks report it down). */
export function waitUntilReady(redis: RedisClient, timeoutMs = 5000): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
