/**
 * One suite, both implementations of SharedState: Redis (real server) and
 * the in-process store. Atomic scripts run as Lua on one and as their
 * JavaScript twin on the other; the same assertions hold for both.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { AtomicScript } from '../../src/adapters/state.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';
import { keyPrefix } from '../../src/core/codes.ts';

/** Increments `key` only while it is below the limit: the shape of every admission script. */
const incrementBelow: AtomicScript<number> = {
  lua: `
    local current = tonumber(redis.call('GET', KEYS[1]) or '0')
    if current >= tonumber(ARGV[1]) then return -1 end
    return redis.call('INCR', KEYS[1])`,
  local(store, [key], [limit]) {
    const current = Number(store.get(key!) ?? '0');
    if (current >= Number(limit)) return -1;
    return store.incr(key!);
  },
};

const { implementations, disconnect } = stateImplementations();
afterAll(disconnect);

describe.each(implementations)('SharedState (%s)', (_name, make) => {
  const state = make();
  const key = (name: string) => `${keyPrefix()}test:${randomUUID()}:${name}`;

  it('gets, sets and deletes strings', async () => {
    const k = key('s');
    expect(await state.get(k)).toBeNull();
    await state.set(k, 'v');
    expect(await state.get(k)).toBe('v');
    await state.del(k);
    expect(await state.get(k)).toBeNull();
  });

  it('expires keys after their TTL', async () => {
    const k = key('ttl');
    await state.set(k, 'v', 0.2);
    expect(await state.get(k)).toBe('v');
    // Clock: the 0.2 s TTL has to pass.
    await new Promise((r) => setTimeout(r, 350));
    expect(await state.get(k)).toBeNull();
  });

  it('sets only when absent', async () => {
    const k = key('nx');
    expect(await state.setIfAbsent(k, 'first', 10)).toBe(true);
    expect(await state.setIfAbsent(k, 'second', 10)).toBe(false);
    expect(await state.get(k)).toBe('first');
  });

  it('counts with incr, starting the TTL on the first increment only', async () => {
    const k = key('n');
    expect(await state.incr(k, 0.3)).toBe(1);
    // Clock: inside the TTL, then past it from the first increment.
    await new Promise((r) => setTimeout(r, 150));
    expect(await state.incr(k, 0.3)).toBe(2);
    await new Promise((r) => setTimeout(r, 250));
    expect(await state.get(k)).toBeNull();
  });

  it('lists keys by prefix', async () => {
    const prefix = key('p');
    await state.set(`${prefix}a`, '1', 10);
    await state.set(`${prefix}b`, '2', 10);
    expect((await state.keysWithPrefix(prefix)).sort()).toEqual([`${prefix}a`, `${prefix}b`]);
  });

  it('keeps hashes', async () => {
    const k = key('h');
    await state.hset(k, 'a', '1');
    await state.hset(k, 'b', '2');
    expect(await state.hget(k, 'a')).toBe('1');
    expect(await state.hgetall(k)).toEqual({ a: '1', b: '2' });
    await state.hdel(k, 'a');
    expect(await state.hgetall(k)).toEqual({ b: '2' });
  });

  it('keeps sorted sets ordered by score, with inclusive ranges', async () => {
    const k = key('z');
    await state.zadd(k, 30, 'c');
    await state.zadd(k, 10, 'a');
    await state.zadd(k, 20, 'b');
    expect(await state.zrangeByScore(k, -Infinity, Infinity)).toEqual(['a', 'b', 'c']);
    expect(await state.zrangeByScore(k, 10, 20)).toEqual(['a', 'b']);
    expect(await state.zcount(k, 15, Infinity)).toBe(2);
    await state.zrem(k, 'b');
    expect(await state.zrangeByScore(k, -Infinity, Infinity)).toEqual(['a', 'c']);
  });

  it('runs an atomic script without losing a race', async () => {
    const k = key('atomic');
    const results = await Promise.all(Array.from({ length: 40 }, () => state.run(incrementBelow, [k], [25])));
    expect(results.filter((r) => r > 0)).toHaveLength(25);
    expect(results.filter((r) => r === -1)).toHaveLength(15);
    expect(await state.get(k)).toBe('25');
  });

  it('answers ping', async () => {
    expect(await state.ping()).toBe(true);
  });
});
