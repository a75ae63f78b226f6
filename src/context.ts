/**
 * The GraphQL context, the same shape for HTTP and WebSocket operations, and
 * the one function that turns a bearer token into a viewer for both.
 */
import type { GraphQLError } from 'graphql';
import type { App } from './app.ts';
import { unauthenticated } from './core/errors.ts';

/** The signed-in caller, from a verified, unrevoked access token. */
export interface Viewer {
  userId: string;
  sessionId: string;
  roles: string[];
  /** Access token expiry, seconds since the epoch. */
  expiresAt: number;
  /** DPoP: the thumbprint of the key its token is bound to; absent for a Bearer token. */
  jkt?: string;
}

/**
 * DPoP: the proof that came with an operation and what it must match
 * (src/auth/dpop.ts): over HTTP the `DPoP` header, the request's method and
 * URL; over graphql-ws the operation's `extensions.dpop`, POST and the
 * endpoint's http(s) URL.
 */
export interface DpopProofSource {
  proof: string | null;
  htm: string;
  htu: string;
  /** The proof's key thumbprint once verified: a proof is checked (and its jti spent) once per operation. */
  verified?: Promise<string>;
}

/** The live WebSocket an operation arrived on (null over HTTP). */
export interface LiveConnection {
  /** Connection id, as in the logs. */
  id: string;
  /**
   * Gives the socket a renewed viewer (after a `refresh` sent over it): the
   * socket then lives until the new token's expiry, its subscriptions untouched.
   */
  renew(viewer: Viewer): void;
}

/** Writes a `next` message with this payload (JSON) to the subscription's socket (src/realtime/fan-out.ts). */
export type NextWriter = (payloadJson: string) => void;

export interface Context {
  app: App;
  viewer: Viewer | null;
  /** True when a token was presented but refused (bad, expired or revoked). */
  tokenRefused: boolean;
  /** The caller's address, for rate limits and the audit log. */
  ip: string | null;
  /** Names the request (HTTP) or connection (WebSocket) in logs and errors. */
  requestId: string;
  /** The HTTP request (null over WebSocket). */
  request: Request | null;
  /** The WebSocket the operation arrived on (null over HTTP). */
  connection: LiveConnection | null;
  /** Set for a subscription over graphql-ws: shared fan-out writes its events with it. */
  writeNext?: NextWriter;
  /** DPoP: the operation's proof, for login and refresh (src/auth/dpop.ts). @default none */
  dpop?: DpopProofSource;
  /** Why the presented token was refused, when that is more than "invalid, expired or revoked" (DPoP). @default none */
  authError?: GraphQLError;
}

/** Verifies an access token and checks its session against the revocation set: no database read. */
export async function viewerFromToken(app: App, token: string): Promise<Viewer | null> {
  const claims = await app.tokens.verify(token);
  if (!claims || app.revocations.isRevoked(claims.sessionId)) return null;
  const viewer: Viewer = { userId: claims.userId, sessionId: claims.sessionId, roles: claims.roles, expiresAt: claims.expiresAt };
  if (claims.jkt) viewer.jkt = claims.jkt;
  return viewer;
}

export { bearerToken } from './core/bearer.ts';

/** The viewer, or UNAUTHENTICATED when there is none (or its token is no longer valid). */
export function requireViewer(ctx: Context): Viewer {
  if (ctx.viewer && !ctx.app.revocations.isRevoked(ctx.viewer.sessionId) && ctx.viewer.expiresAt * 1000 > Date.now()) return ctx.viewer;
  if (ctx.authError && !ctx.viewer) throw ctx.authError;
  throw unauthenticated(ctx.tokenRefused || ctx.viewer ? 'Your access token is invalid, expired or revoked.' : 'Sign in first.');
}

export const isAdmin = (viewer: Viewer | null): boolean => viewer?.roles.includes('admin') ?? false;
