/**
 * Prisma migrations through the in-process schema engine (wasm), because
 * Prisma's CLI needs a native engine download that these machines cannot
 * make. Same folder layout, lock file and `_prisma_migrations` table as the
 * CLI, so either can take over later.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { projectPath } from '../utils/project-path.ts';
import { loadSchemaEngine } from '../internals/prisma-schema-engine.ts';
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';

export const schemaPath = projectPath('prisma/schema.prisma');
export const migrationsDir = projectPath('prisma/migrations');
const lockFileName = 'migration_lock.toml';
const filters = { externalTables: [], externalEnums: [] };

const loadRuntime = loadSchemaEngine;

async function readMigrationsList() {
  await fs.mkdir(migrationsDir, { recursive: true });
  const entries = (await fs.readdir(migrationsDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const lockPath = path.join(migrationsDir, lockFileName);
  const lockContent = await fs.readFile(lockPath, 'utf8').catch(() => null);
  const migrationDirectories = await Promise.all(
    entries.map(async (dir) => ({
      path: dir,
      migrationFile: {
        path: 'migration.sql',
        content: { tag: 'ok', value: await fs.readFile(path.join(migrationsDir, dir, 'migration.sql'), 'utf8') },
      },
    })),
  );
  return { baseDir: migrationsDir, lockfile: { path: lockFileName, content: lockContent }, shadowDbInitScript: '', migrationDirectories };
}

async function withEngine<T>(adapter: SqlMigrationAwareDriverAdapterFactory, work: (engine: any, datamodel: string) => Promise<T>): Promise<T> {
  const rt = await loadRuntime();
  const datamodel = await fs.readFile(schemaPath, 'utf8');
  const engine = await rt.SchemaEngine.new({ datamodels: [[schemaPath, datamodel]] }, () => {}, bindMigrationAwareSqlAdapterFactory(adapter));
  try {
    return await work(engine, datamodel);
  } finally {
    engine.free();
  }
}

/** Names of the committed migrations, oldest first. */
export async function committedMigrationNames(): Promise<string[]> {
  return (await readMigrationsList()).migrationDirectories.map((d) => d.path);
}

/** Applies every committed migration not yet applied. Idempotent. Returns the names applied now. */
export async function applyMigrations(adapter: SqlMigrationAwareDriverAdapterFactory): Promise<string[]> {
  return withEngine(adapter, async (engine) => {
    const result = await engine.applyMigrations({ migrationsList: await readMigrationsList(), filters });
    return result.appliedMigrationNames as string[];
  });
}

/**
 * The SQL that would take the committed migrations to prisma/schema.prisma,
 * or null when they already match. Uses the adapter's shadow database.
 */
export async function pendingSchemaDiff(adapter: SqlMigrationAwareDriverAdapterFactory): Promise<string | null> {
  return withEngine(adapter, async (engine, datamodel) => {
    const result = await engine.diff({
      from: { tag: 'migrations', ...(await readMigrationsList()) },
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: datamodel }] },
      script: true,
      exitCode: true,
      filters,
    });
    return result.exitCode === 2 ? (result.stdout as string) : null;
  });
}

/** Writes a new migration folder holding the pending diff; returns its name, or null when nothing changed. */
export async function createMigration(adapter: SqlMigrationAwareDriverAdapterFactory, name: string): Promise<string | null> {
  const sql = await pendingSchemaDiff(adapter);
  if (sql === null) return null;
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const folder = `${stamp}_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
  await fs.mkdir(path.join(migrationsDir, folder), { recursive: true });
  await fs.writeFile(path.join(migrationsDir, folder, 'migration.sql'), sql);
  return folder;
}
