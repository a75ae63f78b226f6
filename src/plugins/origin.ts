/**
 * Cross-origin rules (PRODUCT.md, owner's decisions: "Origins"), for HTTP and
 * WebSocket alike. A browser's request carries an Origin; one equal to the
 * server's own origin, or in the allowed list (ALLOWED_ORIGINS seeds it,
 * admins change it: src/operations/origins.ts), is granted: its
 * preflight answered 204 and its responses given a credentialed CORS grant.
 * Any other origin gets no CORS header, its preflight is refused with 403, and
 * when ALLOWED_ORIGINS is set every request and WebSocket upgrade it sends is
 * refused with 403. Requests without an Origin (servers, command-line
 * clients) are not browsers' and pass.
 *
 * This replaces Yoga's CORS (`cors: false` in src/server.ts), which grants
 * every origin with credentials and answers every preflight 204.
 */
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../core/codes.ts';

/** How a request's Origin stands: none (not a browser's), granted (own or listed) or foreign. */
export type OriginVerdict = 'none' | 'granted' | 'foreign';

/** `origin`'s verdict for a server whose own origin is `own`, under ALLOWED_ORIGINS `allowed`. */
export function originVerdict(allowed: readonly string[] | undefined, origin: string | undefined | null, own: string | null): OriginVerdict {
  if (!origin) return 'none';
  return origin === own || (allowed?.includes(origin) ?? false) ? 'granted' : 'foreign';
}

/**
 * True when a request (or upgrade) from `origin` is refused outright: a
 * foreign origin when ALLOWED_ORIGINS is set, and a foreign preflight always.
 */
export function originRefused(allowed: readonly string[] | undefined, origin: string | undefined | null, own: string | null, preflight = false): boolean {
  return originVerdict(allowed, origin, own) === 'foreign' && (allowed !== undefined || preflight);
}

/**
 * The server's own origin as a request reached it: scheme, host and port of
 * the URL Yoga built from the Host header and the socket (https under TLS).
 * Behind a TLS-terminating proxy this is http:// while the page's is
 * https://; same-origin requests need no grant, so only ALLOWED_ORIGINS
 * (which refuses the rest) must then list the public origin.
 */
export function ownOrigin(url: string | URL): string | null {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

/** The same for a WebSocket upgrade: `secure` under TLS, `host` its Host header. */
export const ownOriginOfUpgrade = (secure: boolean, host: string | undefined): string | null => (host ? ownOrigin(`${secure ? 'https' : 'http'}://${host}`) : null);

/** Seconds a browser may keep a granted preflight. @default 600 */
const preflightMaxAge = 600;
/** Methods a granted origin may use: graphql-sse reserves and ends its single connection with PUT and DELETE. */
const allowedMethods = 'GET, POST, PUT, DELETE';

const forbidden = (fetchAPI: { Response: typeof Response }) =>
  new fetchAPI.Response(JSON.stringify({ errors: [{ message: 'Forbidden origin', extensions: { code: ErrorCode.FORBIDDEN } }] }), {
    status: 403,
    headers: { 'content-type': 'application/json; charset=utf-8', vary: 'Origin' },
  });

/** Yoga plugin: the rules above for every HTTP request; `allowedNow` gives the list as it is at that moment (admins change it at run time). */
export function useOriginCheck(allowedNow: () => readonly string[] | undefined): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const allowed = allowedNow();
      const origin = request.headers.get('origin');
      const preflight = request.method === 'OPTIONS';
      const own = ownOrigin(url);
      if (originRefused(allowed, origin, own, preflight)) {
        endResponse(forbidden(fetchAPI));
        return;
      }
      if (!preflight) return;
      const headers: Record<string, string> = { 'content-length': '0', vary: 'Origin, Access-Control-Request-Headers' };
      if (originVerdict(allowed, origin, own) === 'granted') {
        // A granted origin is trusted: it may send whatever headers it asks for (authorization, CSRF_HEADER, DPoP, ...).
        const requested = request.headers.get('access-control-request-headers');
        Object.assign(headers, {
          'access-control-allow-origin': origin!,
          'access-control-allow-credentials': 'true',
          'access-control-allow-methods': allowedMethods,
          'access-control-max-age': String(preflightMaxAge),
          ...(requested ? { 'access-control-allow-headers': requested } : {}),
        });
      }
      endResponse(new fetchAPI.Response(null, { status: 204, headers }));
    },
    onResponse({ request, response }) {
      if (request.method === 'OPTIONS') return;
      const allowed = allowedNow();
      const origin = request.headers.get('origin');
      // Caches must not hand one origin's answer (with or without a grant) to another.
      if (!/\borigin\b/i.test(response.headers.get('vary') ?? '')) response.headers.append('vary', 'Origin');
      if (originVerdict(allowed, origin, ownOrigin(request.url)) !== 'granted') return;
      response.headers.set('access-control-allow-origin', origin!);
      response.headers.set('access-control-allow-credentials', 'true');
    },
  };
}
