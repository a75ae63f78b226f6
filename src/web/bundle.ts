/**
 * Browser bundles built from our own TypeScript (the page, the SDK and
 * graphql-ws) with esbuild on first request and kept in memory: the browser
 * cannot import bare npm specifiers, and the machine may have no internet,
 * so nothing is loaded from a CDN.
 */
import { build } from 'esbuild';
import { projectPath } from '../utils/project-path.ts';

/** Resolves a path relative to the repository's src/web/ folder. */
export const webPath = (relative: string): string => projectPath(`src/web/${relative}`);

const bundles = new Map<string, Promise<string>>();

/**
 * The ES module bundle of `entry` (an absolute path), minified, built once
 * per process; a failed build is retried on the next request.
 */
export function browserBundle(entry: string): Promise<string> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      write: false,
      legalComments: 'none',
      logLevel: 'silent',
    }).then((result) => result.outputFiles[0]!.text);
    bundle.catch(() => bundles.delete(entry));
    bundles.set(entry, bundle);
  }
  return bundle;
}
