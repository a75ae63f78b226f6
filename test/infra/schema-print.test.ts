/**
 * schema/schema.graphql is printed from the code: fail when the committed
 * file is stale, or when it breaks the public contract. The contract is kept
 * in schema/contract.graphql (a copy of the team's shared/contract.graphql,
 * so that any clone can check it); where the shared file sits beside the
 * checkout, the copy must be identical to it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildSchema, findBreakingChanges } from 'graphql';
import { printedSchema } from '../../src/schema.ts';

const contractCopy = fileURLToPath(new URL('../../schema/contract.graphql', import.meta.url));
const sharedContract = fileURLToPath(new URL('../../../shared/contract.graphql', import.meta.url));

describe('schema/schema.graphql', () => {
  it('is what `npm run schema:print` prints now', () => {
    expect(readFileSync('schema/schema.graphql', 'utf8'), 'run `npm run schema:print` and commit the result').toBe(printedSchema());
  });

  it('breaks nothing in the public contract', () => {
    const contract = buildSchema(readFileSync(contractCopy, 'utf8'));
    expect(findBreakingChanges(contract, buildSchema(printedSchema()))).toEqual([]);
  });

  it.runIf(existsSync(sharedContract))('checks against the current shared contract', () => {
    expect(readFileSync(contractCopy, 'utf8'), 'copy shared/contract.graphql to schema/contract.graphql').toBe(readFileSync(sharedContract, 'utf8'));
  });
});
