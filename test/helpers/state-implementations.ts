/**
 * Both implementations of shared state, for suites that run the same
 * assertions on each: a real Redis (its Lua scripts) and the in-process
 * store (their JavaScript twins). Disconnect the Redis clients in afterAll.
 */
import { Redis } from 'ioredis';
import { createMemoryState, createRedisState, type SharedState } from '../../src/adapters/state.ts';
import { testRedisUrl } from './env.ts';

export function stateImplementations(): { implementations: [string, () => SharedState][]; disconnect: () => void } {
  const redisClients: Redis[] = [];
  return {
    implementations: [
      ['memory', () => createMemoryState()],
      [
        'redis',
        () => {
          const redis = new Redis(testRedisUrl);
          redisClients.push(redis);
          return createRedisState(redis);
        },
      ],
    ],
    disconnect: () => redisClients.forEach((r) => r.disconnect()),
  };
}
