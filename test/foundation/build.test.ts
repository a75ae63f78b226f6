/**
 * What `npm run build` makes (scripts/build.ts; global-setup.ts builds once
 * per run, and every test server runs it): the libraries bundled into
 * dist/vendor/ are the copies the server loads, so no compiled module of
 * src/ may still import one by its package name (two copies of a library,
 * one of them loaded file by file), and each bundle exports what the package
 * does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { javaScriptFilesUnder, vendored, vendoredNames, vendorFile } from '../../scripts/build.ts';
import { projectPath } from '../../src/utils/project-path.ts';

const dist = projectPath('dist');

describe('the build', () => {
  it('points every import of a bundled library in dist/src at dist/vendor', () => {
    const bare = new RegExp(`(?:\\bfrom\\s*|\\bimport\\s*\\(\\s*)['"](${vendoredNames})(?:/[^'"]*)?['"]`);
    const offenders = javaScriptFilesUnder(path.join(dist, 'src')).filter((file) => bare.test(fs.readFileSync(file, 'utf8')));
    expect(offenders.map((file) => path.relative(dist, file))).toEqual([]);
    const pointing = javaScriptFilesUnder(path.join(dist, 'src')).filter((file) => /from '(\.\.\/)+vendor\//.test(fs.readFileSync(file, 'utf8')));
    expect(pointing.length).toBeGreaterThan(10);
  });

  it('bundles each library with the exports the package has, default included', async () => {
    for (const name of vendored) {
      const [bundled, original] = await Promise.all([import(path.join(dist, 'vendor', vendorFile(name))), import(name)]);
      // A bundle always has a default export: undefined where the package has none.
      const names = (module: Record<string, unknown>) => Object.keys(module).filter((key) => key !== 'default' || module[key] !== undefined).sort();
      expect([name, names(bundled)]).toEqual([name, names(original)]);
    }
  });
});
