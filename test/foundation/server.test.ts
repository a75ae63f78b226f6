/**
 * The foundation over real HTTP: health and readiness in both modes, GraphiQL,
 * graceful shutdown, and readiness following Redis down and back while two
 * instances share one database and one Redis.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { startPrivateRedis } from '../helpers/redis-server.ts';
import { testDatabaseUrl } from '../helpers/env.ts';

afterAll(stopAllServers);

const readyz = async (server: TestServer) => {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('embedded mode (no DATABASE_URL, no REDIS_URL)', () => {
  it('answers /healthz and /readyz, serves GraphiQL, and stops cleanly on SIGTERM', async () => {
    const server = await startServer();
    expect(server.logs.join('\n')).toContain('"mode":"embedded"');
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await readyz(server)).toEqual({ status: 200, body: { status: 'ready', database: 'up', redis: 'not used', down: [] } });
    const graphiql = await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toMatch(/graphiql/i);
    const started = Date.now();
    expect(await server.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers an unknown path with 404', async () => {
    const server = await startServer();
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
  });
});

describe('scaled mode (PostgreSQL + Redis)', () => {
  it('two instances share one Redis; /readyz is 503 naming redis while it is down, 200 when back, and nobody crashes', async () => {
    const redis = await startPrivateRedis();
    try {
      const env = { DATABASE_URL: testDatabaseUrl, REDIS_URL: redis.url };
      const [a, b] = await Promise.all([startServer(env), startServer(env)]);
      for (const s of [a, b]) {
        expect(s.logs.join('\n')).toContain('"mode":"scaled"');
        expect(await readyz(s)).toMatchObject({ status: 200, body: { database: 'up', redis: 'up' } });
      }
      await redis.stop();
      for (const s of [a, b]) {
        await eventually(async () => (await readyz(s)).status === 503, 10_000, 'readyz 503');
        expect((await readyz(s)).body).toMatchObject({ status: 'unavailable', redis: 'down', database: 'up', down: ['redis'] });
        expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      }
      await redis.start();
      for (const s of [a, b]) await eventually(async () => (await readyz(s)).status === 200, 15_000, 'readyz 200 again');
      for (const s of [a, b]) {
        expect(s.process.exitCode).toBeNull();
        expect(s.logs.join('\n')).not.toMatch(/unhandled rejection|uncaughtException/i);
        expect(await s.stop()).toBe(0);
      }
    } finally {
      await redis.stop();
    }
  });

  it('reports the database down when it cannot be reached', async () => {
    const server = await startServer({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nothing' });
    expect(await readyz(server)).toMatchObject({ status: 503, body: { database: 'down', down: ['database'] } });
  });
});
