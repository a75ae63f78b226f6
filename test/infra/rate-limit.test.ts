/**
 * Rate limits on both implementations of shared state (a real Redis, the
 * in-process store): the same assertions hold for the Lua script and its
 * JavaScript twin.
 */
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { consumeOrThrow, createRateLimiter } from '../../src/adapters/rate-limit.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';

const { implementations, disconnect } = stateImplementations();
afterAll(disconnect);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The RATE_LIMITED error `attempt` throws (fails the test when it does not throw one). */
async function refusal(attempt: Promise<unknown>): Promise<GraphQLError> {
  const error = await attempt.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphQLError);
  expect((error as GraphQLError).extensions.code).toBe('RATE_LIMITED');
  return error as GraphQLError;
}

describe.each(implementations)('rate limits (%s)', (_name, make) => {
  const state = make();
  const rule = (points: number, windowSeconds = 60, group?: string) => createRateLimiter(state, { name: `test-${randomUUID()}`, points, windowSeconds, group });

  it('takes one point from every rule at once; a refusal names the spent rule, says when to retry, and takes nothing from the others', async () => {
    const user = rule(3, 60, 'test');
    const room = rule(2, 60, 'test');
    const take = () => consumeOrThrow({ limiter: user, key: 'u', message: 'user spent' }, { limiter: room, key: 'r', message: 'room spent' });
    await take();
    await take();
    const refused = await refusal(take());
    expect(refused.message).toBe('room spent');
    expect(refused.extensions.retryAfter).toBeGreaterThanOrEqual(59);
    expect(refused.extensions.retryAfter).toBeLessThanOrEqual(60);
    // The user's budget lost nothing to the refused attempt: one point is left.
    expect(await state.get(user.counterOf('u'))).toBe('2');
    await consumeOrThrow({ limiter: user, key: 'u' });
    expect((await refusal(consumeOrThrow({ limiter: user, key: 'u', message: 'user spent' }))).message).toBe('user spent');
    // Other keys of the same rules have their own budgets.
    await consumeOrThrow({ limiter: user, key: 'v' }, { limiter: room, key: 's' });
  });

  it('rules taken together share a hash tag (one Redis Cluster slot); rules of no common group are not taken together', async () => {
    const [user, room] = [rule(3, 60, 'pair'), rule(2, 60, 'pair')];
    expect(user.counterOf('u')).toMatch(/\{pair\}/);
    expect(room.counterOf('r')).toMatch(/\{pair\}/);
    await expect(consumeOrThrow({ limiter: rule(3), key: 'u' }, { limiter: room, key: 'r' })).rejects.toThrow(/one group/);
  });

  it('never lets concurrent attempts past the budget', async () => {
    const limiter = rule(10);
    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, () => consumeOrThrow({ limiter, key: 'k' })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(10);
    expect(await state.get(limiter.counterOf('k'))).toBe('10');
  });

  it('opens again once the window that began with the first point has passed', async () => {
    const limiter = rule(1, 1);
    await consumeOrThrow({ limiter, key: 'k' });
    expect((await refusal(consumeOrThrow({ limiter, key: 'k' }))).extensions.retryAfter).toBe(1);
    // Clock: the 1 s window has to end.
    await sleep(1100);
    await consumeOrThrow({ limiter, key: 'k' });
  });

  it('counts events without refusing them, reports the wait once spent, and forgets on reset', async () => {
    const limiter = rule(2);
    expect(await limiter.secondsUntilAllowed('k')).toBe(0);
    await limiter.count('k');
    expect(await limiter.secondsUntilAllowed('k')).toBe(0);
    await limiter.count('k');
    await limiter.count('k');
    expect(await limiter.secondsUntilAllowed('k')).toBe(60);
    await limiter.reset('k');
    expect(await limiter.secondsUntilAllowed('k')).toBe(0);
  });
});
