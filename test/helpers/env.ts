import pg from 'pg';

/**
 * Where the tests' services live. CI (and `npm test`) use the local
 * PostgreSQL and Redis on loopback; TEST_DATABASE_URL / TEST_REDIS_URL
 * override them.
 */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/switchboard_test';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

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
