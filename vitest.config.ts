import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module); Node, and so every
    // library, loads the CJS one. Tests must share that same copy.
    alias: { graphql: createRequire(import.meta.url).resolve('graphql') },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file has a database and a Redis key prefix of its own
    // (test/helpers/env.ts), so files run side by side: three at a time on
    // two cores, as a file spends part of its time waiting on a clock (a
    // lease, a token's lifetime) with the CPU idle (docs/testing.md).
    fileParallelism: true,
    maxWorkers: 3,
    // A worker runs its files one after another in one process with one
    // module cache: a fresh process per file cost 0.7 s of CPU each. What a
    // file must not share is set per file by test/helpers/setup-file.ts.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/setup-file.ts'],
  },
});
