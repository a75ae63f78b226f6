/**
 * The database adapter: PostgreSQL from DATABASE_URL, else an embedded
 * PGlite kept under DATA_DIR (so `npm start` needs no server). Prisma's
 * client serves every query but the hot path's few statements, which go
 * straight to the driver (`Sql`): measured here, a raw statement through
 * Prisma costs about 0.23 ms of CPU, the same through pg as a named
 * (prepared) statement about 0.11 ms, and a send runs two.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from '../core/config.ts';

export type Database = PrismaClient;

/** A statement of the hot path: its name lets PostgreSQL prepare it once per connection. */
export interface Statement {
  name: string;
  text: string;
}

/**
 * Statements through the driver, on the connections Prisma uses. Columns
 * come back as the driver types them: the hot statements return JSON
 * (`row_to_json`), which both drivers parse alike, so timestamps arrive as
 * strings (see {@link timestampFromJson}).
 */
export interface Sql {
  rows<T>(statement: Statement, values: unknown[]): Promise<T[]>;
}

/** A `timestamp(3)` column as JSON gives it: UTC (as Prisma writes it) without a zone. */
export const timestampFromJson = (timestamp: string): Date => new Date(`${timestamp}Z`);

export interface DatabaseAdapter {
  adapter: SqlMigrationAwareDriverAdapterFactory;
  sql: Sql;
  embedded: boolean;
  /**
   * Names of the migrations the embedded database has finished applying (it
   * is migrated at start); null for PostgreSQL, which `npm run db:migrate` migrates.
   */
  appliedMigrations(): Promise<string[] | null>;
  close(): Promise<void>;
}

/**
 * How long PostgreSQL has to give a connection (a new one, or one of the
 * pool's, all busy) or a statement's answer before the request fails as
 * database unavailable. Ours take milliseconds; a PostgreSQL that keeps the
 * connection but answers nothing (stopped, a link dropping packets) would
 * otherwise hold every request, and then the whole pool, for as long as TCP
 * waits: many minutes.
 */
const answerTimeoutMs = 5000;

const appliedMigrationsSql = 'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL';

export async function createDatabaseAdapter(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR'>): Promise<DatabaseAdapter> {
  if (config.DATABASE_URL) {
    // One pool for Prisma and the direct statements; Prisma leaves a pool it was given open.
    const pool = new pg.Pool({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: answerTimeoutMs, query_timeout: answerTimeoutMs });
    return {
      adapter: new PrismaPg(pool),
      sql: { rows: async (statement, values) => (await pool.query({ ...statement, values })).rows },
      embedded: false,
      appliedMigrations: async () => null,
      close: () => pool.end(),
    };
  }
  const dir = path.resolve(config.DATA_DIR, 'pglite');
  await fs.mkdir(path.dirname(dir), { recursive: true });
  // Loaded only in embedded mode: a scaled start is spared loading them (about 0.15 s of CPU).
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import('@electric-sql/pglite'), import('pglite-prisma-adapter')]);
  const pglite = new PGlite(dir);
  await pglite.waitReady;
  return {
    adapter: new PrismaPGlite(pglite) as unknown as SqlMigrationAwareDriverAdapterFactory,
    sql: { rows: async (statement, values) => (await pglite.query<never>(statement.text, values)).rows },
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

/** A unique constraint refused the write: P2002 from a Prisma query, PostgreSQL's 23505 from a direct statement. */
export function isUniqueViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code === 'P2002';
  return (error as { code?: unknown } | null)?.code === '23505';
}

const conflictCodes = new Set(['40P01', '40001']);

/**
 * PostgreSQL aborted a transaction to break a deadlock (40P01) or a
 * serialization conflict (40001): through Prisma P2034 from a model query,
 * P2010 carrying the driver's code from a raw one; the code itself from pg.
 */
export function isTransactionConflict(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    const cause = (error.meta?.driverAdapterError as { cause?: { originalCode?: string } } | undefined)?.cause;
    return error.code === 'P2034' || conflictCodes.has(cause?.originalCode ?? '');
  }
  return conflictCodes.has(String((error as { code?: unknown } | null)?.code));
}

/** Attempts in all of a transaction PostgreSQL keeps aborting as a conflict's victim. */
const transactionAttempts = 3;

/**
 * Runs `work` in a transaction, and again when PostgreSQL aborts it as the
 * victim of a deadlock or a serialization conflict (up to three attempts in
 * all, a few random milliseconds apart): the other party has then gone on,
 * so running it again mostly succeeds, where the caller would have had an
 * internal error. `work` may therefore run more than once: it must do
 * nothing but its statements on `tx`.
 */
export async function inTransaction<T>(db: Database, work: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.$transaction(work);
    } catch (error) {
      if (attempt >= transactionAttempts || !isTransactionConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  }
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
