/**
 * ioredis connections. Commands fail fast while Redis is unreachable (no
 * offline queue, one retry) so that requests get a clear error instead of
 * hanging; the client keeps reconnecting in the background and re-subscribes
 * its channels by itself. Commands are written in turns (infra/turns.ts):
 * those that requests handled in one turn issue (seat admissions and rate
 * limits in a connect storm) leave in one system call. A PUBLISH leaves at
 * once, with whatever waited before it: other instances' subscribers wait
 * for it, and the rest of the turn (the sending instance's own deliveries,
 * the sender's answer) is no reason to keep them waiting.
 */
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { Logger } from './logger.ts';
import { corkUntilTurnEnds, uncorkNow } from './turns.ts';

export function createRedis(url: string, name: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    connectionName: `switchboard:${name}`,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: name === 'subscriber',
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    const socket = redis.stream?.writable ? (redis.stream as Socket) : null;
    if (!socket) return send(command, stream);
    corkUntilTurnEnds(socket);
    const sent = send(command, stream);
    if (command.name === 'publish') uncorkNow(socket);
    return sent;
  };
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
