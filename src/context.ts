/**
 * The GraphQL context, the same shape for HTTP and WebSocket operations, and
 * the one function that turns a bearer token into a viewer for both.
 */
import type { App } from './app.ts';
import { unauthenticated } from './core/errors.ts';

/** The signed-in caller, from a verified, unrevoked access token. */
export interface Viewer {
  userId: string;
  sessionId: string;
  roles: string[];
  /** Access token expiry, seconds since the epoch. */
  expiresAt: number;
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
}

/** Verifies an access token and checks its session against the revocation set: no database read. */
export async function viewerFromToken(app: App, token: string): Promise<Viewer | null> {
  const claims = await app.tokens.verify(token);
  if (!claims || app.revocations.isRevoked(claims.sessionId)) return null;
  return { userId: claims.userId, sessionId: claims.sessionId, roles: claims.roles, expiresAt: claims.expiresAt };
}

export { bearerToken } from './core/bearer.ts';

/** The viewer, or UNAUTHENTICATED when there is none (or its token is no longer valid). */
export function requireViewer(ctx: Context): Viewer {
  if (ctx.viewer && !ctx.app.revocations.isRevoked(ctx.viewer.sessionId) && ctx.viewer.expiresAt * 1000 > Date.now()) return ctx.viewer;
  throw unauthenticated(ctx.tokenRefused || ctx.viewer ? 'Your access token is invalid, expired or revoked.' : 'Sign in first.');
}

export const isAdmin = (viewer: Viewer | null): boolean => viewer?.roles.includes('admin') ?? false;
