/**
 * Access tokens: HS256 JWTs signed and verified with fast-jwt, `alg` pinned
 * on verify. Claims: sub (user id), sid (session id), jti, roles, iat, exp.
 * Refresh tokens are opaque random strings, stored only as a SHA-256 hash.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createSigner, createVerifier } from 'fast-jwt';
import type { Config } from '../infra/config.ts';

const algorithm = 'HS256';

export interface AccessClaims {
  userId: string;
  sessionId: string;
  tokenId: string;
  roles: string[];
  issuedAt: number;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export interface TokenSigner {
  sign(claims: { userId: string; sessionId: string; roles: string[] }): Promise<{ token: string; expiresAt: Date }>;
  /** The token's claims, or null when it is malformed, wrongly signed, of another alg or expired. */
  verify(token: string): Promise<AccessClaims | null>;
}

/**
 * The signing key: JWT_SECRET, else the contents of JWT_SECRET_FILE, else
 * (development only; config refuses production without one) a random secret
 * generated once and kept in DATA_DIR.
 */
export async function loadSigningKey(config: Pick<Config, 'JWT_SECRET' | 'JWT_SECRET_FILE' | 'DATA_DIR'>): Promise<Uint8Array> {
  if (config.JWT_SECRET) return new TextEncoder().encode(config.JWT_SECRET);
  if (config.JWT_SECRET_FILE) {
    const secret = (await fs.readFile(config.JWT_SECRET_FILE, 'utf8')).trim();
    if (secret.length < 32) throw new Error(`JWT_SECRET_FILE: ${config.JWT_SECRET_FILE} must hold at least 32 characters`);
    return new TextEncoder().encode(secret);
  }
  const file = path.resolve(config.DATA_DIR, 'jwt-secret');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 }).catch((error) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return new TextEncoder().encode((await fs.readFile(file, 'utf8')).trim());
}

export function createTokenSigner(secret: Uint8Array, accessTokenTtlSeconds: number): TokenSigner {
  const key = Buffer.from(secret);
  // Synchronous HMAC through node:crypto: jose verifies through WebCrypto, a job handed to the thread
  // pool and back, which cost about a sixth of an authenticated connect's CPU.
  const signToken = createSigner({ key, algorithm });
  // The claims' presence and types are checked once, below.
  const verifyToken = createVerifier({ key, algorithms: [algorithm], cache: false });
  return {
    async sign({ userId, sessionId, roles }) {
      const now = Date.now() / 1000;
      // Rounded up: a token lives at least ACCESS_TOKEN_TTL seconds, never a fraction of a second less.
      const expiresAt = Math.ceil(now + accessTokenTtlSeconds);
      const token = signToken({ sub: userId, sid: sessionId, jti: randomUUID(), roles, iat: Math.floor(now), exp: expiresAt });
      return { token, expiresAt: new Date(expiresAt * 1000) };
    },
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        payload = verifyToken(token);
      } catch {
        return null;
      }
      const { sub, sid, jti, roles, iat, exp } = payload;
      if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string') return null;
      if (typeof iat !== 'number' || typeof exp !== 'number') return null;
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) return null;
      return { userId: sub, sessionId: sid, tokenId: jti, roles, issuedAt: iat, expiresAt: exp };
    },
  };
}

/** A new opaque refresh token: 256 random bits. */
export const newRefreshToken = (): string => randomBytes(32).toString('base64url');

export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');
