/**
 * A room's events, as every instance sees them: one bus subscription per
 * room per instance, fanned out locally to that instance's subscribers, so
 * a thousand subscribers of a room cost one Redis subscription. When the
 * bus is back after an outage, every room listened to here gets a
 * `changed` event: a change of access may have been lost, so each
 * subscriber checks its access again.
 */
import { Channels } from '../core/codes.ts';
import type { Bus } from '../adapters/bus.ts';
import type { Outbox } from '../adapters/outbox.ts';
import { keyedListeners } from '../utils/keyed-listeners.ts';
import type { Room } from '../generated/prisma/client.ts';

/** A stored message as published after its commit: everything delivery needs, so it reads nothing. */
export interface MessageRecord {
  id: string;
  roomId: string;
  seq: number;
  authorId: string;
  body: string;
  idempotencyKey: string | null;
  createdAt: string;
  /** The author's public columns (never the password hash). */
  author: { id: string; username: string; email: string; roles: string[]; createdAt: string };
  /** The room's row as it was when the message was stored. */
  room: Omit<Room, 'createdAt' | 'lastActivityAt'> & { createdAt: string; lastActivityAt: string };
}

/** What happens in a room (Channels.roomEvents(roomId)). */
export type RoomEvent =
  | { type: 'message'; message: MessageRecord }
  | { type: 'joined' | 'left'; userId: string; at: string }
  /** Permission, roles or limits changed, or may have while the bus was down: subscribers re-check their access. */
  | { type: 'changed' }
  | { type: 'deleted' };

export interface RoomFeed {
  /**
   * Tells every instance, through the outbox: in order per room, retried,
   * without waiting. A message goes to the other instances only: the sender
   * offers it to its own room at once (messages/live.ts).
   */
  publish(roomId: string, event: RoomEvent): void;
  /** Listens to a room's events on this instance; resolves once listening, to a function that stops it. */
  listen(roomId: string, listener: (event: RoomEvent) => void): Promise<() => void>;
  /** Calls `listener` when the bus is back after an outage: room events published meanwhile are lost. */
  onResume(listener: () => void): () => void;
  /** False while the bus is cut off: room events published meanwhile are not heard here. */
  readonly listening: boolean;
}

export function createRoomFeed(bus: Bus, outbox: Outbox): RoomFeed {
  const rooms = keyedListeners<RoomEvent, { unsubscribe: () => void; emit: (event: RoomEvent) => void }>(
    async (roomId, emit) => ({ unsubscribe: await bus.subscribe<RoomEvent>(Channels.roomEvents(roomId), emit), emit }),
    ({ unsubscribe }) => unsubscribe(),
  );
  bus.onResume(() => {
    for (const room of rooms.resources()) void room.then(({ emit }) => emit({ type: 'changed' }), () => {});
  });
  return {
    get listening() {
      return bus.listening;
    },
    publish: (roomId, event) =>
      event.type === 'message'
        ? // Its sender has handed it to its own subscribers already (messages/live.ts `offer`).
          outbox.send(Channels.roomEvents(roomId), event, { roomId, event: event.type, seq: event.message.seq }, { elsewhere: true })
        : outbox.send(Channels.roomEvents(roomId), event, { roomId, event: event.type }),
    onResume: (listener) => bus.onResume(listener),
    listen: async (roomId, listener) => (await rooms.listen(roomId, listener)).stop,
  };
}
