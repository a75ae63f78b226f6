/**
 * Sends are refused, not queued, once this instance falls behind: while the
 * oldest send still in progress has been at it longer than
 * SEND_QUEUE_MAX_WAIT, a new one is answered RATE_LIMITED (`reason:
 * "overloaded"`, `retryAfter`) at once. Offered more than it can store, an
 * instance keeps the sends it accepts fast and tells the rest to come back,
 * where a queue would make every sender wait for seconds. A refused send
 * changes nothing and spends none of the sender's rate limit.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../core/codes.ts';
import { appError } from '../core/errors.ts';
import { metrics } from '../core/metrics.ts';

/** Runs `send` now, or throws RATE_LIMITED (overloaded) without running it. */
export type SendAdmission = <T>(send: () => Promise<T>) => Promise<T>;

/** @param maxWaitMs How long the oldest send in progress may have taken before new ones are refused. */
export function sendAdmission(maxWaitMs: number): SendAdmission {
  /** Start times of the sends in progress, oldest first (a Map keeps insertion order). */
  const inProgress = new Map<object, number>();
  return async (send) => {
    const now = performance.now();
    const oldest = inProgress.values().next().value;
    if (oldest !== undefined && now - oldest > maxWaitMs) {
      metrics.rateLimitHits.inc({ kind: 'send-overload' });
      throw appError(ErrorCode.RATE_LIMITED, 'The server is busy; try again shortly.', { retryAfter: 1, reason: 'overloaded' });
    }
    const key = {};
    inProgress.set(key, now);
    try {
      return await send();
    } finally {
      inProgress.delete(key);
    }
  };
}
