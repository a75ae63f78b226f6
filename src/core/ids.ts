/** Relay global IDs of our nodes: decoding with a clear refusal naming the argument. */
import { randomUUID } from 'node:crypto';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { badInput } from './errors.ts';

/** The largest value of a PostgreSQL `integer` (and of GraphQL's Int): sequence numbers and counts above it cannot exist. */
export const maxInt32 = 2 ** 31 - 1;

/** Our database ids are UUIDs. */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The database id inside `globalId`, which must be a `typename` node id; else BAD_USER_INPUT on `field`. */
export function idOf(globalId: string, typename: string, field: string): string {
  try {
    const { typename: found, id } = decodeGlobalID(globalId);
    if (found === typename && uuidPattern.test(id)) return id;
  } catch {
    // Not base64 or not "Type:id": refused below like any other wrong id.
  }
  throw badInput(field, `Not a valid ${typename} id.`);
}

/**
 * A new UUID version 7 (RFC 9562: 48-bit Unix milliseconds, then random
 * bits), as Prisma's `@default(uuid(7))` makes, for rows inserted in SQL.
 * Built on randomUUID, which draws from a cached entropy pool.
 */
export function uuidv7(): string {
  const random = randomUUID();
  const ms = Date.now().toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${random.slice(15)}`;
}
