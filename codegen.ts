/**
 * GraphQL Code Generator: typed documents for the client SDK, from the served
 * schema (schema/schema.graphql, printed by `npm run schema:print`) and the
 * `graphql()` calls in client/. `npm run codegen` writes client/gql/; a test
 * regenerates in memory and fails when the committed files are stale.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['client/**/*.ts', '!client/gql/**'],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  importExtension: '.ts',
  generates: {
    'client/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        // Documents as plain strings: the SDK sends them as they are, so the
        // browser bundle needs no graphql-js printer.
        documentMode: 'string',
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
};

export default config;
