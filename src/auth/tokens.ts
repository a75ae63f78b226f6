/**
 * Access tokens: JWTs signed and verified with jose, `alg` pinned on
 * verify to the one JWT_ALGORITHM names. HS256 (the default) signs with a
 * shared secret; EdDSA signs with an Ed25519 private key, so that other
 * services can verify tokens from the public key alone (GET
 * /.well-known/jwks.json, src/auth/jwks.ts). JWT_PUBLIC_KEYS_FILE adds
 * public keys whose tokens are accepted too, JWT_ACCEPTED_SECRETS_FILE
 * secrets under HS256: keys are rotated without a moment when one instance
 * refuses another's tokens. Every token names its key in `kid`.
 * Claims: sub (user id), sid (session id), jti, roles, iat, exp; and
 * cnf.jkt (RFC 9449) when the token is bound to a client's key (DPoP).
 * Refresh tokens are opaque random strings, stored only as a SHA-256 hash.
 */
import { createHash, createPrivateKey, hkdfSync, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import { ConfigError, type Config } from '../core/config.ts';

export interface AccessClaims {
  userId: string;
  sessionId: string;
  tokenId: string;
  roles: string[];
  issuedAt: number;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** DPoP: the thumbprint of the key the token is bound to (`cnf.jkt`); absent for a Bearer token. */
  jkt?: string;
}

/** The public half of an Ed25519 signing key, as a JSON Web Key (RFC 8037). */
export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  /** The key's RFC 7638 thumbprint; also the `kid` of every token it signed. */
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface TokenSigner {
  /** With `jkt`, the token is bound to that key (DPoP, `cnf.jkt`). */
  sign(claims: { userId: string; sessionId: string; roles: string[]; jkt?: string | null }): Promise<{ token: string; expiresAt: Date }>;
  /** The token's claims, or null when it is malformed, wrongly signed, of another alg or expired. */
  verify(token: string): Promise<AccessClaims | null>;
  /**
   * The keys that verify this server's tokens: under EdDSA the signing key's
   * public half first, then those of JWT_PUBLIC_KEYS_FILE; none under HS256,
   * whose secret is never published.
   */
  publicKeys: PublicJwk[];
}

export type SigningKey =
  | {
      algorithm: 'HS256';
      secret: Buffer;
      /** Other secrets (the one being rotated in or out) whose tokens are accepted too. */
      alsoAccepted: Buffer[];
    }
  | {
      algorithm: 'EdDSA';
      privateKey: KeyObject;
      /** Public keys of other signing keys (the one being rotated in or out) whose tokens are accepted too. */
      alsoAccepted: KeyObject[];
    };

/** Reads `file`, first writing `create()` into it (mode 600) when it does not exist yet; the first of racing writers wins. */
async function readOrCreate(file: string, create: () => string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, create(), { flag: 'wx', mode: 0o600 }).catch((error) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return fs.readFile(file, 'utf8');
}

async function readKeyFile(variable: string, file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

/**
 * Where a generated key is kept: `readOrCreate(name, create)` returns the key
 * stored under `name`, first storing `create()` when there is none; the first
 * of racing callers wins and every caller gets its key.
 */
export type GeneratedKeyStore = (name: 'jwt-secret' | 'jwt-ed25519.pem', create: () => string) => Promise<string>;

/** The development default: a file in DATA_DIR (mode 600), one per instance. */
export const dataDirKeyStore =
  (dataDir: string): GeneratedKeyStore =>
  (name, create) =>
    readOrCreate(path.resolve(dataDir, name), create);

/** Whether the configuration names the key of JWT_ALGORITHM (else one is generated). */
export const hasConfiguredKey = (config: Pick<Config, 'JWT_ALGORITHM' | 'JWT_SECRET' | 'JWT_SECRET_FILE' | 'JWT_PRIVATE_KEY' | 'JWT_PRIVATE_KEY_FILE'>): boolean =>
  config.JWT_ALGORITHM === 'EdDSA' ? Boolean(config.JWT_PRIVATE_KEY || config.JWT_PRIVATE_KEY_FILE) : Boolean(config.JWT_SECRET || config.JWT_SECRET_FILE);

/**
 * The signing key of JWT_ALGORITHM. HS256: JWT_SECRET, else the contents of
 * JWT_SECRET_FILE. EdDSA: the PKCS#8 PEM in JWT_PRIVATE_KEY, else in
 * JWT_PRIVATE_KEY_FILE. Else (config refuses production without one) a
 * random key generated once and kept in `store`: DATA_DIR by default, the
 * database in scaled mode (src/auth/shared-key.ts), so that instances on one
 * database share it.
 * A key that cannot be used is a ConfigError naming its variable, never showing the key.
 */
export async function loadSigningKey(
  config: Pick<Config, 'JWT_ALGORITHM' | 'JWT_SECRET' | 'JWT_SECRET_FILE' | 'JWT_ACCEPTED_SECRETS_FILE' | 'JWT_PRIVATE_KEY' | 'JWT_PRIVATE_KEY_FILE' | 'JWT_PUBLIC_KEYS_FILE' | 'DATA_DIR'>,
  store: GeneratedKeyStore = dataDirKeyStore(config.DATA_DIR),
): Promise<SigningKey> {
  if (config.JWT_ALGORITHM === 'EdDSA') {
    const [name, pem] = await ed25519Pem(config, store);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(pem);
    } catch {
      throw new ConfigError(`invalid configuration: ${name}: must hold an Ed25519 private key in PEM (PKCS#8)`);
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new ConfigError(`invalid configuration: ${name}: must hold an Ed25519 private key, not ${privateKey.asymmetricKeyType}`);
    }
    const alsoAccepted = config.JWT_PUBLIC_KEYS_FILE ? publicKeysIn(config.JWT_PUBLIC_KEYS_FILE, await readKeyFile('JWT_PUBLIC_KEYS_FILE', config.JWT_PUBLIC_KEYS_FILE)) : [];
    return { algorithm: 'EdDSA', privateKey, alsoAccepted };
  }
  const alsoAccepted = config.JWT_ACCEPTED_SECRETS_FILE ? secretsIn(config.JWT_ACCEPTED_SECRETS_FILE, await readKeyFile('JWT_ACCEPTED_SECRETS_FILE', config.JWT_ACCEPTED_SECRETS_FILE)) : [];
  return { algorithm: 'HS256', secret: Buffer.from(await hs256Secret(config, store)), alsoAccepted };
}

/** HS256's secret: JWT_SECRET, JWT_SECRET_FILE's contents, or one generated once into `store`. */
async function hs256Secret(config: Pick<Config, 'JWT_SECRET' | 'JWT_SECRET_FILE'>, store: GeneratedKeyStore): Promise<string> {
  if (config.JWT_SECRET) return config.JWT_SECRET;
  if (config.JWT_SECRET_FILE) {
    const secret = (await readKeyFile('JWT_SECRET_FILE', config.JWT_SECRET_FILE)).trim();
    if (secret.length < 32) throw new ConfigError(`invalid configuration: JWT_SECRET_FILE: ${config.JWT_SECRET_FILE} must hold at least 32 characters`);
    return secret;
  }
  return (await store('jwt-secret', () => randomBytes(48).toString('base64url'))).trim();
}

/** The secrets of a file of them, one per line (blank lines and lines starting with # skipped), each held to JWT_SECRET's 32 characters. */
function secretsIn(file: string, text: string): Buffer[] {
  const lines = text.split('\n').map((line, index) => ({ secret: line.trim(), number: index + 1 }));
  const secrets = lines.filter(({ secret }) => secret !== '' && !secret.startsWith('#'));
  if (secrets.length === 0) throw new ConfigError(`invalid configuration: JWT_ACCEPTED_SECRETS_FILE: ${file} holds no secret`);
  return secrets.map(({ secret, number }) => {
    if (secret.length < 32) throw new ConfigError(`invalid configuration: JWT_ACCEPTED_SECRETS_FILE: ${file}: line ${number} must hold at least 32 characters`);
    return Buffer.from(secret);
  });
}

/**
 * The `kid` of an HS256 secret: part of a hash of it. Whoever holds a token
 * can already test guesses at the secret against its signature, so naming it
 * by its hash gives nothing more away.
 */
const secretKid = (secret: Buffer): string => createHash('sha256').update('switchboard:hs256:').update(secret).digest('base64url').slice(0, 22);

/** Where EdDSA's private key comes from (named for errors) and its PEM text. */
async function ed25519Pem(config: Pick<Config, 'JWT_PRIVATE_KEY' | 'JWT_PRIVATE_KEY_FILE'>, store: GeneratedKeyStore): Promise<[string, string]> {
  // An environment variable often carries the PEM's line breaks as the two characters \n.
  if (config.JWT_PRIVATE_KEY) return ['JWT_PRIVATE_KEY', config.JWT_PRIVATE_KEY.replaceAll('\\n', '\n')];
  if (config.JWT_PRIVATE_KEY_FILE) return [`JWT_PRIVATE_KEY_FILE: ${config.JWT_PRIVATE_KEY_FILE}`, await readKeyFile('JWT_PRIVATE_KEY_FILE', config.JWT_PRIVATE_KEY_FILE)];
  const generate = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return ['the generated key', await store('jwt-ed25519.pem', generate)];
}

/** The Ed25519 public keys of a file of PEM blocks; a private key there is refused, not used: it does not belong in a file of public ones. */
function publicKeysIn(file: string, text: string): KeyObject[] {
  const blocks = text.match(/-----BEGIN [A-Z ]+-----[^-]+-----END [A-Z ]+-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`invalid configuration: JWT_PUBLIC_KEYS_FILE: ${file} holds no PEM public key`);
  return blocks.map((block, index) => {
    const which = `JWT_PUBLIC_KEYS_FILE: ${file}: key ${index + 1}`;
    if (!block.startsWith('-----BEGIN PUBLIC KEY-----')) throw new ConfigError(`invalid configuration: ${which} must be a public key (BEGIN PUBLIC KEY)`);
    let key: KeyObject;
    try {
      key = createPublicKey(block);
    } catch {
      throw new ConfigError(`invalid configuration: ${which} is not a readable PEM public key`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`invalid configuration: ${which} must be an Ed25519 key, not ${key.asymmetricKeyType}`);
    return key;
  });
}

/** The JWK of an Ed25519 public key, its `kid` the RFC 7638 thumbprint. */
function publicJwkOf(publicKey: KeyObject): PublicJwk {
  const { x } = publicKey.export({ format: 'jwk' });
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const kid = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url');
  return { kty: 'OKP', crv: 'Ed25519', x: x!, kid, alg: 'EdDSA', use: 'sig' };
}

export function createTokenSigner(key: SigningKey, accessTokenTtlSeconds: number): TokenSigner {
  // One key per accepted key, found by the token's kid; the signing key's own first. Each is imported
  // into WebCrypto once (jose given a KeyObject converts it at every call).
  // The claims' presence and types are checked once, below.
  const imported = new Map<string, Promise<CryptoKey>>();
  const publicKeys: PublicJwk[] = [];
  if (key.algorithm === 'EdDSA') {
    for (const publicKey of [createPublicKey(key.privateKey), ...key.alsoAccepted]) {
      const jwk = publicJwkOf(publicKey);
      if (imported.has(jwk.kid)) continue;
      publicKeys.push(jwk);
      imported.set(jwk.kid, crypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), { name: 'Ed25519' }, false, ['verify']));
    }
  } else {
    for (const secret of [key.secret, ...key.alsoAccepted]) {
      const kid = secretKid(secret);
      if (!imported.has(kid)) imported.set(kid, crypto.subtle.importKey('raw', new Uint8Array(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']));
    }
  }
  const verifying = Promise.all([...imported].map(async ([kid, pending]) => [kid, await pending] as const)).then((pairs) => new Map(pairs));
  const ownKid = imported.keys().next().value!;
  const alg = key.algorithm;
  const signingKey =
    key.algorithm === 'EdDSA'
      ? crypto.subtle.importKey('pkcs8', key.privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'Ed25519' }, false, ['sign'])
      : crypto.subtle.importKey('raw', new Uint8Array(key.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  // Nothing waits on a key that failed to import unless it is used.
  signingKey.catch(() => {});
  verifying.catch(() => {});
  // A token without a kid (HS256 tokens made before tokens had one), or with one we do not know, meets the
  // signing key, which refuses it unless that key signed it.
  const verifyToken = async (token: string) => {
    const keys = await verifying;
    const { payload } = await jwtVerify(token, ({ kid }) => keys.get(kid ?? '') ?? keys.get(ownKid)!, { algorithms: [alg] });
    return payload as Record<string, unknown>;
  };
  return {
    publicKeys,
    async sign({ userId, sessionId, roles, jkt }) {
      const now = Date.now() / 1000;
      // Rounded up: a token lives at least ACCESS_TOKEN_TTL seconds, never a fraction of a second less.
      const expiresAt = Math.ceil(now + accessTokenTtlSeconds);
      const token = await new SignJWT({ sid: sessionId, jti: randomUUID(), roles, ...(jkt ? { cnf: { jkt } } : {}) })
        .setProtectedHeader({ alg, typ: 'JWT', kid: ownKid })
        .setSubject(userId)
        .setIssuedAt(Math.floor(now))
        .setExpirationTime(expiresAt)
        .sign(await signingKey);
      return { token, expiresAt: new Date(expiresAt * 1000) };
    },
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        payload = await verifyToken(token);
      } catch {
        return null;
      }
      const { sub, sid, jti, roles, iat, exp } = payload;
      if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string') return null;
      if (typeof iat !== 'number' || typeof exp !== 'number') return null;
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) return null;
      const claims: AccessClaims = { userId: sub, sessionId: sid, tokenId: jti, roles, issuedAt: iat, expiresAt: exp };
      // DPoP: a `cnf` claim that is there but not a readable thumbprint makes the token unusable, never a Bearer token.
      if (payload.cnf !== undefined) {
        const jkt = (payload.cnf as { jkt?: unknown } | null)?.jkt;
        if (typeof jkt !== 'string' || jkt.length === 0) return null;
        claims.jkt = jkt;
      }
      return claims;
    },
  };
}

/** A new opaque refresh token: 256 random bits. */
export const newRefreshToken = (): string => randomBytes(32).toString('base64url');

export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * The HS256 key (jose) of another kind of token (device tokens, second-factor
 * challenges): 32 bytes derived from the signing key with HKDF under
 * `purpose`, so such a token never verifies as an access token nor as one of
 * another purpose, and rotating the signing key retires them all. Imported
 * into WebCrypto once: jose given the bytes would import them at every call.
 */
export function derivedKey(key: SigningKey, purpose: string): Promise<CryptoKey> {
  const material = key.algorithm === 'HS256' ? key.secret : key.privateKey.export({ type: 'pkcs8', format: 'der' });
  const secret = new Uint8Array(hkdfSync('sha256', material, Buffer.alloc(0), `switchboard ${purpose}`, 32));
  const imported = crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  // Nothing waits on a key that failed to import unless it is used.
  imported.catch(() => {});
  return imported;
}
