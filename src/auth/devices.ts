/**
 * Device tokens (OWASP's device-cookie pattern): a successful login hands
 * the client a signed token naming the account and a fresh device id. A
 * later login for that account that presents it has a failure budget of its
 * own, so strangers' failures, which lock or slow everyone else, never lock
 * out a client that signed in before (src/auth/login-limits.ts).
 *
 * They are JWTs (jose, HS256) under a key derived from the access-token
 * signing key with HKDF: an access token never verifies as a device token nor
 * the reverse, and rotating the signing key retires device tokens too (their
 * holders then count as new clients until they sign in again).
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { derivedKey, type SigningKey } from './tokens.ts';

export interface DeviceTokens {
  /** A new device token for `userId`, valid for DEVICE_TOKEN_TTL. */
  issue(userId: string): Promise<{ token: string; expiresAt: Date }>;
  /** The device id of `token` when it is a valid, unexpired device token of `userId`; else null. */
  deviceOf(token: string | null | undefined, userId: string): Promise<string | null>;
}

/** Longest device token accepted; anything longer is not one of ours and is not parsed. */
const MAX_TOKEN_LENGTH = 1024;

export function createDeviceTokens(signingKey: SigningKey, ttlSeconds: number): DeviceTokens {
  const key = derivedKey(signingKey, 'device tokens');
  return {
    async issue(userId) {
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      const token = await new SignJWT({ did: randomUUID(), typ: 'device' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(await key);
      return { token, expiresAt };
    },
    async deviceOf(token, userId) {
      if (!token || token.length > MAX_TOKEN_LENGTH) return null;
      try {
        const { payload: claims } = await jwtVerify(token, await key, { algorithms: ['HS256'] });
        return claims.typ === 'device' && claims.sub === userId && typeof claims.did === 'string' ? claims.did : null;
      } catch {
        return null;
      }
    },
  };
}
