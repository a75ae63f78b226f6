/** The test Redis, for suites whose counts are cluster-wide (seats): start them from empty. */
import { Redis } from 'ioredis';
import { testRedisUrl } from './env.ts';

export async function flushTestRedis(): Promise<void> {
  const redis = new Redis(testRedisUrl);
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}
