/**
 * A room's events, as every instance sees them: one bus subscription per
 * room per instance, fanned out locally to that instance's subscribers, so
 * a thousand subscribers of a room cost one Redis subscription. When the
 * bus is back after an outage, every room listened to here gets a
 * `changed` event: a change of access may have been lost, so each
 * subscriber checks its access again.
 *
 * A message is not published at all while no other instance listens to its
 * room (one instance, or a room whose members are all on this one): its
 * sender hands it to its own subscribers, and a publish would only come back
 * to it. An instance learns that it is alone from Redis's count of a
 * publish's receivers, and only for a room it listens to itself, where it
 * hears the `listening` event every instance publishes once it starts to
 * listen to a room (and again each time its bus is back). On that event it
 * publishes again, beginning with the last message it held back, which
 * the newcomer may have stored after it read the room's position: as the
 * first message past a gap, that makes it read what it missed from the store
 * (messages/live.ts). Nothing is held back while the bus is cut off, and an
 * instance that stops listening, or whose bus comes back, publishes the last
 * message it held back.
 */
import { Channels } from '../core/codes.ts';
import { metrics } from '../core/metrics.ts';
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
  | { type: 'deleted' }
  /** An instance has begun to listen to the room (handled here, never handed to listeners). */
  | { type: 'listening' };

export interface RoomFeed {
  /** Tells every instance, through the outbox: in order per room, retried, without waiting. */
  publish(roomId: string, event: Exclude<RoomEvent, { type: 'message' | 'listening' }>): void;
  /**
   * Tells the other instances of a stored message, as {@link publish} does,
   * while any listens to its room (see above); the sender offers it to its
   * own room at once (messages/live.ts). `record` is built only if it goes out.
   */
  publishMessage(roomId: string, seq: number, record: () => MessageRecord): void;
  /** Listens to a room's events on this instance; resolves once listening, to a function that stops it. */
  listen(roomId: string, listener: (event: RoomEvent) => void): Promise<() => void>;
  /** Calls `listener` when the bus is back after an outage: room events published meanwhile are lost. */
  onResume(listener: () => void): () => void;
  /** False while the bus is cut off: room events published meanwhile are not heard here. */
  readonly listening: boolean;
}

/** What this instance knows of the other instances' listening to a room it listens to. */
interface Listened {
  /** No other instance listened when a publish last counted its receivers, and none has said it began to since. */
  alone: boolean;
  /** Bumped by every `listening` heard and every outage: a count taken across a bump is stale. */
  epoch: number;
  /** The last message not published because the room was alone. */
  held?: HeldMessage;
}

interface HeldMessage {
  seq: number;
  record: () => MessageRecord;
}

export function createRoomFeed(bus: Bus, outbox: Outbox): RoomFeed {
  const listened = new Map<string, Listened>();

  function publishMessage(roomId: string, message: HeldMessage, room = listened.get(roomId)): void {
    if (room?.alone && bus.listening) {
      room.held = message;
      metrics.messagePublishesSkipped.inc();
      return;
    }
    if (room) room.held = undefined;
    const epoch = room?.epoch;
    const receivers = room && ((count: number) => void (count === 1 && room.epoch === epoch && listened.get(roomId) === room && (room.alone = true)));
    const event: RoomEvent = { type: 'message', message: message.record() };
    outbox.send(Channels.roomEvents(roomId), event, { roomId, event: event.type, seq: message.seq }, { elsewhere: true, receivers });
  }

  /** Another instance may listen now: publish from here on, the last message held back first. */
  function notAlone(roomId: string, room: Listened): void {
    room.alone = false;
    room.epoch++;
    if (room.held) publishMessage(roomId, room.held, room);
  }

  const sayListening = (roomId: string) => outbox.send(Channels.roomEvents(roomId), { type: 'listening' } satisfies RoomEvent, { roomId, event: 'listening' }, { elsewhere: true });

  const rooms = keyedListeners<RoomEvent, { unsubscribe: () => void; emit: (event: RoomEvent) => void }>(
    async (roomId, emit) => {
      const room: Listened = { alone: false, epoch: 0 };
      const unsubscribe = await bus.subscribe<RoomEvent>(Channels.roomEvents(roomId), (event) => (event.type === 'listening' ? notAlone(roomId, room) : emit(event)));
      listened.set(roomId, room);
      sayListening(roomId);
      return {
        unsubscribe: () => {
          listened.delete(roomId);
          notAlone(roomId, room);
          unsubscribe();
        },
        emit,
      };
    },
    ({ unsubscribe }) => unsubscribe(),
  );
  bus.onResume(() => {
    // What was said while this instance was cut off went unheard, and others may not have heard it.
    for (const [roomId, room] of listened) {
      notAlone(roomId, room);
      sayListening(roomId);
    }
    for (const room of rooms.resources()) void room.then(({ emit }) => emit({ type: 'changed' }), () => {});
  });
  return {
    get listening() {
      return bus.listening;
    },
    publish: (roomId, event) => outbox.send(Channels.roomEvents(roomId), event, { roomId, event: event.type }),
    publishMessage: (roomId, seq, record) => publishMessage(roomId, { seq, record }),
    onResume: (listener) => bus.onResume(listener),
    listen: async (roomId, listener) => (await rooms.listen(roomId, listener)).stop,
  };
}
