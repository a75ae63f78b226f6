/**
 * Before each test file: an empty test Redis. Seats, presence, rate-limit
 * counters and revocations are cluster-wide by design, so a file must not
 * inherit those of the files before it (an instance a test killed leaves its
 * seats until their lease ends).
 */
import { beforeAll } from 'vitest';
import { flushTestRedis } from './redis.ts';

beforeAll(() => flushTestRedis());
