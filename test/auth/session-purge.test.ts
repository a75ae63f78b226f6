/**
 * Ended sessions are deleted (with their refresh tokens) once no token of
 * theirs can still be valid: expired or ended more than ACCESS_TOKEN_TTL
 * (+ a minute) ago. Live sessions and recently ended ones stay. A purge
 * the database does not answer is logged and tried at the next interval.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../helpers/accounts.ts';
import { eventually, gql, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { testDatabaseUrl } from '../helpers/env.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { REFRESH, closeDatabase, count, database, uuidOf } from './support.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: '60', SESSION_PURGE_INTERVAL: '0.5', SINGLE_SESSION: 'false' });
});
afterAll(async () => {
  await stopAllServers();
  await closeDatabase();
});

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);
const later = (seconds: number) => new Date(Date.now() + seconds * 1000);

describe('session purge', () => {
  it('deletes sessions expired or ended past the access-token lifetime, with their refresh tokens, and keeps the rest', async () => {
    const user = await signUp(server);
    const userId = uuidOf(user.id);
    const db = await database();
    // ACCESS_TOKEN_TTL is 60 s: ended 2 minutes ago is past it (with its minute of margin), 10 s ago is not.
    const sessions = {
      expiredLongAgo: { expiresAt: ago(120), revokedAt: null },
      endedLongAgo: { expiresAt: later(3600), revokedAt: ago(125) },
      endedJustNow: { expiresAt: later(3600), revokedAt: ago(10) },
      expiredJustNow: { expiresAt: ago(10), revokedAt: null },
      live: { expiresAt: later(3600), revokedAt: null },
    };
    const ids = Object.fromEntries(Object.keys(sessions).map((name) => [name, randomUUID()])) as Record<keyof typeof sessions, string>;
    for (const [name, { expiresAt, revokedAt }] of Object.entries(sessions)) {
      const id = ids[name as keyof typeof sessions];
      await db.query('INSERT INTO "Session" ("id", "userId", "createdAt", "expiresAt", "revokedAt") VALUES ($1, $2, $3, $4, $5)', [id, userId, ago(3600), expiresAt, revokedAt]);
      await db.query('INSERT INTO "RefreshToken" ("id", "sessionId", "tokenHash", "createdAt", "expiresAt") VALUES ($1, $2, $3, $4, $5)', [randomUUID(), id, randomUUID(), ago(3600), expiresAt]);
    }
    const remaining = async (id: string) => count('SELECT count(*) FROM "Session" WHERE "id" = $1', [id]);

    await expect.poll(() => remaining(ids.expiredLongAgo), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => remaining(ids.endedLongAgo), { timeout: 10_000 }).toBe(0);
    for (const id of [ids.expiredLongAgo, ids.endedLongAgo]) expect(await count('SELECT count(*) FROM "RefreshToken" WHERE "sessionId" = $1', [id])).toBe(0);
    for (const id of [ids.endedJustNow, ids.expiredJustNow, ids.live]) {
      expect(await remaining(id)).toBe(1);
      expect(await count('SELECT count(*) FROM "RefreshToken" WHERE "sessionId" = $1', [id])).toBe(1);
    }
    // The session the user signed in with is untouched: its refresh token still works.
    const refreshed = await gql(server, REFRESH, { token: user.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data.refresh.user.id).toBe(user.id);
    expect(server.logs.some((line) => line.includes('ended sessions purged'))).toBe(true);
  });
});

describe('a session purge while PostgreSQL is unreachable', () => {
  it('is logged, leaves the server serving, and the next interval purges what the failed one could not', async () => {
    // Only the instance that cannot reach the database purges meanwhile.
    await server.stop();
    const proxy = await startTcpProxy(testDatabaseUrl);
    try {
      const cut = await startServer({ ...scaledEnv(), DATABASE_URL: proxy.via(testDatabaseUrl), ACCESS_TOKEN_TTL: '60', SESSION_PURGE_INTERVAL: '0.5' });
      const user = await signUp(cut);
      await proxy.stop();
      const db = await database();
      const id = randomUUID();
      await db.query('INSERT INTO "Session" ("id", "userId", "createdAt", "expiresAt", "revokedAt") VALUES ($1, $2, $3, $4, NULL)', [id, uuidOf(user.id), ago(3600), ago(120)]);
      await eventually(() => cut.logs.some((line) => line.includes('session purge failed; next time')), 5000, 'a failed purge logged');
      expect(await count('SELECT count(*) FROM "Session" WHERE "id" = $1', [id])).toBe(1);
      expect((await fetch(`${cut.url}/healthz`)).status).toBe(200);
      await proxy.start();
      await expect.poll(() => count('SELECT count(*) FROM "Session" WHERE "id" = $1', [id]), { timeout: 15_000 }).toBe(0);
      expect(cut.process.exitCode).toBeNull();
    } finally {
      await proxy.stop();
    }
  });
});

