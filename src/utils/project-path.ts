/**
 * Files the server reads at run time (migrations, the Prisma schema, the web
 * page's sources), found from the project's root: the same whether this
 * module runs from src/ under tsx or compiled into dist/src/.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const root = findRoot(path.dirname(fileURLToPath(import.meta.url)));

/** The absolute path of `relative` (e.g. "prisma/migrations") in the project. */
export const projectPath = (relative: string): string => path.join(root, relative);
