/**
 * Before each test file: its own Redis key prefix, in this process as in the
 * servers it starts (env.ts), so that seats, presence, rate-limit counters,
 * revocations and bus channels of the files running beside it or before it
 * are not its own. After it: its servers stopped, its keys and the folders
 * it made removed, even when a test failed.
 */
import { afterAll } from 'vitest';
import { useKeyPrefix } from '../../src/core/codes.ts';
import { beginTestFile, testRedisPrefix } from './env.ts';
import { flushTestRedis } from './redis.ts';
import { removeTemporaryFolders, stopAllServers } from './server.ts';

await beginTestFile();
useKeyPrefix(testRedisPrefix);

afterAll(async () => {
  await stopAllServers();
  await flushTestRedis().catch(() => {});
  removeTemporaryFolders();
});
