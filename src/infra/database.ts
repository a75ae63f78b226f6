/**
 * The database adapter: PostgreSQL from DATABASE_URL, else an embedded
 * PGlite kept under DATA_DIR (so `npm start` needs no server).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from './config.ts';

export type Database = PrismaClient;

export interface DatabaseAdapter {
  adapter: SqlMigrationAwareDriverAdapterFactory;
  embedded: boolean;
  /**
   * Names of the migrations the embedded database has finished applying (it
   * is migrated at start); null for PostgreSQL, which `npm run db:migrate` migrates.
   */
  appliedMigrations(): Promise<string[] | null>;
  close(): Promise<void>;
}

const appliedMigrationsSql = 'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL';

export async function createDatabaseAdapter(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR'>): Promise<DatabaseAdapter> {
  if (config.DATABASE_URL) {
    return { adapter: new PrismaPg({ connectionString: config.DATABASE_URL }), embedded: false, appliedMigrations: async () => null, close: async () => {} };
  }
  const dir = path.resolve(config.DATA_DIR, 'pglite');
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const pglite = new PGlite(dir);
  await pglite.waitReady;
  return {
    adapter: new PrismaPGlite(pglite) as unknown as SqlMigrationAwareDriverAdapterFactory,
    embedded: true,
    async appliedMigrations() {
      try {
        return (await pglite.query<{ migration_name: string }>(appliedMigrationsSql)).rows.map((r) => r.migration_name);
      } catch {
        return [];
      }
    },
    close: () => pglite.close(),
  };
}

/**
 * A unique constraint refused the write: P2002 from a model query, P2010
 * carrying PostgreSQL's 23505 from a raw one.
 */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  if (error.code === 'P2002') return true;
  const cause = (error.meta?.driverAdapterError as { cause?: { originalCode?: unknown; kind?: unknown } } | undefined)?.cause;
  return error.code === 'P2010' && (cause?.originalCode === '23505' || cause?.kind === 'UniqueConstraintViolation');
}

export function createPrismaClient(adapter: SqlMigrationAwareDriverAdapterFactory): Database {
  return new PrismaClient({ adapter });
}

/** True when the database answers a trivial query within `timeoutMs`. */
export async function databaseReachable(db: Database, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([db.$queryRaw`SELECT 1`.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
