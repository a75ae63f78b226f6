import { defineConfig } from 'prisma/config';

// Prisma's CLI is used only to generate the client here; migrations run
// through the in-process schema engine (scripts/migrate.ts).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/switchboard' },
});
