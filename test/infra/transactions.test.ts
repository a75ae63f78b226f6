/**
 * inTransaction on PostgreSQL: a transaction aborted as a conflict's victim
 * (PostgreSQL raising 40P01 or 40001 inside it) runs again, three attempts
 * in all; any other failure is not retried; what an aborted attempt wrote
 * is gone. The deadlock itself is met end to end in rooms.test.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPrismaClient, inTransaction, isTransactionConflict } from '../../src/adapters/database.ts';
import { testDatabaseUrl } from '../helpers/env.ts';

const db = createPrismaClient(new PrismaPg({ connectionString: testDatabaseUrl }));
afterAll(() => db.$disconnect());

/** A statement that fails inside the transaction with this SQLSTATE, as PostgreSQL fails a deadlock's victim. */
const failWith = (sqlState: string) => `DO $$ BEGIN RAISE EXCEPTION 'test: %', '${sqlState}' USING ERRCODE = '${sqlState}'; END $$`;

describe('inTransaction', () => {
  it.each(['40P01', '40001'])('runs a transaction aborted with %s again, and it then commits once', async (sqlState) => {
    const key = `tx-${sqlState}-${Date.now()}`;
    let attempts = 0;
    const result = await inTransaction(db, async (tx) => {
      attempts++;
      await tx.auditEvent.create({ data: { kind: 'test', detail: { key, attempt: attempts } } });
      if (attempts < 3) await tx.$executeRawUnsafe(failWith(sqlState));
      return attempts;
    });
    expect(result).toBe(3);
    // The two aborted attempts left nothing behind.
    const rows = await db.auditEvent.findMany({ where: { kind: 'test', detail: { path: ['key'], equals: key } } });
    expect(rows.map((row) => (row.detail as { attempt: number }).attempt)).toEqual([3]);
  });

  it('gives up after the third attempt with the conflict itself', async () => {
    let attempts = 0;
    const failure = await inTransaction(db, async (tx) => {
      attempts++;
      await tx.$executeRawUnsafe(failWith('40P01'));
    }).catch((error: unknown) => error);
    expect(attempts).toBe(3);
    expect(isTransactionConflict(failure)).toBe(true);
  });

  it('does not run again a transaction that failed for any other reason', async () => {
    let attempts = 0;
    const failure = await inTransaction(db, async (tx) => {
      attempts++;
      await tx.$executeRawUnsafe(failWith('23505'));
    }).catch((error: unknown) => error);
    expect(attempts).toBe(1);
    expect(isTransactionConflict(failure)).toBe(false);
    const thrown = new Error('not a database error');
    attempts = 0;
    await expect(
      inTransaction(db, async () => {
        attempts++;
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    expect(attempts).toBe(1);
  });
});
