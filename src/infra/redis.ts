/**
 * ioredis connections. Commands fail fast while Redis is unreachable (no
 * offline queue, one retry) so that requests get a clear error instead of
 * hanging, and so does a command Redis does not answer within
 * {@link commandTimeoutMs} while the connection stays up (Redis stopped or
 * busy, a link that drops packets without a reset: TCP alone would wait
 * for many minutes); the client keeps reconnecting in the background and
 * re-subscribes its channels by itself. Commands are written in turns
 * (infra/turns.ts): those that requests handled in one turn issue (seat
 * admissions and rate limits in a connect storm) leave in one system call.
 * A PUBLISH leaves at once, with whatever waited before it: other
 * instances' subscribers wait for it, and the rest of the turn (the sending
 * instance's own deliveries, the sender's answer) is no reason to keep them
 * waiting.
 */
import { Redis } from 'ioredis';
import type { Logger } from './logger.ts';
import { corkUntilTurnEnds, uncorkNow } from './turns.ts';
import { wrapCommands } from '../internals/ioredis.ts';

/**
 * How long a command may wait for Redis's answer before it fails as Redis
 * unavailable. Redis answers ours in well under a millisecond; this leaves
 * room for an event loop that is late to read the answer. Not for the
 * subscriber connection: its SUBSCRIBEs wait for Redis by design.
 */
const commandTimeoutMs = 5000;

export function createRedis(url: string, name: string, logger: Logger): Redis {
  const subscriber = name === 'subscriber';
  const redis = new Redis(url, {
    connectionName: `switchboard:${name}`,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: subscriber,
    ...(subscriber ? {} : { commandTimeout: commandTimeoutMs }),
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  // Commands leave in turns; a PUBLISH at once (src/internals/ioredis.ts).
  wrapCommands(redis, { before: corkUntilTurnEnds, after: (socket, command) => command.name === 'publish' && uncorkNow(socket) });
  let down = false;
  redis.on('error', (error) => {
    if (!down) logger.warn({ redis: name, err: error.message }, 'redis unreachable');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ redis: name }, 'redis reachable again');
    down = false;
  });
  return redis;
}

/** Resolves when `redis` is ready, or after `timeoutMs` (then readiness checks report it down). */
export function waitUntilReady(redis: Redis, timeoutMs = 5000): Promise<boolean> {
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
