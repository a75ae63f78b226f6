/**
 * Presence, cluster-wide: ONLINE while a user has a socket anywhere, AWAY
 * when the user says so (setPresence) or after PRESENCE_AWAY_AFTER without
 * an operation on any of its sockets, OFFLINE when its last socket closes or
 * no heartbeat came for PRESENCE_TIMEOUT (its seat-lease renewals are the
 * heartbeats; every instance checks every PRESENCE_CHECK_INTERVAL).
 *
 * Each change is decided by one atomic script and published once, by the
 * instance whose script made it, on the bus as {@link PresenceChanged}.
 * Changes published while an instance's bus was down are lost to it: when
 * the bus is back, it compares the statuses it last handed out with the
 * shared ones and hands out the differences. An instance hands out only
 * what changes the status it last handed out, so a change the bus
 * delivers twice is handed out once.
 */
import { Channels, Keys } from '../infra/codes.ts';
import type { Infra } from '../infra/infra.ts';
import { createResync } from '../infra/resync.ts';
import type { Slots } from '../slots/service.ts';
import { checkPresence, reportedStatus, transition, type PresenceInput, type PresenceStatus } from './scripts.ts';

export type { PresenceStatus };

/** The bus message of one presence change (Channels.presenceChanged). */
export interface PresenceChanged {
  userId: string;
  status: PresenceStatus;
  /** ISO time of the change. */
  at: string;
}

export interface Presence {
  /** The user's status as this instance knows it now (kept from the bus; OFFLINE when unknown). */
  statusNow(userId: string): PresenceStatus;
  /** Users ONLINE or AWAY anywhere in the cluster. */
  onlineUserIds(): Promise<string[]>;
  /** The user's own choice (ONLINE or AWAY); a user with no socket stays OFFLINE. Returns the status now. */
  set(userId: string, status: 'ONLINE' | 'AWAY'): Promise<PresenceStatus>;
  /** Notes an operation by the user (throttled); brings an idle user back ONLINE. */
  activity(userId: string): void;
  /** Calls `listener` on this instance for every change anywhere in the cluster. */
  onChange(listener: (change: PresenceChanged) => void): () => void;
  stop(): void;
}

/** How often one instance records a user's activity in shared state, at most. */
const activityWriteMs = 5000;

export async function createPresence(infra: Pick<Infra, 'state' | 'bus' | 'config' | 'logger'>, slots: Slots): Promise<Presence> {
  const { state, bus, config, logger } = infra;
  const listeners = new Set<(change: PresenceChanged) => void>();
  const lastWrite = new Map<string, number>();

  const publish = (userId: string, status: PresenceStatus) =>
    bus.publish<PresenceChanged>(Channels.presenceChanged, { userId, status, at: new Date().toISOString() });
  const apply = async (userId: string, input: PresenceInput): Promise<PresenceStatus> => {
    const [now, changedTo] = await state.run(transition, [Keys.presence, Keys.activity], [userId, input, Date.now()]);
    if (changedTo) await publish(userId, changedTo);
    return now;
  };
  const failed = (what: string) => (error: unknown) => logger.warn({ err: String(error) }, `presence: could not ${what}`);

  /** The last status this instance handed out per user not OFFLINE (OFFLINE is what an absent user has). */
  const handedOut = new Map<string, PresenceStatus>();
  const resync = createResync();
  const handOut = (change: PresenceChanged) => {
    // Not a change here: the bus delivering one twice (ioredis resends a publish whose answer a dropped connection lost).
    if ((handedOut.get(change.userId) ?? 'OFFLINE') === change.status) return;
    if (change.status === 'OFFLINE') handedOut.delete(change.userId);
    else handedOut.set(change.userId, change.status);
    resync.heard(change.userId);
    for (const listener of listeners) listener(change);
  };
  const resynchronise = () =>
    resync.run(
      () => state.hgetall(Keys.presence),
      (shared, heardMeanwhile) => {
        const at = new Date().toISOString();
        for (const userId of new Set([...handedOut.keys(), ...Object.keys(shared)])) {
          const status = reportedStatus(shared[userId] ?? null);
          if (!heardMeanwhile.has(userId)) handOut({ userId, status, at });
        }
      },
    );
  const unsubscribe = await bus.subscribe<PresenceChanged>(Channels.presenceChanged, handOut);
  for (const [userId, stored] of Object.entries(await state.hgetall(Keys.presence))) handedOut.set(userId, reportedStatus(stored));
  const stopResume = bus.onResume(() => void resynchronise().catch(failed('catch up on presence after the bus was back')));
  const stopSeats = slots.onSeat((userId, taken) => {
    lastWrite.delete(userId);
    void apply(userId, taken ? 'connect' : 'disconnect').catch(failed('record a connection'));
  });
  // A seat's lease ends SLOT_LEASE_TTL after its last renewal (heartbeat): a
  // heartbeat older than PRESENCE_TIMEOUT means a lease ending before this.
  const aliveUntil = (now: number) => Math.max(now, now - config.PRESENCE_TIMEOUT * 1000 + config.SLOT_LEASE_TTL * 1000);
  const timer = setInterval(() => {
    const now = Date.now();
    state
      .run(checkPresence, [Keys.presence, Keys.activity, Keys.seats], [aliveUntil(now), now - config.PRESENCE_AWAY_AFTER * 1000])
      .then(async (changes) => {
        for (let i = 0; i < changes.length; i += 2) await publish(changes[i]!, changes[i + 1] as PresenceStatus);
      })
      .catch(failed('check presence'));
  }, config.PRESENCE_CHECK_INTERVAL * 1000);
  timer.unref();

  return {
    statusNow: (userId) => handedOut.get(userId) ?? 'OFFLINE',
    async onlineUserIds() {
      return Object.keys(await state.hgetall(Keys.presence));
    },
    set: (userId, status) => apply(userId, status),
    activity(userId) {
      const now = Date.now();
      if (now - (lastWrite.get(userId) ?? 0) < activityWriteMs) return;
      lastWrite.set(userId, now);
      void apply(userId, 'active').catch(failed('record activity'));
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      clearInterval(timer);
      stopSeats();
      stopResume();
      unsubscribe();
    },
  };
}
