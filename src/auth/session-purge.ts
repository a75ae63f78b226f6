/**
 * Ended sessions are kept only while something may still ask about them:
 * an access token lives ACCESS_TOKEN_TTL after its session ended (and
 * revocations are restored from that window at start), a refresh token
 * not at all. Past that, a session that expired or was ended is deleted,
 * with its refresh tokens, every SESSION_PURGE_INTERVAL, by every instance
 * (deleting twice deletes nothing). The audit log keeps its history.
 */
import type { Config } from '../core/config.ts';
import type { Database } from '../adapters/database.ts';
import type { Logger } from '../core/logger.ts';
import { lastLineOf } from '../utils/error-text.ts';

/** Sessions deleted per statement, so that one purge never holds many rows at once. */
const batch = 5000;
/** Kept beyond ACCESS_TOKEN_TTL, for clocks a little apart. */
const marginSeconds = 60;

export interface SessionPurge {
  /** Deletes what has ended long enough ago; resolves to how many sessions went. */
  run(): Promise<number>;
  stop(): void;
}

export function startSessionPurge(deps: { db: Database; config: Config; logger: Logger }): SessionPurge {
  const { db, config, logger } = deps;
  const run = async () => {
    const before = new Date(Date.now() - (config.ACCESS_TOKEN_TTL + marginSeconds) * 1000);
    let deleted = 0;
    for (;;) {
      const count = await db.$executeRaw`
        DELETE FROM "Session" WHERE "id" IN (
          SELECT "id" FROM "Session" WHERE "expiresAt" < ${before} OR "revokedAt" < ${before} LIMIT ${batch}
        )`;
      deleted += count;
      if (count < batch) break;
    }
    if (deleted > 0) logger.info({ deleted }, 'ended sessions purged');
    return deleted;
  };
  const timer = setInterval(() => void run().catch((error: unknown) => logger.warn({ err: lastLineOf(error) }, 'session purge failed; next time')), config.SESSION_PURGE_INTERVAL * 1000);
  timer.unref();
  return { run, stop: () => clearInterval(timer) };
}
