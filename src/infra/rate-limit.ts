/**
 * Rate limits with rate-limiter-flexible: one Redis-backed limiter per rule
 * when REDIS_URL is set (so the limit holds cluster-wide), in memory else.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { Keys } from './codes.ts';
import { rateLimited } from './errors.ts';
import { metrics } from './metrics.ts';
import type { SharedState } from './state.ts';

export interface RateRule {
  /** Names the rule in keys and metrics, e.g. "message-user". */
  name: string;
  /** Allowed events per window. */
  points: number;
  /** Window length in seconds. */
  windowSeconds: number;
}

export function createRateLimiter(state: SharedState, rule: RateRule): RateLimiterAbstract {
  const options = { keyPrefix: Keys.rateLimit(rule.name), points: rule.points, duration: rule.windowSeconds };
  return state.redis ? new RateLimiterRedis({ ...options, storeClient: state.redis }) : new RateLimiterMemory(options);
}

/** Seconds until `key` may act again under `limiter`, or 0 when it may act now (consumes nothing). */
export async function secondsUntilAllowed(limiter: RateLimiterAbstract, key: string): Promise<number> {
  const res = await limiter.get(key);
  const wait = res && res.remainingPoints <= 0 ? Math.ceil(res.msBeforeNext / 1000) : 0;
  if (wait > 0) countHit(limiter);
  return wait;
}

/** One refusal by `limiter`, counted under its rule's name. */
const countHit = (limiter: RateLimiterAbstract) => metrics.rateLimitHits.inc({ kind: limiter.keyPrefix.slice(Keys.rateLimit('').length) });

/**
 * Takes one point for `key`; throws RATE_LIMITED (with retryAfter) when the
 * rule's budget is spent. Store faults propagate as ordinary errors.
 */
export async function consumeOrThrow(limiter: RateLimiterAbstract, key: string, message?: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      countHit(limiter);
      throw rateLimited(rejection.msBeforeNext / 1000, message);
    }
    throw rejection;
  }
}
