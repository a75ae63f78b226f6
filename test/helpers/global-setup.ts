/**
 * Once per `npm test`: compiles the server (dist/src/main.js, which test
 * servers run), and makes sure the test database exists and carries every
 * committed migration, so `npm test` works on a machine where nobody ran
 * `npm run build` or `npm run db:migrate` by hand. Each test file then runs
 * on a copy of that database (env.ts); the database itself stays unused, as
 * a template must. At the end, copies a crashed file left behind are dropped.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { baseDatabaseUrl, fileDatabasePrefix, withDatabaseName } from './env-base.ts';
import { build } from '../../scripts/build.ts';
import { projectPath } from '../../src/utils/project-path.ts';

async function withAdmin<T>(use: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: withDatabaseName(baseDatabaseUrl, 'postgres') });
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.end();
  }
}

async function dropFileDatabases(): Promise<void> {
  await withAdmin(async (admin) => {
    const left = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [fileDatabasePrefix()]);
    for (const { datname } of left.rows) await admin.query(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
  });
}

export default async function setup() {
  // The servers tests start run the compiled server, as `npm start` does: built from the sources under test.
  build();
  const name = new URL(baseDatabaseUrl).pathname.slice(1);
  await withAdmin(async (admin) => {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  });
  // In a process of its own, so that no connection to the template outlives the migration.
  const migrated = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts', 'deploy'], {
    cwd: projectPath('.'),
    env: { ...process.env, DATABASE_URL: baseDatabaseUrl, LOG_LEVEL: 'silent' },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`migrating ${name} failed:\n${migrated.stdout}${migrated.stderr}`);
  await dropFileDatabases();
  return dropFileDatabases;
}
