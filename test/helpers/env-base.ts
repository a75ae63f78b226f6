/**
 * The services the whole run uses, as given: TEST_DATABASE_URL names the
 * migrated database each test file's own database is copied from
 * (global-setup.ts migrates it; env.ts makes the copies).
 */
export const baseDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/switchboard_test';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** Names of the per-file databases copied from the base one (global-setup.ts drops any left behind). */
export const fileDatabasePrefix = (base = baseDatabaseUrl) => `${new URL(base).pathname.slice(1)}_f`;

/** `url` with another database name. */
export const withDatabaseName = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();
