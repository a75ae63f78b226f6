import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { baseDatabaseUrl, fileDatabasePrefix, testRedisUrl, withDatabaseName } from './env-base.ts';

/**
 * Where the tests' services live. CI (and `npm test`) use the local
 * PostgreSQL and Redis on loopback; TEST_DATABASE_URL / TEST_REDIS_URL
 * override them.
 *
 * Test files run in parallel, so each one gets state of its own
 * ({@link beginTestFile}): a database copied from the migrated one, and
 * a Redis key and channel prefix (REDIS_PREFIX) that its servers and its
 * in-process code use. Nothing one file counts, flushes or listens to is
 * another's.
 */
export { testRedisUrl };

/*
 * The per-file values below are live bindings, set again before each test
 * file by setup-file.ts: test files share one worker process and its module
 * cache (vitest.config.ts, isolate: false), so this module is evaluated once
 * per worker, not once per file.
 */

/** Unique to this test file in this run. */
export let fileTag = '';

/** REDIS_PREFIX of this file's servers and in-process state (setup-file.ts applies it in this process). */
export let testRedisPrefix = '';

/** This test file's own database (a copy of the migrated TEST_DATABASE_URL, dropped after the file). */
export let testDatabaseUrl = '';

/**
 * Runs one statement on a connection of its own, by default on the server's `postgres` database
 * (to create or drop a database).
 */
export async function admin(sql: string, url = withDatabaseName(baseDatabaseUrl, 'postgres')): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Gives the test file about to run its own tag, Redis prefix and database,
 * and drops that database after it (setup-file.ts calls this before each file).
 */
export async function beginTestFile(): Promise<void> {
  fileTag = randomBytes(5).toString('hex');
  testRedisPrefix = `sb:t${fileTag}:`;
  const fileDatabase = `${fileDatabasePrefix()}${fileTag}`;
  const template = new URL(baseDatabaseUrl).pathname.slice(1);
  // Another file copying the same template at this instant makes PostgreSQL refuse for a moment ("being accessed").
  for (let attempt = 0; ; attempt++) {
    try {
      await admin(`CREATE DATABASE "${fileDatabase}" TEMPLATE "${template.replace(/"/g, '""')}"`);
      break;
    } catch (error) {
      if (attempt >= 50 || !/being accessed by other users/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
  }
  afterAll(() => admin(`DROP DATABASE IF EXISTS "${fileDatabase}" WITH (FORCE)`), 30_000);
  testDatabaseUrl = withDatabaseName(baseDatabaseUrl, fileDatabase);
}

/** Runs `use` with a connection of its own to the test database (for what a test reads or leaves there directly). */
export async function withDatabase<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
