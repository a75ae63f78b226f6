/**
 * Cross-site request forgery: what a browser sends cross-site without a CORS
 * preflight never runs an operation (PRODUCT.md, owner's decisions: "Origins").
 *
 * A page elsewhere can POST a form (application/x-www-form-urlencoded,
 * multipart/form-data), text/plain or a body with no Content-Type at all with
 * no preflight, cookies included. `useMediaTypeCheck` answers every POST to
 * the GraphQL endpoints whose media type is not JSON 415, before anything
 * reads it. Any other media type makes the browser ask first, and a foreign
 * origin's preflight is refused (src/plugins/origin.ts). GET cannot run a
 * mutation (Yoga answers 405), and its answer is unreadable without a grant.
 *
 * Chosen over @graphql-yoga/plugin-csrf-prevention, which requires a custom
 * header on every GET and simple POST: that would break plain GET queries
 * (curl, a link) and every client that does not know the header,
 * where a media-type allowlist closes the same hole for everything but the
 * cookie-only `refresh`, which needs CSRF_HEADER as well (src/auth/refresh-cookie.ts).
 */
import type { Plugin } from 'graphql-yoga';
import { CSRF_HEADER, ErrorCode } from '../core/codes.ts';

/** Media types a POST may run an operation with (none of them a browser may send cross-site unasked). */
export const operationMediaTypes: readonly string[] = ['application/json', 'application/graphql-response+json', 'application/graphql+json'];

/** The media type of a Content-Type value, lower case and without parameters; '' when absent. */
export const mediaTypeOf = (contentType: string | null): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

/** True when `request` carries CSRF_HEADER (any value), which a foreign page cannot send. */
export const hasCsrfHeader = (request: Request): boolean => request.headers.has(CSRF_HEADER);

export interface MediaTypeCheckOptions {
  /** Paths whose POSTs run operations. @default ['/graphql', '/graphql/stream'] */
  endpoints?: readonly string[];
}

/** Yoga plugin: 415 for a POST to a GraphQL endpoint that is not JSON. */
export function useMediaTypeCheck(options: MediaTypeCheckOptions = {}): Plugin {
  const endpoints = options.endpoints ?? ['/graphql', '/graphql/stream'];
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'POST' || !endpoints.includes(url.pathname)) return;
      const type = mediaTypeOf(request.headers.get('content-type'));
      if (operationMediaTypes.includes(type)) return;
      const message = `Send GraphQL requests as application/json${type ? ` (got ${type})` : ' (no Content-Type was given)'}.`;
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: ErrorCode.BAD_USER_INPUT, field: 'content-type' } }] }), {
          status: 415,
          headers: { 'content-type': 'application/json; charset=utf-8' },
        }),
      );
    },
  };
}
