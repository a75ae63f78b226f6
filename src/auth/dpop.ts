/**
 * DPoP (RFC 9449): tokens bound to a key pair their client holds, so that a
 * stolen access or refresh token is useless without the key.
 *
 * - `login` and `refresh` sent with a proof give tokens bound to the proof's
 *   key: the access token carries its thumbprint as `cnf.jkt` and the
 *   session records it (src/auth/accounts.ts); a bound session's refresh
 *   token then works only with a proof from the same key.
 * - A bound access token is accepted only with a fresh proof of that key for
 *   the request (`authenticate`): over HTTP `Authorization: DPoP <token>`
 *   plus a `DPoP` header; over graphql-ws `{ authorization: "DPoP <token>",
 *   dpop: "<proof>" }` in connection_init, the proof's htm GET and htu the
 *   endpoint's http(s) URL. Sent as Bearer it is refused.
 * - Over graphql-ws, an operation has no headers: a login or refresh sent
 *   over the socket carries its proof as `extensions.dpop`, with htm POST and
 *   htu the endpoint's http(s) URL, the proof it would carry over HTTP.
 *
 * Proofs are verified with jose (signature, `typ`, embedded public key,
 * thumbprint); each jti is spent once, in shared state (Redis when
 * configured) for as long as the proof could be accepted, with SET NX so
 * that two instances cannot both accept one proof.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import type { GraphQLError } from 'graphql';
import type { SharedState } from '../adapters/state.ts';
import type { Config } from '../core/config.ts';
import { viewerFromToken, type Context, type DpopProofSource, type Viewer } from '../context.ts';
import { DpopReason, ErrorCode, Keys } from '../core/codes.ts';
import { appError, unauthenticated } from '../core/errors.ts';

/** Signature algorithms a proof may use: asymmetric only (RFC 9449 section 4.2). */
const proofAlgorithms = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'PS256', 'PS384', 'PS512'];

/** Seconds a proof's clock may run ahead of ours, or its iat lag behind the window: clients' clocks drift. */
const clockTolerance = 5;

/** Longest proof (characters) and jti we read: a proof is a few hundred characters; anything far larger is refused unread. */
const maxProofLength = 8192;
const maxJtiLength = 256;

type Deps = { state: SharedState; config: Pick<Config, 'DPOP_PROOF_WINDOW' | 'DPOP_REQUIRED'> };

/** The UNAUTHENTICATED error of a refused proof or binding; `extensions.reason` says which (codes.ts `DpopReason`). */
export const dpopError = (reason: DpopReason, message: string): GraphQLError => appError(ErrorCode.UNAUTHENTICATED, message, { reason });

const invalidProof = (why: string) => dpopError(DpopReason.invalidProof, `Invalid DPoP proof: ${why}.`);

/** base64url(SHA-256(token)): a proof's `ath` for an access token (RFC 9449 section 4.2). */
export const accessTokenHash = (token: string): string => createHash('sha256').update(token, 'ascii').digest('base64url');

/** `url` without query and fragment, normalised (scheme and host lower case, default port dropped), or null when it is not an http(s) URL. */
function comparableUrl(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return null;
  }
}

/**
 * Verifies a proof for a request of method `htm` to `htu` (and, with
 * `accessToken`, its `ath`), spends its jti, and returns its key's RFC 7638
 * thumbprint. Throws UNAUTHENTICATED (reason INVALID_DPOP_PROOF) naming
 * what is wrong: malformed, bad signature, another method or URL, out of the
 * time window, wrong `ath`, or replayed.
 */
export async function verifyProof(deps: Deps, request: { proof: string; htm: string; htu: string; accessToken?: string }): Promise<string> {
  const { proof, htm, htu, accessToken } = request;
  if (proof.length > maxProofLength) throw invalidProof('too long');
  const window = deps.config.DPOP_PROOF_WINDOW;
  let payload: Record<string, unknown>;
  let jwk: JWK;
  try {
    const verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: proofAlgorithms,
      maxTokenAge: window,
      clockTolerance,
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
    });
    payload = verified.payload as Record<string, unknown>;
    jwk = verified.protectedHeader.jwk!;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED' || (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (error as { claim?: string }).claim === 'iat')) {
      throw invalidProof(`its iat must be within the last ${window} s`);
    }
    throw invalidProof('not a signed dpop+jwt with its public key in the header');
  }
  const { jti, htm: proofHtm, htu: proofHtu, ath } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > maxJtiLength) throw invalidProof(`jti must be a string of 1 to ${maxJtiLength} characters`);
  if (proofHtm !== htm) throw invalidProof(`htm must be ${htm}`);
  const wanted = comparableUrl(htu);
  if (typeof proofHtu !== 'string' || wanted === null || comparableUrl(proofHtu) !== wanted) throw invalidProof(`htu must be ${wanted ?? htu}`);
  if (accessToken !== undefined && ath !== accessTokenHash(accessToken)) throw invalidProof('ath must be the hash of the access token sent with it');
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  // Spent last, so that a proof refused for another reason does not use up its jti. Kept past the window by
  // the tolerance on both sides: as long as jose would accept the proof again.
  const digest = createHash('sha256').update(jkt).update('\n').update(jti).digest('base64url');
  if (!(await deps.state.setIfAbsent(Keys.dpopProof(digest), '1', window + 2 * clockTolerance + 1))) throw invalidProof('this proof was already used (replay)');
  return jkt;
}

/** The key thumbprint of the operation's proof (verified once per operation), or null when it came without one. */
export function proofKeyOf(ctx: Pick<Context, 'app' | 'dpop'>): Promise<string | null> {
  const source = ctx.dpop;
  if (!source?.proof) return Promise.resolve(null);
  source.verified ??= verifyProof(ctx.app, { proof: source.proof, htm: source.htm, htu: source.htu });
  return source.verified;
}

/** What an `Authorization` value presents: the scheme (Bearer or DPoP) and the token. */
export function parseAuthorization(header: string | null | undefined): { scheme: 'Bearer' | 'DPoP'; token: string } | null {
  const match = /^(Bearer|DPoP)\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

export interface Authentication {
  viewer: Viewer | null;
  /** A token was presented and refused. */
  refused: boolean;
  /** Why, when DPoP decided it (else the usual "invalid, expired or revoked"). */
  error?: GraphQLError;
}

/**
 * The one check of a presented access token for HTTP and graphql-ws: the
 * token (jose, revocations), then its binding. A bound token needs the
 * DPoP scheme and a proof of its key for this request (`source`, its `ath`
 * the token's hash); an unbound one needs the Bearer scheme, and is refused
 * altogether under DPOP_REQUIRED. The proof, once verified, is kept on
 * `source`, so that a login or refresh in the same request does not spend
 * its jti twice.
 */
export async function authenticate(app: Parameters<typeof viewerFromToken>[0], authorization: { scheme: 'Bearer' | 'DPoP'; token: string }, source: DpopProofSource): Promise<Authentication> {
  const viewer = await viewerFromToken(app, authorization.token);
  if (!viewer) return { viewer: null, refused: true };
  const refuse = (error: GraphQLError): Authentication => ({ viewer: null, refused: true, error });
  if (!viewer.jkt) {
    if (app.config.DPOP_REQUIRED) return refuse(dpopError(DpopReason.required, 'This server accepts only DPoP-bound tokens: sign in again with a DPoP proof.'));
    if (authorization.scheme === 'DPoP') return refuse(unauthenticated('This access token is not bound to a key: send it as Authorization: Bearer <token>.'));
    return { viewer, refused: false };
  }
  if (authorization.scheme !== 'DPoP') return refuse(dpopError(DpopReason.required, 'This access token is bound to a key: send Authorization: DPoP <token> with a DPoP proof.'));
  if (!source.proof) return refuse(dpopError(DpopReason.required, 'This access token is bound to a key: a DPoP proof must come with it.'));
  try {
    source.verified ??= verifyProof(app, { proof: source.proof, htm: source.htm, htu: source.htu, accessToken: authorization.token });
    const jkt = await source.verified;
    if (jkt !== viewer.jkt) return refuse(invalidProof('signed by another key than the one the token is bound to'));
  } catch (error) {
    return refuse(error as GraphQLError);
  }
  return { viewer, refused: false };
}
