/**
 * `npm run build` (and `npm start`, `npm test`, `npm run bench` before they
 * start a server): the server as one ES module, dist/main.mjs, bundled by
 * esbuild from src/main.ts, with packages left in node_modules. Node then
 * runs plain JavaScript: nothing is compiled at start-up, and no tsx loader
 * thread (a second V8 heap) sits in every server, about 25 MB of RSS.
 * Not minified: stack traces keep our function names, and the bundle marks
 * each module's start with its source path.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundles each of `entryPoints` (paths from the project root) into `outdir`
 * as `<name>.mjs`. Each file is replaced in one step (written beside, then
 * renamed): a server starting meanwhile (a test, `npm start`) reads the old
 * bundle or the new one, never half of one.
 */
export async function bundle(entryPoints: string[], outdir: string): Promise<void> {
  const { outputFiles } = await build({
    absWorkingDir: root,
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    write: false,
  });
  for (const file of outputFiles) {
    await mkdir(path.dirname(file.path), { recursive: true });
    const beside = `${file.path}.${process.pid}.tmp`;
    await writeFile(beside, file.contents);
    await rename(beside, file.path);
  }
}

/** Builds dist/main.mjs; resolves to its absolute path. */
export async function buildServer(): Promise<string> {
  await bundle(['src/main.ts'], 'dist');
  return fileURLToPath(new URL('../dist/main.mjs', import.meta.url));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildServer();
