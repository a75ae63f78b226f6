/** The test Redis, for suites whose counts are cluster-wide (seats): start them from empty. */
import { Redis } from 'ioredis';
import { testRedisUrl } from './env.ts';

/**
 * An empty database of the test Redis server (number `db`), for a test whose
 * seat counts must not see the other instances a file keeps running.
 */
export async function emptyRedisDatabase(db: number): Promise<string> {
  const url = new URL(testRedisUrl);
  url.pathname = `/${db}`;
  await flushTestRedis(url.toString());
  return url.toString();
}

export async function flushTestRedis(url: string = testRedisUrl): Promise<void> {
  const redis = new Redis(url);
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}
