/**
 * `npm run db:migrate`: apply committed migrations to DATABASE_URL (or the
 * embedded database when it is unset).
 * `npm run db:migration -- NAME`: write the diff between the committed
 * migrations and prisma/schema.prisma as a new migration (shadow database:
 * an in-memory PGlite, so no server is needed).
 */
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { loadConfig } from '../src/core/config.ts';
import { createDatabaseAdapter } from '../src/adapters/database.ts';
import { applyMigrations, createMigration } from '../src/adapters/migrations.ts';

const [command, name] = process.argv.slice(2);
try {
  if (command === 'deploy') {
    const config = loadConfig();
    const { adapter, close } = await createDatabaseAdapter(config);
    const applied = await applyMigrations(adapter);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    await close();
  } else if (command === 'create' && name) {
    const folder = await createMigration(new PrismaPGlite(new PGlite()), name);
    console.log(folder ? `created prisma/migrations/${folder}` : 'no changes: schema.prisma matches the migrations');
  } else {
    console.log('usage: migrate.ts deploy | create NAME');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
// The schema engine leaves a timer behind after free().
process.exit();
