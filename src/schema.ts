/**
 * The schema: the builder plus every domain's types, imported for their
 * side effects, in dependency order.
 */
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './auth/schema.ts';
import './auth/second-factor-schema.ts';
import './slots/schema.ts';
import './presence/schema.ts';
import './rooms/schema.ts';
import './messages/schema.ts';
import './operations/schema.ts';

export const schema = builder.toSchema();

/** The SDL committed as schema/schema.graphql. */
export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
