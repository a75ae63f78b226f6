/**
 * Changes of who may see which room, as every instance hears them: one bus
 * channel (Channels.roomList), listened to on an instance only while
 * someone there subscribes to roomListChanges, shared by all of them. An
 * event says which room and what it looked like before; each instance
 * reads the room once per event for all its subscribers (rooms/service.ts).
 * An event published while the bus is cut off is not heard: once the bus is
 * back, subscribers are told to read their room list again, as a client
 * that reconnects does.
 */
import type { Bus } from '../infra/bus.ts';
import type { Outbox } from '../infra/outbox.ts';
import { Channels } from '../infra/codes.ts';
import { keyedListeners } from '../infra/keyed-listeners.ts';
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
  /** Told to every subscriber: the id of a room that no longer exists gives nothing away. */
  | { type: 'deleted'; roomId: string };

export interface RoomListFeed {
  /** Tells every instance, through the outbox (in order, retried, without waiting). */
  publish(event: RoomListEvent): void;
  /** Listens on this instance; resolves once listening, to a function that stops it. */
  listen(listener: (event: RoomListEvent) => void): Promise<() => void>;
  /** Calls `listener` when the bus is back after an outage: changes published meanwhile are lost. */
  onResume(listener: () => void): () => void;
}

export function createRoomListFeed(bus: Bus, outbox: Outbox): RoomListFeed {
  const channel = keyedListeners<RoomListEvent, () => void>(
    (_key, emit) => bus.subscribe<RoomListEvent>(Channels.roomList, emit),
    (unsubscribe) => unsubscribe(),
  );
  return {
    publish: (event) => outbox.send(Channels.roomList, event, { roomId: event.roomId }),
    listen: async (listener) => (await channel.listen('all', listener)).stop,
    onResume: (listener) => bus.onResume(listener),
  };
}
