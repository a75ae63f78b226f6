/**
 * The seat scripts on both implementations of shared state (Redis's Lua and
 * the in-process twins): one suite, so that the two cannot drift apart.
 * Admission at and past both caps, seat sharing, release, renewal and the
 * sweep of seats whose lease has passed. Times are given as arguments: no
 * clock is waited on.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { admitSocket, claimEpoch, releaseSocket, renewSockets, sweepSeats } from '../../src/slots/scripts.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';
import { keyPrefix } from '../../src/core/codes.ts';

const { implementations, disconnect } = stateImplementations();
afterAll(disconnect);

const leaseMs = 60_000;

describe.each(implementations)('seat scripts (%s)', (_name, make) => {
  /** A fresh key space with an open epoch, and the scripts bound to it. */
  async function seats(maxConnections: number, maxSockets: number) {
    const state = make();
    const prefix = `${keyPrefix()}test:${randomUUID()}:`;
    const k = { seats: `${prefix}{seats}`, sockets: (u: string) => `${prefix}{seats}:sockets:${u}`, epoch: `${prefix}{seats}:epoch` };
    const t0 = Date.now();
    const [epoch] = await state.run(claimEpoch, [k.epoch], [randomUUID(), t0, '', t0, t0, `${prefix}instances`]);
    return {
      state,
      k,
      admit: (user: string, socket: string, now = t0) =>
        state.run(admitSocket, [k.seats, k.sockets(user), k.epoch], [user, socket, now, now + leaseMs, maxConnections, maxSockets, leaseMs, epoch]),
      release: (user: string, socket: string, now = t0) => state.run(releaseSocket, [k.seats, k.sockets(user)], [user, socket, now]),
      renew: (until: number, pairs: [string, string][]) =>
        state.run(renewSockets, [k.seats, ...pairs.map(([user]) => k.sockets(user))], [until, leaseMs, ...pairs.flat()]),
      sweep: (now: number) => state.run(sweepSeats, [k.seats], [now]),
      used: (now = t0) => state.zcount(k.seats, now, Infinity),
      t0,
    };
  }

  it('admits up to MAX_CONNECTIONS users, then refuses a new user with slots; a user already seated shares its seat', async () => {
    const s = await seats(2, 5);
    expect(await s.admit('u1', 'a')).toBe('new');
    expect(await s.admit('u2', 'b')).toBe('new');
    expect(await s.admit('u3', 'c')).toBe('slots');
    expect(await s.admit('u1', 'a2')).toBe('shared');
    expect(await s.used()).toBe(2);
    // The refusal took nothing: no socket of u3 is counted.
    expect(await s.state.zcount(s.k.sockets('u3'), -Infinity, Infinity)).toBe(0);
  });

  it('refuses a socket past MAX_SOCKETS_PER_USER with sockets, even with seats free', async () => {
    const s = await seats(10, 2);
    expect(await s.admit('u1', 'a')).toBe('new');
    expect(await s.admit('u1', 'b')).toBe('shared');
    expect(await s.admit('u1', 'c')).toBe('sockets');
    expect(await s.used()).toBe(1);
  });

  it('frees a seat with its user\'s last socket only, and the freed seat admits another user', async () => {
    const s = await seats(1, 5);
    await s.admit('u1', 'a');
    await s.admit('u1', 'b');
    expect(await s.release('u1', 'a')).toBe(0);
    expect(await s.admit('u2', 'x')).toBe('slots');
    expect(await s.release('u1', 'b')).toBe(1);
    expect(await s.used()).toBe(0);
    expect(await s.admit('u2', 'x')).toBe('new');
  });

  it('a seat whose lease passed (its instance died) is reused at capacity and swept; a renewed one is kept', async () => {
    const s = await seats(2, 5);
    await s.admit('dead', 'd');
    await s.admit('alive', 'a');
    const later = s.t0 + leaseMs + 1;
    // Only the living instance renews its socket.
    await s.renew(later + leaseMs, [['alive', 'a']]);
    expect(await s.sweep(later)).toEqual(['dead']);
    expect(await s.used(later)).toBe(1);
    expect(await s.admit('new', 'n', later)).toBe('new');
    expect(await s.admit('more', 'm', later)).toBe('slots');
  });

  it('at capacity, a passed lease makes room without a sweep', async () => {
    const s = await seats(1, 5);
    await s.admit('dead', 'd');
    expect(await s.admit('u2', 'x')).toBe('slots');
    expect(await s.admit('u2', 'x', s.t0 + leaseMs + 1)).toBe('new');
  });
});
