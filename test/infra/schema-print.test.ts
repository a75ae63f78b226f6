/** schema/schema.graphql is printed from the code: fail when the committed file is stale. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildSchema, findBreakingChanges } from 'graphql';
import { printedSchema } from '../../src/schema.ts';

describe('schema/schema.graphql', () => {
  it('is what `npm run schema:print` prints now', () => {
    expect(readFileSync('schema/schema.graphql', 'utf8'), 'run `npm run schema:print` and commit the result').toBe(printedSchema());
  });

  it('breaks nothing in the public contract', () => {
    const contract = buildSchema(readFileSync('../shared/contract.graphql', 'utf8'));
    const served = buildSchema(printedSchema());
    const conflicting = findBreakingChanges(contract, served).filter((c) => !c.type.endsWith('_REMOVED') && c.type !== 'TYPE_REMOVED_FROM_UNION');
    expect(conflicting).toEqual([]);
  });
});
