/**
 * `npm run build` (and `npm start`, `npm test`, `npm run bench` before they
 * start a server): compiles the server, and the bench's baseline servers and
 * probe, to JavaScript under dist/ with tsc (tsconfig.build.json), one file
 * per module as in src/. Node then runs plain JavaScript: nothing is compiled
 * at start-up, and no tsx loader thread (a second V8 heap) sits in every
 * server, about 25 MB of RSS. Types are checked by `npm run typecheck`.
 *
 * Not a bundle: esbuild's bundler turns every top-level const, let and class
 * into a var, which V8 cannot treat as constant, and a bundled server cost
 * more CPU per delivery than the same modules run one file each.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
  } catch (error) {
    rmSync(next, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
}

/** The compiled file of `source`, a TypeScript file under the project (absolute, or relative to its root). */
export const compiledPath = (source: string): string => path.join(root, 'dist', path.relative(root, path.resolve(root, source)).replace(/\.ts$/, '.js'));

/** What `npm start` (and every test server) runs. */
export const serverEntry = compiledPath('src/main.ts');

if (process.argv[1] === fileURLToPath(import.meta.url)) build();
