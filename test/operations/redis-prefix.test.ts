/**
 * REDIS_PREFIX: two deployments on one Redis, each with its own prefix, share
 * nothing. With MAX_CONNECTIONS=1 each admits its own user: had they shared
 * the seats key, the second would refuse with 4029.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { signUp } from '../helpers/accounts.ts';
import { testRedisPrefix, testRedisUrl } from '../helpers/env.ts';
import { connectSocket, scaledEnv, startServer, stopAllServers } from '../helpers/server.ts';
import { flushTestRedis } from '../helpers/redis.ts';

afterAll(stopAllServers);

describe('REDIS_PREFIX', () => {
  it('keeps two deployments on one Redis apart: seats, and the keys they write', async () => {
    const prefixes = [`${testRedisPrefix}one:`, `${testRedisPrefix}two:`];
    const [one, two] = await Promise.all(prefixes.map((prefix) => startServer({ ...scaledEnv(), REDIS_PREFIX: prefix, MAX_CONNECTIONS: '1' })));
    const [alice, bob] = await Promise.all([signUp(one!), signUp(two!)]);
    const sockets = [connectSocket(one!, { token: alice.accessToken }), connectSocket(two!, { token: bob.accessToken })];
    await Promise.all(sockets.map((s) => s.acked));

    const redis = new Redis(testRedisUrl);
    try {
      for (const prefix of prefixes) expect(await redis.zrange(`${prefix}{seats}`, 0, -1)).toHaveLength(1);
      // Nothing under this file's own prefix, which the helpers would have given them: each used the one it was given.
      expect(await redis.keys(`${testRedisPrefix}{seats}*`)).toEqual([]);
    } finally {
      redis.disconnect();
      await Promise.all(sockets.map((s) => s.client.dispose()));
      await stopAllServers();
      for (const prefix of prefixes) await flushTestRedis(testRedisUrl, prefix);
    }
  });
});
