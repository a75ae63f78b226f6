/** `npm run schema:print`: writes schema/schema.graphql from the Pothos schema. */
import fs from 'node:fs/promises';
import { printedSchema } from '../src/schema.ts';

await fs.mkdir('schema', { recursive: true });
await fs.writeFile('schema/schema.graphql', printedSchema());
console.log('wrote schema/schema.graphql');
