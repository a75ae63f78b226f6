/**
 * Yoga plugin: GET /.well-known/jwks.json publishes the public keys that
 * verify this server's access tokens (RFC 7517), so another service can check
 * a Switchboard token without holding a secret. Under HS256 there is none to
 * publish and the path is not served.
 */
import type { Plugin } from 'graphql-yoga';
import type { TokenSigner } from './tokens.ts';

export const jwksPath = '/.well-known/jwks.json';

export function useJwks(tokens: Pick<TokenSigner, 'publicKeys'>): Plugin {
  const body = JSON.stringify({ keys: tokens.publicKeys });
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== jwksPath || tokens.publicKeys.length === 0) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      // Verifiers cache it; five minutes bounds how long a replaced key is still fetched from a cache.
      endResponse(new fetchAPI.Response(body, { headers: { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' } }));
    },
  };
}
