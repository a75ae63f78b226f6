/**
 * `npm run build` (and `npm start`, `npm test`, `npm run bench` before they
 * start a server): compiles the server, and the bench's baseline servers and
 * probe, to JavaScript under dist/ with tsc (tsconfig.build.json), one file
 * per module as in src/. Node then runs plain JavaScript: nothing is compiled
 * at start-up, and no tsx loader thread (a second V8 heap) sits in every
 * server, about 25 MB of RSS. Types are checked by `npm run typecheck`.
 *
 * Our code is not bundled: esbuild's bundler turns every top-level const,
 * let and class into a var, which V8 cannot treat as constant, and a bundled
 * server cost more CPU per delivery than the same modules run one file each.
 * The libraries that ship hundreds of small ES modules and run at start-up
 * more than per message ({@link vendored}) are bundled into dist/vendor/ and
 * the server's imports of them point there: Node's ES module loader spends
 * about a millisecond of CPU per file, and those 600 files cost 0.9 s of
 * CPU at every start against 0.25 s bundled (docs/performance.md).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { projectPath } from '../src/utils/project-path.ts';

const root = projectPath('.');

/**
 * Compiles everything tsconfig.build.json includes into dist/. tsc writes
 * file by file, so it writes beside dist/ and the two folders are then
 * swapped: a server starting meanwhile (`npm start` while `npm test` runs)
 * loads the old build or the new one, not half of one.
 */
export function build(): void {
  const dist = path.join(root, 'dist');
  const next = `${dist}.next-${process.pid}`;
  const old = `${dist}.old-${process.pid}`;
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', next], { cwd: root, stdio: 'inherit' });
    bundleVendored(next);
  } catch (error) {
    rmSync(next, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Packages bundled into dist/vendor/ for the server (not for the bench's
 * baselines, which import them as they are): ES modules only, as a bundle
 * cannot name what a CommonJS module exports. graphql stays outside, the one
 * CommonJS copy every library must share.
 */
export const vendored = [
  'graphql-yoga',
  '@graphql-yoga/plugin-graphql-sse',
  '@pothos/core',
  '@pothos/plugin-relay',
  '@pothos/plugin-prisma',
  'zod',
  'jose',
  'graphql-scalars',
];

/** A regular expression's alternation of the {@link vendored} package names. */
export const vendoredNames = vendored.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');

/** The compiled JavaScript files under `dir`, at any depth. */
export const javaScriptFilesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.js'))
    .map((file) => path.join(dir, file));

/** dist/vendor/'s file for a vendored package. */
export const vendorFile = (name: string): string => `${name.replace(/^@/, '').replace(/\//g, '__')}.js`;

/**
 * Bundles {@link vendored} into `out`/vendor/ (one entry each, shared code
 * split into chunks, so each library exists once), then points the compiled
 * server's imports of them (`out`/src/) at those files.
 */
function bundleVendored(out: string): void {
  const vendorDir = path.join(out, 'vendor');
  // One entry module per package, re-exporting it, beside the output (so the project's node_modules resolves it).
  const entryDir = path.join(out, 'vendor-entries');
  mkdirSync(entryDir, { recursive: true });
  const entryPoints = vendored.map((name) => {
    const entry = path.join(entryDir, vendorFile(name));
    // `export *` leaves out the default export; the namespace's is undefined for a package without one.
    writeFileSync(entry, `export * from ${JSON.stringify(name)};\nimport * as all from ${JSON.stringify(name)};\nexport default all.default;\n`);
    return entry;
  });
  try {
    buildSync({
      entryPoints,
      outdir: vendorDir,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // graphql must stay the one CommonJS copy every library shares; Prisma's runtime finds its files by path.
      external: ['graphql', 'graphql/*', '@prisma/*', '.prisma/*'],
      // CommonJS code inside the bundle calls require.
      banner: { js: "import { createRequire as __vendorRequire } from 'node:module'; const require = __vendorRequire(import.meta.url);" },
      logLevel: 'warning',
      logOverride: { 'import-is-undefined': 'silent' },
    });
  } finally {
    rmSync(entryDir, { recursive: true, force: true });
  }
  const specifier = new RegExp(`(\\bfrom\\s*|\\bimport\\s*\\(\\s*)(['"])(${vendoredNames})\\2`, 'g');
  for (const file of javaScriptFilesUnder(path.join(out, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const changed = text.replace(specifier, (_, before: string, quote: string, name: string) => {
      let relative = path.relative(path.dirname(file), path.join(vendorDir, vendorFile(name)));
      if (!relative.startsWith('.')) relative = `./${relative}`;
      return `${before}${quote}${relative}${quote}`;
    });
    if (changed !== text) writeFileSync(file, changed);
  }
}

/** The compiled file of `source`, a TypeScript file under the project (absolute, or relative to its root). */
export const compiledPath = (source: string): string => path.join(root, 'dist', path.relative(root, path.resolve(root, source)).replace(/\.ts$/, '.js'));

/** What `npm start` (and every test server) runs. */
export const serverEntry = compiledPath('src/main.ts');

if (process.argv[1] === fileURLToPath(import.meta.url)) build();
