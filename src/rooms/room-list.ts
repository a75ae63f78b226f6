/**
 * Changes of who may see which room, and of rooms' member counts, as every
 * instance hears them: one bus channel (Channels.roomList), listened to on
 * an instance only while someone there subscribes to roomListChanges,
 * shared by all of them. An event says which room and what it looked like
 * before; each instance reads the room once per event for all its
 * subscribers (rooms/service.ts). Member counts change with every join and
 * leave: an instance tells them at most once per interval per room.
 * An event published while the bus is cut off is not heard: once the bus is
 * back, subscribers are told to read their room list again, as a client
 * that reconnects does.
 */
import type { Bus } from '../adapters/bus.ts';
import type { Outbox } from '../adapters/outbox.ts';
import { Channels } from '../core/codes.ts';
import { keyedListeners } from '../utils/keyed-listeners.ts';
import type { Room } from '../generated/prisma/client.ts';
import type { Relation } from './access.ts';

/** What decides who sees a room. */
export type VisibilityRules = Pick<Room, 'permission' | 'ownerId' | 'allowedRoles'>;

/** The bus message of one change. */
export type RoomListEvent =
  | {
      type: 'changed';
      roomId: string;
      /** The rules before the change; null for a room just made. */
      before: VisibilityRules | null;
      /** Users whose membership or invitation the change made or ended, with what they had before; the others' is as read after. */
      relationsBefore?: Record<string, Relation>;
      /** Only these users' view can have changed (an invitation, a removal); without it, anyone's. */
      onlyFor?: string[];
    }
  /** Its member count changed (a join, a leave, a removal): nobody's view of it did, but for those told by a `changed`. */
  | { type: 'counted'; roomId: string }
  /** Told to every subscriber: the id of a room that no longer exists gives nothing away. */
  | { type: 'deleted'; roomId: string };

/** A member count change. */
export type CountedEvent = Extract<RoomListEvent, { type: 'counted' }>;

export interface RoomListFeed {
  /** Tells every instance, through the outbox (in order, retried, without waiting). */
  publish(event: RoomListEvent): void;
  /** Listens to changes of who sees which room, on this instance; resolves once listening, to a function that stops it. */
  listen(listener: (event: Exclude<RoomListEvent, CountedEvent>) => void): Promise<() => void>;
  /**
   * Listens to member count changes, on this instance: per room, the first
   * at once, then at most one per `countIntervalMs` (see throttledCounts).
   * Every listener here gets the same object for the same change.
   */
  listenToCounts(listener: (event: CountedEvent) => void): Promise<() => void>;
  /** Calls `listener` when the bus is back after an outage: changes published meanwhile are lost. */
  onResume(listener: () => void): () => void;
}

/**
 * Hands `counted` events on to `emit`, per room: the first at once, then at
 * most one per `intervalMs` (one for all those heard meanwhile), so that a
 * burst of joins is two reads and two changes for each viewer, not one per
 * join. What `emit` gets is the same object for every listener in a turn.
 */
function throttledCounts(intervalMs: number, emit: (event: CountedEvent) => void): (event: RoomListEvent) => void {
  /** Rooms told within the last interval, and whether they were counted again since. */
  const told = new Map<string, { again: boolean }>();
  const tell = (event: CountedEvent) => {
    const window = { again: false };
    told.set(event.roomId, window);
    emit(event);
    setTimeout(() => {
      told.delete(event.roomId);
      if (window.again) tell({ type: 'counted', roomId: event.roomId });
    }, intervalMs).unref();
  };
  return (event) => {
    if (event.type !== 'counted') return;
    const window = told.get(event.roomId);
    if (window) window.again = true;
    else tell(event);
  };
}

export function createRoomListFeed(bus: Bus, outbox: Outbox, countIntervalMs: number): RoomListFeed {
  const channel = keyedListeners<RoomListEvent, () => void>(
    (_key, emit) => bus.subscribe<RoomListEvent>(Channels.roomList, emit),
    (unsubscribe) => unsubscribe(),
  );
  // One throttle per instance, shared by every listener here: a burst of joins is two changes in all, not two each.
  const counts = keyedListeners<CountedEvent, () => void>(
    async (_key, emit) => (await channel.listen('all', throttledCounts(countIntervalMs, emit))).stop,
    (stop) => stop(),
  );
  return {
    publish: (event) => outbox.send(Channels.roomList, event, { roomId: event.roomId }),
    listen: async (listener) => (await channel.listen('all', (event) => event.type !== 'counted' && listener(event))).stop,
    listenToCounts: async (listener) => (await counts.listen('all', listener)).stop,
    onResume: (listener) => bus.onResume(listener),
  };
}
