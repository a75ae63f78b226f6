/**
 * Sends are refused, not queued, once this instance falls behind: a new
 * send is answered RATE_LIMITED (`reason: "overloaded"`, `retryAfter`) at
 * once while sends take longer than SEND_QUEUE_MAX_WAIT. Offered more than
 * it can store, an instance keeps the sends it accepts fast and tells the
 * rest to come back, where a queue would make every sender wait for seconds.
 * A refused send changes nothing and spends none of the sender's limits.
 *
 * "Take longer" is judged as CoDel judges a queue: by the quickest send of
 * the last interval, so that one slow send (a lock, a retry) among quick
 * ones refuses nothing; when none finished in the interval, by the oldest
 * still in progress once several are, so that an instance whose sends all
 * wait refuses too, while a few waiting on one locked room do not.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../core/codes.ts';
import { appError } from '../core/errors.ts';
import { metrics } from '../core/metrics.ts';

/** Runs `send` now, or throws RATE_LIMITED (overloaded) without running it. */
export type SendAdmission = <T>(send: () => Promise<T>) => Promise<T>;

/** How often the judgement is made, at most: long enough to see several sends finish under load. */
const intervalMs = 100;
/** Sends in progress, none finishing, that make a backlog (fewer are sends waiting on something of their own). */
const backlog = 8;

/** @param maxWaitMs How long sends may take before new ones are refused. */
export function sendAdmission(maxWaitMs: number): SendAdmission {
  /** Start times of the sends in progress, oldest first (a Map keeps insertion order). */
  const inProgress = new Map<object, number>();
  let judgedAt = performance.now();
  let overloaded = false;
  /** The quickest send that finished since the last judgement, and when the last one finished. */
  let quickestMs = Number.POSITIVE_INFINITY;
  let lastFinishedAt = Number.NEGATIVE_INFINITY;

  function judge(now: number): void {
    if (now - judgedAt < intervalMs) return;
    const oldest = inProgress.values().next().value;
    overloaded = lastFinishedAt > now - intervalMs ? quickestMs > maxWaitMs : inProgress.size >= backlog && now - oldest! > maxWaitMs;
    judgedAt = now;
    quickestMs = Number.POSITIVE_INFINITY;
  }

  return async (send) => {
    const started = performance.now();
    judge(started);
    if (overloaded) {
      metrics.rateLimitHits.inc({ kind: 'send-overload' });
      throw appError(ErrorCode.RATE_LIMITED, 'The server is busy; try again shortly.', { retryAfter: 1, reason: 'overloaded' });
    }
    const key = {};
    inProgress.set(key, started);
    try {
      return await send();
    } finally {
      inProgress.delete(key);
      lastFinishedAt = performance.now();
      quickestMs = Math.min(quickestMs, lastFinishedAt - started);
    }
  };
}
