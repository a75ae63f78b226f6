/** The test Redis, for suites whose counts are cluster-wide (seats): start them from empty. */
import { Redis } from 'ioredis';
import { testRedisPrefix, testRedisUrl } from './env.ts';

/**
 * An empty database of the test Redis server (number `db`), for a test whose
 * seat counts must not see the other instances a file keeps running. Only the
 * keys of this file's prefix are removed: files running beside it may use
 * that database too.
 */
export async function emptyRedisDatabase(db: number): Promise<string> {
  const url = new URL(testRedisUrl);
  url.pathname = `/${db}`;
  await flushTestRedis(url.toString());
  return url.toString();
}

/** Removes every key of this test file (its prefix) from the test Redis: what other files hold stays. */
export async function flushTestRedis(url: string = testRedisUrl, prefix: string = testRedisPrefix): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
