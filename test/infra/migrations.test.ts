/**
 * The committed migrations produce exactly prisma/schema.prisma: the schema
 * engine's diff from the migrations to the data model is empty.
 */
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { describe, expect, it } from 'vitest';
import { applyMigrations, pendingSchemaDiff } from '../../src/adapters/migrations.ts';

describe('migrations', () => {
  it('match schema.prisma exactly', async () => {
    expect(await pendingSchemaDiff(new PrismaPGlite(new PGlite()))).toBeNull();
  });

  it('apply to an empty database, then find nothing more to apply', async () => {
    const db = new PGlite();
    const first = await applyMigrations(new PrismaPGlite(db));
    expect(first.length).toBeGreaterThan(0);
    expect(await applyMigrations(new PrismaPGlite(db))).toEqual([]);
    const tables = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['AuditEvent', 'Message', 'RefreshToken', 'Room', 'RoomInvite', 'RoomMember', 'Session', 'User', '_prisma_migrations']),
    );
    await db.close();
  });
});
