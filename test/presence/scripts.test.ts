/**
 * The presence scripts' numbering, on both implementations of shared state:
 * Redis (the Lua scripts, on a Redis of its own) and the in-process store
 * (their JavaScript twins). Every change takes the next number of one
 * counter, a step that changes nothing takes none, the snapshot reads the
 * hash with the number of the last change it reflects, and a counter that
 * starts afresh starts above the numbers handed out before.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryState, createRedisState, type SharedState } from '../../src/adapters/state.ts';
import { checkPresence, presenceSnapshot, transition } from '../../src/presence/scripts.ts';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.ts';

let redis: PrivateRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startPrivateRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

describe.each([
  ['memory', () => createMemoryState()],
  ['redis', () => createRedisState(client)],
] as [string, () => SharedState][])('presence scripts (%s)', (_name, make) => {
  const keys = () => {
    const prefix = `test:${randomUUID()}:`;
    return { presence: `${prefix}presence`, activity: `${prefix}activity`, seats: `${prefix}seats`, seq: `${prefix}seq` };
  };

  it('number each change from one counter, in order; a step that changes nothing takes no number', async () => {
    const state = make();
    const k = keys();
    const step = (user: string, input: string) => state.run(transition, [k.presence, k.activity, k.seq], [user, input, Date.now()]);
    const [, online, first] = await step('u1', 'connect');
    expect(online).toBe('ONLINE');
    expect(await step('u1', 'connect')).toEqual(['ONLINE', '', 0]);
    expect(await step('u1', 'AWAY')).toEqual(['AWAY', 'AWAY', first + 1]);
    expect(await step('u2', 'connect')).toEqual(['ONLINE', 'ONLINE', first + 2]);
    expect(await state.run(presenceSnapshot, [k.presence, k.seq], [])).toEqual([first + 2, ['u1', 'AWAY', 'u2', 'ONLINE']]);

    // u1 holds no seat: its heartbeat is lost. u2's lease runs on, but it has been idle.
    await state.zadd(k.seats, Date.now() + 60_000, 'u2');
    const checked = await state.run(checkPresence, [k.presence, k.activity, k.seats, k.seq], [Date.now(), Date.now() + 1]);
    expect(checked).toEqual(['u1', 'OFFLINE', first + 3, 'u2', 'AWAY', first + 4]);
    expect(await state.run(presenceSnapshot, [k.presence, k.seq], [])).toEqual([first + 4, ['u2', 'IDLE']]);
    expect(await step('u2', 'disconnect')).toEqual(['OFFLINE', 'OFFLINE', first + 5]);
  });

  it('a counter that starts afresh (Redis restarted without persistence, or flushed) starts above the numbers handed out before', async () => {
    const state = make();
    const k = keys();
    const [, , before] = await state.run(transition, [k.presence, k.activity, k.seq], ['u1', 'connect', Date.now()]);
    // The counter is gone, as after a restart (which takes longer than the one change made since the clock's last tick).
    await new Promise((r) => setTimeout(r, 2));
    await state.del(k.seq);
    const [snapshot] = await state.run(presenceSnapshot, [k.presence, k.seq], []);
    expect(snapshot).toBeGreaterThan(before);
    const [, , after] = await state.run(transition, [k.presence, k.activity, k.seq], ['u1', 'disconnect', Date.now()]);
    expect(after).toBe(snapshot + 1);
  });
});
