/**
 * Rate limits: fixed windows counted in shared state (Redis when one is
 * configured, so a limit holds cluster-wide; in memory else), by atomic scripts.
 * Several rules are consumed in one step, all or none: a send refused by
 * the per-room limit spends nothing of the sender's own budget, and a send
 * asks Redis once, not once per rule.
 */
import { Keys } from '../core/codes.ts';
import { rateLimited } from '../core/errors.ts';
import { metrics } from '../core/metrics.ts';
import type { AtomicScript, SharedState } from './state.ts';

export interface RateRule {
  /** Names the rule in keys and metrics, e.g. "message-user". */
  name: string;
  /** Allowed events per window. */
  points: number;
  /** Window length in seconds; it starts with the window's first event. */
  windowSeconds: number;
  /**
   * Names the rules taken together in one step ({@link consumeOrThrow}):
   * their counters share a hash tag, so that a Redis Cluster keeps them in
   * one slot, as one script's keys must be.
   * @default undefined: the rule is taken alone
   */
  group?: string;
}

/**
 * KEYS: one counter per rule. ARGV: each rule's points and window (ms), in
 * turn. Returns [0, 0] when every rule had a point left (one is taken from
 * each), else [n, ms]: the n-th rule (from 1) is spent for ms more, and
 * nothing is taken.
 */
const consumeAll: AtomicScript<[number, number]> = {
  lua: `
    for i, key in ipairs(KEYS) do
      if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then
        local left = redis.call('PTTL', key)
        if left < 0 then left = tonumber(ARGV[2 * i]) end
        return { i, math.max(left, 1) }
      end
    end
    for i, key in ipairs(KEYS) do
      if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
    end
    return { 0, 0 }`,
  local(store, keys, args) {
    for (const [i, key] of keys.entries()) {
      if (Number(store.get(key) ?? 0) >= Number(args[2 * i])) {
        const left = store.pttl(key);
        return [i + 1, Math.max(left < 0 ? Number(args[2 * i + 1]) : left, 1)];
      }
    }
    for (const [i, key] of keys.entries()) if (store.incr(key) === 1) store.expire(key, Number(args[2 * i + 1]) / 1000);
    return [0, 0];
  },
};

/** KEYS: the counter. ARGV: points. Returns the ms until the window ends when its points are spent, else 0. */
const msUntilAllowed: AtomicScript<number> = {
  lua: `
    if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then return 0 end
    return math.max(redis.call('PTTL', KEYS[1]), 1)`,
  local(store, [key], [points]) {
    if (Number(store.get(key!) ?? 0) < Number(points)) return 0;
    return Math.max(store.pttl(key!), 1);
  },
};

export interface RateLimiter {
  readonly rule: RateRule;
  readonly state: SharedState;
  /** The counter of `key` under this rule, in shared state. */
  counterOf(key: string): string;
  /** Seconds until `key` may act again, or 0 when it may act now (takes nothing). */
  secondsUntilAllowed(key: string): Promise<number>;
  /** Counts one event against `key` without refusing it (a failed login: the next attempt is the one refused). */
  count(key: string): Promise<void>;
  /** Forgets what `key` has used. */
  reset(key: string): Promise<void>;
}

export function createRateLimiter(state: SharedState, rule: RateRule): RateLimiter {
  const counterOf = (key: string) => `${Keys.rateLimit(rule.name, rule.group)}:${key}`;
  return {
    rule,
    state,
    counterOf,
    async secondsUntilAllowed(key) {
      const ms = await state.run(msUntilAllowed, [counterOf(key)], [rule.points]);
      if (ms > 0) countHit(rule);
      return Math.ceil(ms / 1000);
    },
    async count(key) {
      await state.incr(counterOf(key), rule.windowSeconds);
    },
    reset: (key) => state.del(counterOf(key)),
  };
}

/** One refusal by `rule`, counted under its name. */
const countHit = (rule: RateRule) => metrics.rateLimitHits.inc({ kind: rule.name });

/**
 * KEYS: ARGV[1] hard counters, then optionally a slowdown's counter and its
 * delay key. ARGV: n, each hard counter's points and window (ms), then the
 * slowdown's free points, window (ms) and longest delay (ms). Like
 * consumeAll for the hard counters; the slowdown refuses while its delay key
 * lives, and each event at or past its free points sets that key for 1 s,
 * doubling per event, up to the longest delay. Returns [0, 0] when taken
 * (from every counter), else [n, ms] with nothing taken: the n-th key (the
 * slowdown is n + 1) refuses for ms more.
 */
const consumeWithSlowdown: AtomicScript<[number, number]> = {
  lua: `
    local n = tonumber(ARGV[1])
    for i = 1, n do
      if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[2 * i]) then
        local left = redis.call('PTTL', KEYS[i])
        if left < 0 then left = tonumber(ARGV[2 * i + 1]) end
        return { i, math.max(left, 1) }
      end
    end
    local slow = #KEYS > n
    if slow then
      local left = redis.call('PTTL', KEYS[n + 2])
      if left > 0 then return { n + 1, left } end
    end
    for i = 1, n do
      if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1]) end
    end
    if slow then
      local count = redis.call('INCR', KEYS[n + 1])
      if count == 1 then redis.call('PEXPIRE', KEYS[n + 1], ARGV[2 * n + 3]) end
      local over = count - tonumber(ARGV[2 * n + 2])
      if over >= 0 then
        local delay = math.min(1000 * 2 ^ math.min(over, 30), tonumber(ARGV[2 * n + 4]))
        redis.call('SET', KEYS[n + 2], '1', 'PX', math.floor(delay))
      end
    end
    return { 0, 0 }`,
  local(store, keys, args) {
    const n = Number(args[0]);
    for (let i = 0; i < n; i++) {
      if (Number(store.get(keys[i]!) ?? 0) >= Number(args[2 * i + 1])) {
        const left = store.pttl(keys[i]!);
        return [i + 1, Math.max(left < 0 ? Number(args[2 * i + 2]) : left, 1)];
      }
    }
    const slow = keys.length > n;
    if (slow) {
      const left = store.pttl(keys[n + 1]!);
      if (left > 0) return [n + 1, left];
    }
    for (let i = 0; i < n; i++) if (store.incr(keys[i]!) === 1) store.expire(keys[i]!, Number(args[2 * i + 2]) / 1000);
    if (slow) {
      const count = store.incr(keys[n]!);
      if (count === 1) store.expire(keys[n]!, Number(args[2 * n + 2]) / 1000);
      const over = count - Number(args[2 * n + 1]);
      if (over >= 0) store.set(keys[n + 1]!, '1', Math.min(1000 * 2 ** Math.min(over, 30), Number(args[2 * n + 3])) / 1000);
    }
    return [0, 0];
  },
};

/** KEYS: the first ARGV[1] are lowered by one (not below 0), the rest deleted. */
const giveBackScript: AtomicScript<number> = {
  lua: `
    local n = tonumber(ARGV[1])
    for i, key in ipairs(KEYS) do
      if i > n then redis.call('DEL', key)
      elseif tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
    end
    return 0`,
  local(store, keys, [n]) {
    for (const [i, key] of keys.entries()) {
      if (i >= Number(n)) store.del(key);
      else if (Number(store.get(key) ?? 0) > 0) store.incr(key, -1);
    }
    return 0;
  },
};

/**
 * A budget that slows down rather than locks: the first `points` events of a
 * window pass at once; from then on each event makes the next one wait, 1 s
 * doubling per event up to `maxDelaySeconds`. Whoever is refused learns how
 * long to wait, and a patient client always gets its turn.
 */
export interface SlowdownRule extends RateRule {
  maxDelaySeconds: number;
}

/** One point to take under a slowdown rule. */
export interface SlowTake {
  rule: SlowdownRule;
  key: string;
  message?: string;
}

const slowdownKeys = (take: SlowTake): [string, string] => {
  const counter = `${Keys.rateLimit(take.rule.name, take.rule.group)}:${take.key}`;
  return [counter, `${counter}:delay`];
};

/**
 * Takes one point from each hard budget and from the slowdown (when given),
 * in one atomic step, before the work they guard; when any refuses, takes
 * none and throws RATE_LIMITED with that rule's message and wait.
 */
export async function consumeWithSlowdownOrThrow(state: SharedState, takes: Take[], slow?: SlowTake): Promise<void> {
  const keys = takes.map(({ limiter, key }) => limiter.counterOf(key));
  const args: Array<string | number> = [takes.length, ...takes.flatMap(({ limiter: { rule } }) => [rule.points, rule.windowSeconds * 1000])];
  if (slow) {
    keys.push(...slowdownKeys(slow));
    args.push(slow.rule.points, slow.rule.windowSeconds * 1000, slow.rule.maxDelaySeconds * 1000);
  }
  const [refused, waitMs] = await state.run(consumeWithSlowdown, keys, args);
  if (refused === 0) return;
  const { rule, message } = refused <= takes.length ? { rule: takes[refused - 1]!.limiter.rule, message: takes[refused - 1]!.message } : slow!;
  countHit(rule);
  throw rateLimited(waitMs / 1000, message);
}

/** Returns points: one to each of `lower`, and forgets `forget` (hard budgets and slowdowns alike) entirely. */
export async function giveBack(state: SharedState, lower: Take[], forget: { takes?: Take[]; slow?: SlowTake[] }): Promise<void> {
  const keys = [
    ...lower.map(({ limiter, key }) => limiter.counterOf(key)),
    ...(forget.takes ?? []).map(({ limiter, key }) => limiter.counterOf(key)),
    ...(forget.slow ?? []).flatMap(slowdownKeys),
  ];
  await state.run(giveBackScript, keys, [lower.length]);
}

/** One point to take: from `limiter`'s budget for `key`, refused with `message`. */
export interface Take {
  limiter: RateLimiter;
  key: string;
  message?: string;
}

/**
 * Takes one point for each `take`, in one atomic step on their (common)
 * shared state; when any budget is spent, takes none and throws
 * RATE_LIMITED (with retryAfter) with the first spent rule's message.
 * Store faults propagate as ordinary errors.
 */
export async function consumeOrThrow(...takes: Take[]): Promise<void> {
  const state = takes[0]!.limiter.state;
  const group = takes[0]!.limiter.rule.group;
  if (takes.length > 1 && takes.some(({ limiter }) => limiter.rule.group === undefined || limiter.rule.group !== group)) {
    throw new Error('rules taken together must name one group (RateRule.group)');
  }
  const keys = takes.map(({ limiter, key }) => limiter.counterOf(key));
  const args = takes.flatMap(({ limiter: { rule } }) => [rule.points, rule.windowSeconds * 1000]);
  const [spent, waitMs] = await state.run(consumeAll, keys, args);
  if (spent === 0) return;
  const { limiter, message } = takes[spent - 1]!;
  countHit(limiter.rule);
  throw rateLimited(waitMs / 1000, message);
}
