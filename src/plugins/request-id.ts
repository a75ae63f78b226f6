/**
 * Yoga plugin: every HTTP request gets an id (the caller's X-Request-Id when
 * it is sane, else a new one), echoed in the response header and put on
 * every log line of that request.
 */
import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';

const requestIds = new WeakMap<Request, string>();
const saneId = /^[A-Za-z0-9._:-]{1,64}$/;

/** The id of `request`, made on first use. */
export function requestIdOf(request: Request): string {
  let id = requestIds.get(request);
  if (!id) {
    const given = request.headers.get('x-request-id');
    id = given && saneId.test(given) ? given : randomUUID();
    requestIds.set(request, id);
  }
  return id;
}

export function useRequestId(): Plugin {
  return {
    onResponse({ request, response }) {
      response.headers.set('x-request-id', requestIdOf(request));
    },
  };
}
