/**
 * Presence, cluster-wide: ONLINE while a user has a socket anywhere, AWAY
 * when the user says so (setPresence) or after PRESENCE_AWAY_AFTER without
 * an operation on any of its sockets, OFFLINE when its last socket closes or
 * no heartbeat came for PRESENCE_TIMEOUT (its seat-lease renewals are the
 * heartbeats; every instance checks every PRESENCE_CHECK_INTERVAL).
 *
 * Each change is decided by one atomic script, which numbers it, and
 * published once, by the instance whose script made it, on the bus as
 * {@link PresenceChanged}. An instance hands out a change of a user only
 * when its number is above that of the last change of that user it handed
 * out: a copy the bus delivers again, even after a newer change (ioredis
 * resends a publish whose answer a dropped connection lost), is not handed
 * out. Changes published while an instance's bus was down are lost to it:
 * when the bus is back, it reads the shared statuses with the number of the
 * last change they reflect and hands out the differences under that number,
 * once the shared state is whole (after Redis lost its state, each instance
 * first puts back its users' statuses: slots/recovery.ts).
 *
 * Each change handed out carries its user's row, read once on this instance
 * for all its listeners, or null when the user no longer exists (deleted
 * while connected): the `presence` subscription shows no change of a user
 * who is gone, since its event has a user that cannot be null.
 */
import { Channels, Keys } from '../core/codes.ts';
import { eventStream, type EventStream } from '../utils/event-stream.ts';
import type { Database } from '../adapters/database.ts';
import type { Infra } from '../adapters/infra.ts';
import { inOrder } from '../utils/in-order.ts';
import type { Logger } from '../core/logger.ts';
import { readToShow } from '../utils/retry.ts';
import type { User } from '../generated/prisma/client.ts';
import type { Slots } from '../slots/service.ts';
import type { Recovery } from '../slots/recovery.ts';
import { checkPresence, presenceSnapshot, reportedStatus, restorePresence, transition, type PresenceInput, type PresenceStatus } from './scripts.ts';

export type { PresenceStatus };

/** The bus message of one presence change (Channels.presenceChanged). */
export interface PresenceChanged {
  userId: string;
  status: PresenceStatus;
  /** ISO time of the change. */
  at: string;
  /** Its number (Keys.presenceSeq): a change numbered higher happened later. */
  seq: number;
}

/** The columns the User type shows (never the password hash). */
const shownColumns = { id: true, username: true, email: true, roles: true, createdAt: true } as const;
export type PresenceUser = Pick<User, keyof typeof shownColumns>;
/** The user's shown columns, or null when the user no longer exists. */
const readShownUser = (db: Database, userId: string): Promise<PresenceUser | null> => db.user.findUnique({ where: { id: userId }, select: shownColumns });

/**
 * The user of a change to hand out (`what`), as {@link readShownUser} reads
 * it, tried again while the database does not answer ({@link readToShow}):
 * the changes after it wait for it. Undefined once the last try failed.
 */
export const readUserToShow = (db: Database, logger: Logger, userId: string, what: string): Promise<PresenceUser | null | undefined> =>
  readToShow(() => readShownUser(db, userId), { logger, context: { userId }, what: `the user of ${what}`, otherwise: 'not handed out' });

/** A change as this instance hands it out: with its user, or null when the user no longer exists. */
export interface HandedOutChange extends PresenceChanged {
  user: PresenceUser | null;
}
export type ShownChange = HandedOutChange & { user: PresenceUser };

export interface Presence {
  /** The user's status as this instance knows it now (kept from the bus; OFFLINE when unknown). */
  statusNow(userId: string): PresenceStatus;
  /** Users ONLINE or AWAY anywhere in the cluster. */
  onlineUserIds(): Promise<string[]>;
  /** The user's own choice (ONLINE or AWAY); a user with no socket stays OFFLINE. Returns the status now. */
  set(userId: string, status: 'ONLINE' | 'AWAY'): Promise<PresenceStatus>;
  /** Notes an operation by the user (throttled); brings an idle user back ONLINE. */
  activity(userId: string): void;
  /**
   * Calls `listener` on this instance for every change anywhere in the
   * cluster, in order, each change one object for all listeners; with
   * `about`, only for the users it accepts (a change no listener wants is
   * not read from the database).
   */
  onChange(listener: (change: HandedOutChange) => void, about?: (userId: string) => boolean): () => void;
  /** The changes of users who exist, from now on (the `presence` subscription). */
  stream(): EventStream<ShownChange>;
  stop(): void;
}

/** How often one instance records a user's activity in shared state, at most. */
const activityWriteMs = 5000;

/**
 * How long an instance remembers the number of a user's OFFLINE change. A
 * copy of an older change comes at most one reconnect late (ioredis resends
 * a command once, at its first reconnection: adapters/redis.ts), so minutes
 * are ample; after that the user's bound is the `floor` of all the users
 * forgotten, so the map holds the users online plus those who left lately.
 */
const rememberDepartedMs = 5 * 60_000;

const isShown = (change: HandedOutChange): change is ShownChange => change.user !== null;

export async function createPresence(infra: Pick<Infra, 'state' | 'bus' | 'config' | 'logger' | 'db'>, slots: Slots, recovery: Recovery): Promise<Presence> {
  const { state, bus, config, logger, db } = infra;
  /** Each listener, with the users it wants changes of (all when undefined). */
  const listeners = new Map<(change: HandedOutChange) => void, ((userId: string) => boolean) | undefined>();
  const wanted = (userId: string) => [...listeners].filter(([, about]) => !about || about(userId)).map(([listener]) => listener);
  const lastWrite = new Map<string, number>();

  const publish = (userId: string, status: PresenceStatus, seq: number) =>
    bus.publish<PresenceChanged>(Channels.presenceChanged, { userId, status, at: new Date().toISOString(), seq });
  const apply = async (userId: string, input: PresenceInput): Promise<PresenceStatus> => {
    const [now, changedTo, seq] = await state.run(transition, [Keys.presence, Keys.activity, Keys.presenceSeq], [userId, input, Date.now()]);
    if (changedTo) await publish(userId, changedTo, seq);
    return now;
  };
  const failed = (what: string) => (error: unknown) => logger.warn({ err: String(error) }, `presence: could not ${what}`);

  /** Per user, the status and number of the last change handed out here: users not OFFLINE, and OFFLINE ones in `departed`. */
  const handedOut = new Map<string, { status: PresenceStatus; seq: number }>();
  /** Users last handed out as OFFLINE, oldest first, with when to forget them. */
  const departed = new Map<string, number>();
  /** Every change numbered at most this is old news here, whoever its user (the last shared read, the users forgotten). */
  let floor = 0;
  const forgetDeparted = (now: number) => {
    for (const [userId, until] of departed) {
      if (until > now) return;
      departed.delete(userId);
      floor = Math.max(floor, handedOut.get(userId)!.seq);
      handedOut.delete(userId);
    }
  };

  /** Deliveries wait for their user's row, in the order their changes were handed out. */
  const deliverInOrder = inOrder<HandedOutChange>((handed) => {
    for (const listener of wanted(handed.userId)) listener(handed);
  }, failed('hand out a presence change'));
  const deliver = (change: PresenceChanged) => {
    if (wanted(change.userId).length === 0) return;
    deliverInOrder(readUserToShow(db, logger, change.userId, `a presence change (${change.status})`).then((user) => (user === undefined ? undefined : { ...change, user })));
  };

  const handOut = (change: PresenceChanged) => {
    const last = handedOut.get(change.userId);
    // Not newer than what was handed out (nor is a message without a number).
    if (!(change.seq > Math.max(last?.seq ?? 0, floor))) return;
    handedOut.set(change.userId, { status: change.status, seq: change.seq });
    departed.delete(change.userId);
    if (change.status === 'OFFLINE') departed.set(change.userId, Date.now() + rememberDepartedMs);
    // The same status under a newer number: a shared read finding nothing new, or the change in between was lost.
    if ((last?.status ?? 'OFFLINE') !== change.status) deliver(change);
  };
  /** The shared statuses and the number of the last change they reflect, read at once. */
  const readShared = async () => {
    const [seq, entries] = await state.run(presenceSnapshot, [Keys.presence, Keys.presenceSeq], []);
    const statuses = new Map<string, PresenceStatus>();
    for (let i = 0; i < entries.length; i += 2) statuses.set(entries[i]!, reportedStatus(entries[i + 1]!));
    return { seq, statuses };
  };
  /**
   * Hands out the shared statuses as changes numbered as the read: what was
   * heard after the read is numbered higher and stays, and of two reads the
   * later one wins whichever comes back first. Users OFFLINE here and there
   * need nothing: the floor covers them.
   */
  const catchUp = ({ seq, statuses }: Awaited<ReturnType<typeof readShared>>) => {
    const at = new Date().toISOString();
    const online = [...handedOut].filter(([, last]) => last.status !== 'OFFLINE').map(([userId]) => userId);
    for (const userId of new Set([...online, ...statuses.keys()])) handOut({ userId, status: statuses.get(userId) ?? 'OFFLINE', at, seq });
    floor = Math.max(floor, seq);
  };

  const unsubscribe = await bus.subscribe<PresenceChanged>(Channels.presenceChanged, handOut);
  catchUp(await readShared());
  // After an outage Redis may have lost its state: read it once every instance has put its users back, not before
  // (their users would be handed out OFFLINE, then ONLINE again).
  const stopResume = bus.onResume(() => void recovery.settled().then(readShared).then(catchUp, failed('catch up on presence after the bus was back')));
  // Redis lost its state: this instance's users, with the status last handed out (an AWAY one as away by inactivity:
  // whether the user chose it is not known here).
  const stopRestoring = recovery.onLoss(async () => {
    const pairs = [...slots.localUsers()].flatMap((userId) => [userId, handedOut.get(userId)?.status === 'AWAY' ? 'IDLE' : 'ONLINE']);
    if (pairs.length === 0) return;
    const changes = await state.run(restorePresence, [Keys.presence, Keys.activity, Keys.presenceSeq], [Date.now(), ...pairs]);
    for (let i = 0; i < changes.length; i += 3) await publish(changes[i] as string, changes[i + 1] as PresenceStatus, changes[i + 2] as number);
  });
  const stopSeats = slots.onSeat((userId, taken) => {
    lastWrite.delete(userId);
    void apply(userId, taken ? 'connect' : 'disconnect').catch(failed('record a connection'));
  });
  // A seat's lease ends SLOT_LEASE_TTL after its last renewal (heartbeat): a
  // heartbeat older than PRESENCE_TIMEOUT means a lease ending before this.
  const aliveUntil = (now: number) => Math.max(now, now - config.PRESENCE_TIMEOUT * 1000 + config.SLOT_LEASE_TTL * 1000);
  const timer = setInterval(() => {
    const now = Date.now();
    forgetDeparted(now);
    state
      .run(checkPresence, [Keys.presence, Keys.activity, Keys.seats, Keys.presenceSeq], [aliveUntil(now), now - config.PRESENCE_AWAY_AFTER * 1000])
      .then(async (changes) => {
        for (let i = 0; i < changes.length; i += 3) await publish(changes[i] as string, changes[i + 1] as PresenceStatus, changes[i + 2] as number);
      })
      .catch(failed('check presence'));
  }, config.PRESENCE_CHECK_INTERVAL * 1000);
  timer.unref();

  const onChange = (listener: (change: HandedOutChange) => void, about?: (userId: string) => boolean) => {
    listeners.set(listener, about);
    return () => void listeners.delete(listener);
  };

  return {
    statusNow: (userId) => handedOut.get(userId)?.status ?? 'OFFLINE',
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
    onChange,
    stream: () =>
      eventStream<ShownChange>((push) =>
        onChange((change) => {
          if (isShown(change)) push(change);
        }),
      ),
    stop() {
      clearInterval(timer);
      stopSeats();
      stopResume();
      stopRestoring();
      unsubscribe();
    },
  };
}
