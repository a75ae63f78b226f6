/** Relay global IDs of our nodes: decoding with a clear refusal naming the argument. */
import { decodeGlobalID } from '@pothos/plugin-relay';
import { badInput } from './errors.ts';

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
