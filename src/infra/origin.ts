/**
 * ALLOWED_ORIGINS: when set, browser requests and WebSocket upgrades whose
 * Origin is not listed are refused with HTTP 403. Requests without an Origin
 * (servers, command-line clients) are not browsers' and pass.
 */
import type { Plugin } from 'graphql-yoga';

/** True when `origin` may call us under `allowed` (undefined: any origin). */
export function originAllowed(allowed: string[] | undefined, origin: string | undefined | null): boolean {
  return !allowed || !origin || allowed.includes(origin);
}

export function useOriginCheck(allowed: string[] | undefined): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (!originAllowed(allowed, request.headers.get('origin'))) {
        endResponse(new fetchAPI.Response(JSON.stringify({ errors: [{ message: 'Forbidden origin', extensions: { code: 'FORBIDDEN' } }] }), { status: 403, headers: { 'content-type': 'application/json' } }));
      }
    },
  };
}
