/**
 * client/gql/ is what GraphQL Code Generator makes from the committed schema
 * and the documents in client/: regenerate in memory and compare, so a
 * schema or document change without `npm run codegen` fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('generated client', () => {
  it('client/gql matches a fresh generation (run `npm run codegen` when this fails)', async () => {
    const outputs: { filename: string; content: string }[] = await generate({ ...config, cwd: root, silent: true }, false);
    expect(outputs.length).toBeGreaterThan(0);
    const generated = new Map(outputs.map((o) => [path.resolve(root, o.filename), o.content]));
    const committed = readdirSync(path.join(root, 'client/gql')).map((f) => path.join(root, 'client/gql', f));
    expect(committed.sort()).toEqual([...generated.keys()].sort());
    for (const [file, content] of generated) expect(readFileSync(file, 'utf8'), `${path.relative(root, file)} is stale`).toBe(content);
  });

  it('types the documents the SDK sends', () => {
    const types = readFileSync(path.join(root, 'client/gql/graphql.ts'), 'utf8');
    for (const name of ['LoginDocument', 'RefreshDocument', 'RoomMessagesDocument', 'SendMessageDocument', 'SlotsChangedDocument']) {
      expect(types).toContain(`export const ${name} = new TypedDocumentString(`);
    }
  });
});
