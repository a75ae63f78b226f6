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
    // (test/helpers/env.ts), so files run side by side: two at a time, as
    // most of a file's time is spent waiting on the servers it starts.
    fileParallelism: true,
    maxWorkers: 2,
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
