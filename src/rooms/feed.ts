/**
 * A room's events, as every instance sees them: one bus subscription per
 * room per instance, fanned out locally to that instance's subscribers, so
 * a thousand subscribers of a room cost one Redis subscription.
 */
import { Channels } from '../infra/codes.ts';
import type { Bus } from '../infra/bus.ts';
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
  room: Omit<Room, 'createdAt'> & { createdAt: string };
}

/** What happens in a room (Channels.roomEvents(roomId)). */
export type RoomEvent =
  | { type: 'message'; message: MessageRecord }
  | { type: 'joined' | 'left'; userId: string; at: string }
  /** Permission, roles or limits changed: subscribers re-check their access. */
  | { type: 'changed' }
  | { type: 'deleted' };

export interface RoomFeed {
  publish(roomId: string, event: RoomEvent): Promise<void>;
  /** Listens to a room's events on this instance; resolves once listening, to a function that stops it. */
  listen(roomId: string, listener: (event: RoomEvent) => void): Promise<() => void>;
  /** Calls `listener` when the bus is back after an outage: room events published meanwhile are lost. */
  onResume(listener: () => void): () => void;
}

export function createRoomFeed(bus: Bus): RoomFeed {
  const rooms = new Map<string, { listeners: Set<(event: RoomEvent) => void>; ready: Promise<() => void> }>();
  return {
    publish: (roomId, event) => bus.publish(Channels.roomEvents(roomId), event),
    onResume: (listener) => bus.onResume(listener),
    async listen(roomId, listener) {
      let room = rooms.get(roomId);
      if (!room) {
        const listeners = new Set<(event: RoomEvent) => void>();
        const ready = bus.subscribe<RoomEvent>(Channels.roomEvents(roomId), (event) => {
          for (const l of listeners) l(event);
        });
        room = { listeners, ready };
        rooms.set(roomId, room);
        ready.catch(() => rooms.delete(roomId));
      }
      room.listeners.add(listener);
      const entry = room;
      await entry.ready;
      return () => {
        entry.listeners.delete(listener);
        if (entry.listeners.size === 0 && rooms.get(roomId) === entry) {
          rooms.delete(roomId);
          void entry.ready.then((stop) => stop());
        }
      };
    },
  };
}
