/**
 * Caps on live subscriptions: at most MAX_SUBSCRIPTIONS_PER_SOCKET on one
 * socket, and MAX_SUBSCRIPTIONS_PER_USER across the cluster (graphql-ws
 * sockets and SSE streams together). One rule for both transports: a
 * subscribe past either cap is refused with RATE_LIMITED naming the cap in
 * `extensions.limit`, and the socket and its other subscriptions go on.
 *
 * The per-user count lives in shared state as one hash per user, socket id
 * -> subscriptions it holds. A field counts only while its socket is live
 * in the user's seat leases (`Keys.userSockets`, renewed by slots/service.ts),
 * so the places of a killed instance stop counting when its sockets' leases
 * run out, with no lease of their own to renew.
 */
import type { ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import { ErrorCode, Keys, SubscriptionLimit } from '../core/codes.ts';
import { appError } from '../core/errors.ts';
import type { Infra } from '../adapters/infra.ts';
import type { AtomicScript } from '../adapters/state.ts';

/**
 * Takes one place for a socket's subscription when the user holds fewer than
 * the cap on live sockets; fields of sockets no longer live are dropped on
 * the way. KEYS: the user's sockets, the user's subscriptions. ARGV: socket
 * id, now (ms), max per user. Returns the user's count before, and 1 when
 * the place was taken, else 0.
 */
export const takeSubscription: AtomicScript<[number, number]> = {
  lua: `
    local held = redis.call('HGETALL', KEYS[2])
    local total = 0
    for i = 1, #held, 2 do
      local lease = redis.call('ZSCORE', KEYS[1], held[i])
      if lease and tonumber(lease) > tonumber(ARGV[2]) then total = total + tonumber(held[i + 1])
      else redis.call('HDEL', KEYS[2], held[i]) end
    end
    if total >= tonumber(ARGV[3]) then return { total, 0 } end
    redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
    return { total, 1 }`,
  local(store, [sockets, subscriptions], [socketId, now, max]) {
    let total = 0;
    for (const [socket, count] of Object.entries(store.hgetall(subscriptions!))) {
      const lease = store.zscore(sockets!, socket);
      if (lease !== null && lease > Number(now)) total += Number(count);
      else store.hdel(subscriptions!, socket);
    }
    if (total >= Number(max)) return [total, 0];
    store.hset(subscriptions!, socketId!, String(Number(store.hget(subscriptions!, socketId!) ?? 0) + 1));
    return [total, 1];
  },
};

/** Gives back one place of a socket. KEYS: the user's subscriptions. ARGV: socket id. */
export const releaseSubscription: AtomicScript<number> = {
  lua: `
    local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
    if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
    return left`,
  local(store, [subscriptions], [socketId]) {
    const left = Number(store.hget(subscriptions!, socketId!) ?? 0) - 1;
    if (left <= 0) store.hdel(subscriptions!, socketId!);
    else store.hset(subscriptions!, socketId!, String(left));
    return left;
  },
};

export interface SubscriptionLimits {
  /**
   * Takes a place for one more subscription of `socketId` (a socket or SSE
   * stream holding a seat), which holds `heldBySocket` already. Resolves to
   * null when taken, else to the RATE_LIMITED error to answer with.
   */
  take(userId: string, socketId: string, heldBySocket: number): Promise<GraphQLError | null>;
  /** Gives back one place of `socketId`. */
  release(userId: string, socketId: string): Promise<void>;
  /** Gives back every place of `socketId` (it closed). */
  releaseSocket(userId: string, socketId: string): Promise<void>;
}

export function createSubscriptionLimits(infra: Pick<Infra, 'state' | 'config'>): SubscriptionLimits {
  const { state, config } = infra;
  return {
    async take(userId, socketId, heldBySocket) {
      if (heldBySocket >= config.MAX_SUBSCRIPTIONS_PER_SOCKET) {
        return appError(ErrorCode.RATE_LIMITED, `At most ${config.MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per connection: complete one before starting another.`, {
          limit: SubscriptionLimit.perSocket,
          max: config.MAX_SUBSCRIPTIONS_PER_SOCKET,
        });
      }
      const [, taken] = await state.run(takeSubscription, [Keys.userSockets(userId), Keys.userSubscriptions(userId)], [socketId, Date.now(), config.MAX_SUBSCRIPTIONS_PER_USER]);
      if (taken === 1) return null;
      return appError(ErrorCode.RATE_LIMITED, `At most ${config.MAX_SUBSCRIPTIONS_PER_USER} subscriptions per user across all connections: complete one before starting another.`, {
        limit: SubscriptionLimit.perUser,
        max: config.MAX_SUBSCRIPTIONS_PER_USER,
      });
    },
    async release(userId, socketId) {
      await state.run(releaseSubscription, [Keys.userSubscriptions(userId)], [socketId]);
    },
    releaseSocket: (userId, socketId) => state.hdel(Keys.userSubscriptions(userId), socketId),
  };
}

/**
 * Runs `subscribe` and calls `release` once when what it started ends: at
 * once for a result that is no stream (or a throw), else when the stream
 * finishes, fails or is returned (completed by the client, or its socket closed).
 */
export async function releasedAtEnd<T>(subscribe: () => Promise<AsyncIterable<T> | ExecutionResult>, release: () => void): Promise<AsyncIterable<T> | ExecutionResult> {
  let result: AsyncIterable<T> | ExecutionResult;
  try {
    result = await subscribe();
  } catch (error) {
    release();
    throw error;
  }
  if (!isAsyncIterable(result)) {
    release();
    return result;
  }
  const iterator = (result as AsyncIterable<T>)[Symbol.asyncIterator]();
  let released = false;
  const end = () => {
    if (released) return;
    released = true;
    release();
  };
  const wrapped: AsyncIterableIterator<T> = {
    async next() {
      try {
        const step = await iterator.next();
        if (step.done) end();
        return step;
      } catch (error) {
        end();
        throw error;
      }
    },
    async return(value?: unknown) {
      end();
      return (await iterator.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      end();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return wrapped;
}
