/**
 * The scripts behind noticing a lost state, on both implementations of
 * shared state (Redis's Lua, the in-process twins): the epoch written when
 * missing, held after a loss, admissions refused on a state that is not the
 * epoch an instance put its seats back into, and presence put back without
 * overwriting what is there.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { admitSocket, claimEpoch } from '../../src/slots/scripts.ts';
import { restorePresence } from '../../src/presence/scripts.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';
import { keyPrefix } from '../../src/core/codes.ts';

const { implementations, disconnect } = stateImplementations();
afterAll(disconnect);

describe.each(implementations)('state-loss scripts (%s)', (_name, make) => {
  const keys = () => {
    const prefix = `${keyPrefix()}test:${randomUUID()}:`;
    return { epoch: `${prefix}epoch`, seats: `${prefix}seats`, sockets: (u: string) => `${prefix}sockets:${u}`, presence: `${prefix}presence`, activity: `${prefix}activity`, seq: `${prefix}seq`, channel: `${prefix}instances` };
  };
  const holdMs = 60_000;
  const claim = (state: ReturnType<typeof make>, k: ReturnType<typeof keys>, knew: string, now = Date.now()) =>
    state.run(claimEpoch, [k.epoch], [randomUUID(), now, knew, now + holdMs, now + 5000, k.channel]);
  const admit = (state: ReturnType<typeof make>, k: ReturnType<typeof keys>, user: string, epoch: string) =>
    state.run(admitSocket, [k.seats, k.sockets(user), k.epoch], [user, randomUUID(), Date.now(), Date.now() + 60_000, 10, 5, 60_000, epoch]);

  it('a first start writes an epoch that opens at once (nobody else listens, the store is not new) and is kept; admissions need it', async () => {
    const state = make();
    const k = keys();
    expect(await admit(state, k, 'u1', '')).toBe('lost');
    const [epoch, openAt] = await claim(state, k, '');
    expect(Number(openAt)).toBeLessThanOrEqual(Date.now());
    expect(await claim(state, k, '')).toEqual([epoch, openAt]);
    expect(await admit(state, k, 'u1', epoch)).toBe('new');
    expect(await admit(state, k, 'u1', 'another epoch')).toBe('lost');
  });

  it('a loss (the epoch known is gone) writes a new epoch held for the hold; admissions wait; a later noticer keeps it held from its creation', async () => {
    const state = make();
    const k = keys();
    const now = Date.now();
    const [epoch, openAt] = await claim(state, k, 'the epoch before', now);
    expect(epoch).not.toBe('the epoch before');
    expect(Number(openAt)).toBe(now + holdMs);
    expect(await admit(state, k, 'u1', epoch)).toBe('held');
    // Another instance that knew the old epoch, noticing later: the same epoch, held as long.
    expect(await claim(state, k, 'the epoch before', now + 2000)).toEqual([epoch, now + holdMs]);
  });

  it('presence put back: users missing get their status, numbered; a user present keeps its own', async () => {
    const state = make();
    const k = keys();
    await state.hset(k.presence, 'u2', 'AWAY');
    const changes = await state.run(restorePresence, [k.presence, k.activity, k.seq], [Date.now(), 'u1', 'ONLINE', 'u2', 'ONLINE', 'u3', 'IDLE']);
    expect(changes.filter((_, i) => i % 3 !== 2)).toEqual(['u1', 'ONLINE', 'u3', 'AWAY']);
    expect(Number(changes[5])).toBe(Number(changes[2]) + 1);
    expect(await state.hgetall(k.presence)).toEqual({ u1: 'ONLINE', u2: 'AWAY', u3: 'IDLE' });
    expect(Object.keys(await state.hgetall(k.activity)).sort()).toEqual(['u1', 'u3']);
  });
});
