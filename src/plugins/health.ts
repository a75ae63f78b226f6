/**
 * Yoga plugin: GET /healthz (the process is up) and GET /readyz (the
 * database and, when configured, Redis answer; 503 naming what is down).
 */
import type { Plugin } from 'graphql-yoga';
import type { Infra } from '../adapters/infra.ts';

export function useHealthChecks(infra: Pick<Infra, 'readiness'>): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/healthz') {
        endResponse(Response.json({ status: 'ok' }));
      } else if (url.pathname === '/readyz') {
        const { database, redis } = await infra.readiness();
        const down = [...(database ? [] : ['database']), ...(redis === false ? ['redis'] : [])];
        const body = { status: down.length ? 'unavailable' : 'ready', database: database ? 'up' : 'down', redis: redis === null ? 'not used' : redis ? 'up' : 'down', down };
        endResponse(new fetchAPI.Response(JSON.stringify(body), { status: down.length ? 503 : 200, headers: { 'content-type': 'application/json' } }));
      }
    },
  };
}
