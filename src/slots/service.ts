/**
 * Connection slots (licence seats): at most MAX_CONNECTIONS distinct users
 * connected across the cluster, at most MAX_SOCKETS_PER_USER sockets each.
 *
 * Seats are leases. Each instance renews the leases of its own sockets every
 * third of SLOT_LEASE_TTL; an instance that dies stops renewing, and its
 * seats are swept (by any instance) once their lease has passed. A socket
 * that closes removes only its own id, so a disconnect made with a stolen
 * copy of a token never frees a seat that another socket still holds.
 *
 * When Redis loses its state, each instance puts its seats and socket
 * counts back, and admissions wait until every instance has had the time to
 * (slots/recovery.ts).
 */
import { Channels, Keys } from '../core/codes.ts';
import type { Infra } from '../adapters/infra.ts';
import type { Recovery } from './recovery.ts';
import { admitSocket, releaseSocket, renewSockets, sweepSeats, type AdmissionResult } from './scripts.ts';

export interface SlotCounts {
  used: number;
  max: number;
  available: number;
}

export interface Slots {
  /**
   * Admits a socket, atomically across instances: 'new' or 'shared' seat, else why it is refused ('held': the
   * seats are being put back after Redis lost its state; {@link heldForMs} says for how long).
   */
  admit(userId: string, socketId: string): Promise<AdmissionResult>;
  /** Milliseconds until admissions open again after Redis lost its state (0 when open). */
  heldForMs(): number;
  /** The users with a socket on this instance. */
  localUsers(): Set<string>;
  /** Releases a socket admitted on this instance; frees its seat when it was its user's last socket. */
  release(userId: string, socketId: string): Promise<void>;
  /** The current cluster-wide counts. */
  counts(): Promise<SlotCounts>;
  /** Calls `listener` with the counts whenever they change anywhere in the cluster. */
  onChange(listener: (counts: SlotCounts) => void): () => void;
  /**
   * Calls `listener` on the instance that made the change, once per change:
   * a user took a seat (first socket) or lost it (last socket closed, or its
   * lease ran out). Presence follows these.
   */
  onSeat(listener: (userId: string, taken: boolean) => void): () => void;
  /** Releases every socket of this instance (graceful shutdown) and stops renewing. */
  stop(): Promise<void>;
}

/** How often an instance renews its seats' leases: often enough for both SLOT_LEASE_TTL and PRESENCE_TIMEOUT. */
export const renewIntervalMs = (config: Pick<Infra['config'], 'SLOT_LEASE_TTL' | 'PRESENCE_TIMEOUT'>) => (Math.min(config.SLOT_LEASE_TTL, config.PRESENCE_TIMEOUT) * 1000) / 3;

export async function createSlots(infra: Pick<Infra, 'state' | 'bus' | 'config' | 'logger'>, recovery: Recovery): Promise<Slots> {
  const { state, bus, config, logger } = infra;
  const leaseMs = Math.ceil(config.SLOT_LEASE_TTL * 1000);
  /** socket id -> user id, for the sockets this instance holds. */
  const local = new Map<string, string>();
  const listeners = new Set<(counts: SlotCounts) => void>();
  const seatListeners = new Set<(userId: string, taken: boolean) => void>();
  const seat = (userId: string, taken: boolean) => {
    for (const listener of seatListeners) listener(userId, taken);
  };
  let last: SlotCounts | undefined;

  const counts = async (): Promise<SlotCounts> => {
    const used = await state.zcount(Keys.seats, Date.now(), Infinity);
    return { used, max: config.MAX_CONNECTIONS, available: Math.max(0, config.MAX_CONNECTIONS - used) };
  };

  // One read per change per instance, however many subscribers it has.
  let reading: Promise<void> | undefined;
  let again = false;
  const refresh = (): Promise<void> => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        const now = await counts();
        if (last && now.used === last.used && now.max === last.max) continue;
        last = now;
        for (const listener of listeners) listener(now);
      } while (again);
    })()
      .catch((error) => logger.warn({ err: String(error) }, 'could not read slot counts'))
      .finally(() => (reading = undefined));
    return reading;
  };
  const unsubscribe = await bus.subscribe(Channels.slotsChanged, () => void refresh());
  // Changes announced while the bus was down are lost: read the counts again when it is back.
  const stopResume = bus.onResume(() => void refresh());
  const changed = () => bus.publish(Channels.slotsChanged, { at: Date.now() }).catch(() => {});

  const renew = async () => {
    const pairs = [...local];
    if (pairs.length === 0) return;
    await state.run(
      renewSockets,
      [Keys.seats, ...pairs.map(([, userId]) => Keys.userSockets(userId))],
      [Date.now() + leaseMs, leaseMs, ...pairs.flatMap(([socketId, userId]) => [userId, socketId])],
    );
  };
  const sweep = async () => {
    const freed = await state.run(sweepSeats, [Keys.seats], [Date.now()]);
    if (freed.length === 0) return;
    for (const userId of freed) seat(userId, false);
    await changed();
  };
  // Renewals are also presence heartbeats: often enough for both timeouts.
  const timer = setInterval(() => {
    renew()
      .then(sweep)
      .catch((error) => logger.warn({ err: String(error) }, 'could not renew connection slots'));
  }, renewIntervalMs(config));
  timer.unref();
  // After a loss: this instance's seats and socket counts first (presence's check needs the seats).
  const stopRestoring = recovery.onLoss(async () => {
    await renew();
    await changed();
  });

  const release = async (userId: string, socketId: string) => {
    if (!local.delete(socketId)) return;
    const freed = await state.run(releaseSocket, [Keys.seats, Keys.userSockets(userId)], [userId, socketId, Date.now()]);
    if (!freed) return;
    seat(userId, false);
    await changed();
  };

  return {
    async admit(userId, socketId) {
      const now = Date.now();
      const result = await state.run(admitSocket, [Keys.seats, Keys.userSockets(userId), Keys.stateEpoch], [
        userId,
        socketId,
        now,
        now + leaseMs,
        config.MAX_CONNECTIONS,
        config.MAX_SOCKETS_PER_USER,
        leaseMs,
        recovery.admissionEpoch,
      ]);
      if (result === 'lost') {
        // Not the state this instance put its seats back into: it looks now, and the client tries again.
        void recovery.check();
        return 'held';
      }
      if (result === 'new' || result === 'shared') local.set(socketId, userId);
      if (result === 'new') {
        seat(userId, true);
        await changed();
      }
      return result;
    },
    heldForMs: () => recovery.heldForMs(),
    localUsers: () => new Set(local.values()),
    release,
    counts,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onSeat(listener) {
      seatListeners.add(listener);
      return () => seatListeners.delete(listener);
    },
    async stop() {
      clearInterval(timer);
      stopRestoring();
      await Promise.allSettled([...local].map(([socketId, userId]) => release(userId, socketId)));
      stopResume();
      unsubscribe();
    },
  };
}
