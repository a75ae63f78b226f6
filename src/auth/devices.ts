/**
 * Device tokens (OWASP's device-cookie pattern): a successful login hands
 * the client a signed token naming the account and a fresh device id. A
 * later login for that account that presents it has a failure budget of its
 * own, so strangers' failures, which lock or slow everyone else, never lock
 * out a client that signed in before (src/auth/login-limits.ts).
 *
 * They are JWTs (fast-jwt, HS256) under a key derived from the access-token
 * signing key with HKDF: an access token never verifies as a device token nor
 * the reverse, and rotating the signing key retires device tokens too (their
 * holders then count as new clients until they sign in again).
 */
import { hkdfSync, randomUUID } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { SigningKey } from './tokens.ts';

export interface DeviceTokens {
  /** A new device token for `userId`, valid for DEVICE_TOKEN_TTL. */
  issue(userId: string): { token: string; expiresAt: Date };
  /** The device id of `token` when it is a valid, unexpired device token of `userId`; else null. */
  deviceOf(token: string | null | undefined, userId: string): string | null;
}

/** Longest device token accepted; anything longer is not one of ours and is not parsed. */
const MAX_TOKEN_LENGTH = 1024;

export function createDeviceTokens(key: SigningKey, ttlSeconds: number): DeviceTokens {
  const material = key.algorithm === 'HS256' ? key.secret : key.privateKey.export({ type: 'pkcs8', format: 'der' });
  const secret = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'switchboard device tokens', 32));
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
  const verify = createVerifier({ key: secret, algorithms: ['HS256'], cache: false });
  return {
    issue(userId) {
      const token = sign({ sub: userId, did: randomUUID(), typ: 'device' });
      return { token, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
    },
    deviceOf(token, userId) {
      if (!token || token.length > MAX_TOKEN_LENGTH) return null;
      try {
        const claims = verify(token) as Record<string, unknown>;
        return claims.typ === 'device' && claims.sub === userId && typeof claims.did === 'string' ? claims.did : null;
      } catch {
        return null;
      }
    },
  };
}
