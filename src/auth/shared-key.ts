/**
 * The generated signing key of scaled mode (DATABASE_URL set, no JWT_SECRET
 * or JWT_PRIVATE_KEY): kept in the database (SigningKey), so that every
 * instance on it signs and verifies with the same key. A key per instance,
 * in each one's DATA_DIR, would make each refuse the others' tokens.
 */
import { ConfigError } from '../core/config.ts';
import type { Database } from '../adapters/database.ts';
import type { GeneratedKeyStore } from './tokens.ts';

/** Stored keys, by the file name the development store uses, as the algorithm they are for. */
const algorithmOf = { 'jwt-secret': 'HS256', 'jwt-ed25519.pem': 'EdDSA' } as const;

export function databaseKeyStore(db: Database): GeneratedKeyStore {
  return async (name, create) => {
    const algorithm = algorithmOf[name];
    try {
      // INSERT ... ON CONFLICT DO NOTHING: of instances starting at once, the first insert wins and all read it.
      await db.signingKey.createMany({ data: [{ algorithm, key: create() }], skipDuplicates: true });
      const stored = await db.signingKey.findUnique({ where: { algorithm } });
      if (stored) return stored.key;
    } catch (error) {
      if ((error as { code?: string }).code !== 'P2021') throw error;
    }
    throw new ConfigError(
      'invalid configuration: JWT_SECRET (or JWT_PRIVATE_KEY) is unset and the database has no SigningKey table to keep a shared key in: run `npm run db:migrate`, or set the key',
    );
  };
}
