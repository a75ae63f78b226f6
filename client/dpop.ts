/**
 * DPoP (RFC 9449) for the SDK: a key pair the client holds (WebCrypto ECDSA
 * P-256, the private key not extractable, in browsers and Node alike) and
 * the proofs it signs with it, so that its tokens are useless to whoever
 * copies them.
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT, type JWK } from 'jose';
import { wantsDpop } from './errors.ts';

/** When the SDK binds its session to its key: always (`true`), never (`false`), or when the server asks (`'auto'`). */
export type DpopMode = boolean | 'auto';

/**
 * Sends once, bound (`bindFirst`) or not; in `'auto'`, an unbound send the server refuses for want of a
 * proof (DPOP_REQUIRED) is sent once more, bound. The password step and the refresh both go this way.
 */
export async function withDpopFallback<T>(mode: DpopMode, bindFirst: boolean, send: (bind: boolean) => Promise<T>): Promise<T> {
  try {
    return await send(bindFirst);
  } catch (error) {
    if (bindFirst || mode !== 'auto' || !wantsDpop(error)) throw error;
    return send(true);
  }
}

/** The thumbprint a JWT access token is bound to (`cnf.jkt`), if any; read, not verified: the server verifies. */
export function boundKeyOf(accessToken: string): string | null {
  try {
    const jkt = (decodeJwt(accessToken).cnf as { jkt?: unknown } | undefined)?.jkt;
    return typeof jkt === 'string' ? jkt : null;
  } catch {
    return null;
  }
}

/** base64url without padding, for a proof's `ath` and `jti`. */
function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The client's DPoP key: made on first use, or the pair a client kept to resume a bound session. */
export class DpopKey {
  private pair: Promise<{ pair: CryptoKeyPair; jwk: JWK }> | null;

  constructor(pair?: CryptoKeyPair) {
    this.pair = pair ? withJwk(pair) : null;
  }

  /** The pair and its public JWK, made now when there is none (the private key not extractable). */
  private current(): Promise<{ pair: CryptoKeyPair; jwk: JWK }> {
    this.pair ??= globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']).then(withJwk);
    return this.pair;
  }

  /** The key pair, for a client that keeps it (e.g. in IndexedDB) to resume its bound session elsewhere or later. */
  async keyPair(): Promise<CryptoKeyPair> {
    return (await this.current()).pair;
  }

  /** The key's RFC 7638 thumbprint (SHA-256, base64url): what a token's `cnf.jkt` and an OIDC start's `dpop_jkt` hold. */
  async thumbprint(): Promise<string> {
    return calculateJwkThumbprint((await this.current()).jwk, 'sha256');
  }

  /** Drops the pair: the next proof is signed by a new one. */
  forget(): void {
    this.pair = null;
  }

  /** A fresh DPoP proof for `htm` on `htu`; with `accessToken`, its hash as `ath`. */
  async proof(htm: string, htu: string, accessToken?: string): Promise<string> {
    const { pair, jwk } = await this.current();
    const jti = new Uint8Array(16);
    globalThis.crypto.getRandomValues(jti);
    const claims: Record<string, unknown> = { htm, htu: htu.split(/[?#]/)[0], jti: base64url(jti) };
    if (accessToken) claims.ath = base64url(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))));
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt().sign(pair.privateKey);
  }
}

/** The pair with its public JWK (what a proof's header carries). */
async function withJwk(pair: CryptoKeyPair): Promise<{ pair: CryptoKeyPair; jwk: JWK }> {
  const { kty, crv, x, y } = await exportJWK(pair.publicKey);
  return { pair, jwk: { kty, crv, x, y } };
}
