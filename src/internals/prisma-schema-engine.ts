/**
 * Prisma's schema engine compiled to WebAssembly, started by hand: Prisma's
 * CLI migrates through a native engine it downloads, which these machines
 * cannot fetch, so src/adapters/migrations.ts drives the same engine in
 * process. Its wasm-bindgen entry points (`__wbg_set_wasm`,
 * `__wbindgen_start`) are generated glue, not API: an upgrade that renames
 * them stops the start here with one line saying so (the package is pinned
 * to an exact version in package.json for this reason).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';

const moduleName = '@prisma/schema-engine-wasm/schema_engine_bg';

// The wasm module keeps global state: instantiate it once per process.
let runtime: Promise<any> | undefined;

/** The schema engine's JavaScript side, its wasm instantiated and started. */
export function loadSchemaEngine(): Promise<any> {
  runtime ??= (async () => {
    const rt: any = await import(moduleName);
    if (typeof rt.__wbg_set_wasm !== 'function' || typeof rt.SchemaEngine?.new !== 'function') {
      throw new Error(`${moduleName} no longer exports __wbg_set_wasm and SchemaEngine.new: this version of @prisma/schema-engine-wasm cannot run migrations here (see src/internals/prisma-schema-engine.ts)`);
    }
    const wasmFile = path.join(path.dirname(createRequire(import.meta.url).resolve(moduleName)), 'schema_engine_bg.wasm');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(await fs.readFile(wasmFile)), { './schema_engine_bg.js': rt });
    const start = (instance.exports as Record<string, unknown>).__wbindgen_start;
    if (typeof start !== 'function') throw new Error(`${moduleName}: the wasm no longer exports __wbindgen_start (see src/internals/prisma-schema-engine.ts)`);
    rt.__wbg_set_wasm(instance.exports);
    start();
    return rt;
  })();
  return runtime;
}
