/**
 * Once per `npm test`: compiles the server (dist/src/main.js, which test
 * servers run), and makes sure the test database exists and carries every
 * committed migration, so `npm test` works on a machine where nobody ran
 * `npm run build` or `npm run db:migrate` by hand. Each test file then runs
 * on a copy of that database (env.ts); the database itself stays unused, as
 * a template must. It also makes the embedded database a fresh DATA_DIR
 * starts with (embedded-template.ts) and hands its folder to the test files.
 * At the end, copies a crashed file left behind are dropped.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
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

declare module 'vitest' {
  export interface ProvidedContext {
    /** A DATA_DIR holding a migrated embedded database, to copy from (server.ts). */
    embeddedTemplate: string;
  }
}

/** Runs a script of this repository in a Node process of its own; rejects with its output when it fails. */
function runScript(what: string, args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: projectPath('.'), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => (status === 0 ? resolve() : reject(new Error(`${what} failed:\n${output}`))));
  });
}

export default async function setup(project: TestProject) {
  // The embedded template (several seconds of PGlite) is made while the rest is done.
  const embeddedTemplate = mkdtempSync(path.join(tmpdir(), 'switchboard-template-'));
  const template = runScript('making the embedded template', ['test/helpers/embedded-template.ts', embeddedTemplate], {});
  template.catch(() => {});
  try {
    // The servers tests start run the compiled server, as `npm start` does: built from the sources under test.
    build();
    const name = new URL(baseDatabaseUrl).pathname.slice(1);
    await withAdmin(async (admin) => {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    });
    // In a process of its own, so that no connection to the template outlives the migration.
    await runScript(`migrating ${name}`, ['scripts/migrate.ts', 'deploy'], { DATABASE_URL: baseDatabaseUrl, LOG_LEVEL: 'silent' });
    await template;
  } catch (error) {
    // Nothing left running or lying in the temporary directory when the run cannot start.
    await template.catch(() => {});
    rmSync(embeddedTemplate, { recursive: true, force: true });
    throw error;
  }
  project.provide('embeddedTemplate', embeddedTemplate);
  await dropFileDatabases();
  return async () => {
    rmSync(embeddedTemplate, { recursive: true, force: true });
    await dropFileDatabases();
  };
}
