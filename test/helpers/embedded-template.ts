/**
 * An embedded database as a fresh DATA_DIR gets it on first start (PGlite's
 * initdb, then every committed migration), made once per `npm test` by
 * global-setup.ts. Creating it costs about 7 s of CPU, so test servers
 * started in embedded mode on a DATA_DIR of their own begin from a copy of
 * it (server.ts); the tests of a first start on an empty folder pass their
 * DATA_DIR, and lifecycle.test.ts starts a clone with `npm start`.
 *
 * Run as a script (`node --import tsx test/helpers/embedded-template.ts DIR`)
 * so that PGlite's memory is given back before the tests start.
 */
import { fileURLToPath } from 'node:url';
import { createDatabaseAdapter } from '../../src/adapters/database.ts';
import { applyMigrations } from '../../src/adapters/migrations.ts';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: embedded-template.ts DATA_DIR');
  const database = await createDatabaseAdapter({ DATA_DIR: dataDir, DATABASE_URL: undefined });
  await applyMigrations(database.adapter);
  await database.close();
  // Closed and on disk; something inside PGlite keeps the event loop alive
  // for another 10 s, which every `npm test` would wait out.
  process.exit(0);
}
