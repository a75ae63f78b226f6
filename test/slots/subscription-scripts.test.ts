/**
 * The scripts behind MAX_SUBSCRIPTIONS_PER_USER, on both implementations of
 * shared state (Redis's Lua and the embedded mode's JavaScript twin): the
 * same assertions hold for both.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys } from '../../src/core/codes.ts';
import { releaseSubscription, takeSubscription } from '../../src/slots/subscriptions.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';

const { implementations, disconnect } = stateImplementations();
afterAll(disconnect);

describe.each(implementations)('subscription places (%s)', (_name, make) => {
  const state = make();

  it('takes places up to the cap across sockets, counts only live sockets, and gives them back', async () => {
    const user = `test-${randomUUID()}`;
    const sockets = Keys.userSockets(user);
    const places = Keys.userSubscriptions(user);
    const now = Date.now();
    await state.zadd(sockets, now + 60_000, 'a');
    await state.zadd(sockets, now + 60_000, 'b');
    // A socket whose lease has passed (its instance died): its places no longer count.
    await state.zadd(sockets, now - 1, 'dead');
    await state.hset(places, 'dead', '5');
    const take = (socket: string) => state.run(takeSubscription, [sockets, places], [socket, Date.now(), 3]);

    expect(await take('a')).toEqual([0, 1]);
    expect(await take('b')).toEqual([1, 1]);
    expect(await take('a')).toEqual([2, 1]);
    expect(await take('b')).toEqual([3, 0]);
    expect(await state.hgetall(places)).toEqual({ a: '2', b: '1' });

    await state.run(releaseSubscription, [places], ['a']);
    expect(await take('b')).toEqual([2, 1]);
    await state.run(releaseSubscription, [places], ['b']);
    await state.run(releaseSubscription, [places], ['b']);
    // A socket with no place left has no field.
    expect(await state.hgetall(places)).toEqual({ a: '1' });
    await state.del(sockets);
    await state.del(places);
  });
});
