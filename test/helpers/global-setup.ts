/**
 * Once per `npm test`: compiles the server (dist/src/main.js, which test
 * servers run), and makes sure the test database exists and carries every
 * committed migration, so `npm test` works on a machine where nobody ran
 * `npm run build` or `npm run db:migrate` by hand.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { applyMigrations } from '../../src/adapters/migrations.ts';
import { testDatabaseUrl } from './env.ts';
import { build } from '../../scripts/build.ts';

export default async function setup() {
  // The servers tests start run the compiled server, as `npm start` does: built from the sources under test.
  build();
  const url = new URL(testDatabaseUrl);
  const name = url.pathname.slice(1);
  const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  await admin.end();
  await applyMigrations(new PrismaPg({ connectionString: testDatabaseUrl }));
}
