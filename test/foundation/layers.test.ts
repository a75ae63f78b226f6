/**
 * The import graph of src/: every import points down the layers below (or
 * sideways, within one layer), and no two folders import each other, even
 * through others. A new module goes in the lowest layer that holds what it
 * imports; a new folder needs its line here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../../src/utils/project-path.ts';

/** Lowest first. A module is a folder of src/ or a file at its root. */
const layers: string[][] = [
  ['utils', 'internals', 'generated'],
  ['core'],
  ['adapters'],
  ['web'],
  ['plugins'],
  ['builder.ts', 'context.ts'],
  ['slots'],
  ['auth'],
  ['presence'],
  ['rooms'],
  ['messages'],
  ['operations'],
  ['realtime', 'app.ts', 'schema.ts'],
  ['server.ts'],
  ['main.ts'],
];

/**
 * The one import that points up: the GraphQL context names the type of the
 * application it carries (type only: nothing of app.ts runs because of it).
 */
const allowedUpward = new Set(['context.ts -> app.ts (type)']);

const src = projectPath('src');
const rank = new Map(layers.flatMap((modules, index) => modules.map((module) => [module, index] as const)));

interface Edge {
  from: string;
  to: string;
  file: string;
  typeOnly: boolean;
}

function moduleOf(file: string): string {
  return path.relative(src, file).split(path.sep)[0]!;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function edges(): Edge[] {
  const found: Edge[] = [];
  const pattern = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const file of sourceFiles(src)) {
    for (const match of fs.readFileSync(file, 'utf8').matchAll(pattern)) {
      const target = path.resolve(path.dirname(file), match[3] ?? match[4]!);
      if (!target.startsWith(src + path.sep)) continue;
      const from = moduleOf(file);
      const to = moduleOf(target);
      if (from !== to) found.push({ from, to, file: path.relative(src, file), typeOnly: Boolean(match[2]) });
    }
  }
  return found;
}

describe('import layers of src/', () => {
  const all = edges();

  it('every module has a layer', () => {
    const modules = new Set(fs.readdirSync(src).filter((name) => name.endsWith('.ts') || fs.statSync(path.join(src, name)).isDirectory()));
    expect([...modules].filter((module) => !rank.has(module))).toEqual([]);
  });

  it('imports point down or sideways, none up', () => {
    const upward = all
      .filter(({ from, to }) => rank.get(to)! > rank.get(from)!)
      .filter(({ from, to, typeOnly }) => !(typeOnly && allowedUpward.has(`${from} -> ${to} (type)`)))
      .map(({ from, to, file }) => `${file} imports ${to} (layer ${rank.get(to)} above ${rank.get(from)})`);
    expect(upward).toEqual([]);
  });

  it('no folder cycle', () => {
    const graph = new Map<string, Set<string>>();
    for (const { from, to, typeOnly } of all) {
      if (typeOnly && allowedUpward.has(`${from} -> ${to} (type)`)) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
    const reaches = (start: string, goal: string, seen = new Set<string>()): boolean => {
      for (const next of graph.get(start) ?? []) {
        if (next === goal) return true;
        if (!seen.has(next)) {
          seen.add(next);
          if (reaches(next, goal, seen)) return true;
        }
      }
      return false;
    };
    const folders = [...graph.keys()].filter((module) => !module.endsWith('.ts'));
    expect(folders.filter((folder) => reaches(folder, folder))).toEqual([]);
  });
});
