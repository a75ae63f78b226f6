/**
 * Anomalies in sign-ins, flagged at warn in the log (and so in serverLog)
 * and counted in `switchboard_auth_anomalies_total{kind}`, once per window:
 *
 * - `refresh_rate`: a user's refreshes in the current 10-minute window pass
 *   max(AUTH_ANOMALY_REFRESHES, 5 × the user's mean per window over the 24 h
 *   before). A client refreshes every few minutes; dozens in ten minutes is
 *   a loop or a stolen refresh token raced against its owner.
 * - `second_factor_failures`: a user's failed second steps in the window pass
 *   max(AUTH_ANOMALY_SECOND_FACTOR_FAILURES, 5 × that user's mean): someone
 *   holds the password and is guessing codes.
 * - `refresh_reuse_burst`: AUTH_ANOMALY_REUSE_BURST refresh-token reuses
 *   within a minute across the cluster: tokens stolen in bulk.
 *
 * Counted in shared state (Redis when REDIS_URL is set), so the rule holds
 * across instances. It reads the audit events (src/auth/audit.ts).
 */
import type { Config } from '../core/config.ts';
import { Keys } from '../core/codes.ts';
import type { Logger } from '../core/logger.ts';
import { metrics } from '../core/metrics.ts';
import type { AtomicScript, SharedState } from '../adapters/state.ts';
import { lastLineOf } from '../utils/error-text.ts';
import type { AuditInput } from './audit.ts';

export interface AnomalyWatch {
  /** Looks at one audit event (never throws: a shared-state fault is logged). */
  noted(event: AuditInput): void;
}

/** Windows of 10 minutes, remembered for 24 h. */
const windowMs = 10 * 60 * 1000;
const windowsRemembered = 24 * 6;
/** How far above the user's usual a window must go. */
const usualFactor = 5;

/**
 * KEYS[1]: hash window index -> count. ARGV: the current window, the floor,
 * the factor, the windows remembered, the key's ttl (ms). Counts one event;
 * returns [count, usual (mean of the earlier windows, ×1000), 1 when this
 * event is the one that passes the threshold, else 0].
 */
const countAndCompare: AtomicScript<[number, number, number]> = {
  lua: `
    local now = tonumber(ARGV[1])
    local count = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
    local earlier = 0
    local fields = redis.call('HGETALL', KEYS[1])
    for i = 1, #fields, 2 do
      local w = tonumber(fields[i])
      if w < now - tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], fields[i])
      elseif w < now then earlier = earlier + tonumber(fields[i + 1]) end
    end
    local usual = earlier / tonumber(ARGV[4])
    local threshold = math.max(tonumber(ARGV[2]), tonumber(ARGV[3]) * usual)
    local crossed = 0
    if count > threshold and count - 1 <= threshold then crossed = 1 end
    return { count, math.floor(usual * 1000), crossed }`,
  local(store, [key], [now, floor, factor, windows, ttl]) {
    const count = Number(store.hget(key!, now!) ?? 0) + 1;
    store.hset(key!, now!, String(count));
    store.expire(key!, Number(ttl) / 1000);
    let earlier = 0;
    for (const [field, value] of Object.entries(store.hgetall(key!))) {
      const w = Number(field);
      if (w < Number(now) - Number(windows)) store.hdel(key!, field);
      else if (w < Number(now)) earlier += Number(value);
    }
    const usual = earlier / Number(windows);
    const threshold = Math.max(Number(floor), Number(factor) * usual);
    return [count, Math.floor(usual * 1000), count > threshold && count - 1 <= threshold ? 1 : 0];
  },
};

export function createAnomalyWatch(deps: { state: SharedState; logger: Logger; config: Pick<Config, 'AUTH_ANOMALY_REFRESHES' | 'AUTH_ANOMALY_SECOND_FACTOR_FAILURES' | 'AUTH_ANOMALY_REUSE_BURST'> }): AnomalyWatch {
  const { state, logger, config } = deps;
  const perUser = async (kind: 'refresh_rate' | 'second_factor_failures', userId: string, floor: number) => {
    const now = Math.floor(Date.now() / windowMs);
    const [count, usualMilli, crossed] = await state.run(countAndCompare, [Keys.authAnomaly(kind, userId)], [now, floor, usualFactor, windowsRemembered, (windowsRemembered + 1) * windowMs]);
    if (!crossed) return;
    metrics.authAnomalies.inc({ kind });
    logger.warn({ anomaly: kind, userId, inTenMinutes: count, usualPerTenMinutes: usualMilli / 1000 }, `auth anomaly: ${kind === 'refresh_rate' ? 'refreshes' : 'failed second steps'} far above the user's usual`);
  };
  const reuseBurst = async (userId: string | null) => {
    const minute = Math.floor(Date.now() / 60_000);
    const count = await state.incr(Keys.authAnomaly('refresh_reuse', String(minute)), 120);
    if (count !== config.AUTH_ANOMALY_REUSE_BURST) return;
    metrics.authAnomalies.inc({ kind: 'refresh_reuse_burst' });
    logger.warn({ anomaly: 'refresh_reuse_burst', inOneMinute: count, lastUserId: userId }, 'auth anomaly: a burst of refresh-token reuse across the cluster');
  };
  const safely = (work: Promise<void>) => void work.catch((error: unknown) => logger.warn({ err: lastLineOf(error) }, 'auth anomaly check failed'));
  return {
    noted(event) {
      if (event.kind === 'refresh' && event.userId) safely(perUser('refresh_rate', event.userId, config.AUTH_ANOMALY_REFRESHES));
      else if (event.kind === 'second_factor_failed' && event.userId) safely(perUser('second_factor_failures', event.userId, config.AUTH_ANOMALY_SECOND_FACTOR_FAILURES));
      else if (event.kind === 'refresh_reuse') safely(reuseBurst(event.userId ?? null));
    },
  };
}
