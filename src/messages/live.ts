/**
 * A room's live messages as this instance sees them: in sequence order,
 * with no gap and no duplicate, once per instance rather than once per
 * subscriber. The bus may deliver messages out of commit order (two senders
 * commit 7 then 8 but publish 8 first) or lose one (Redis was down when it
 * was published); the first message past a gap makes this read the gap from
 * the store, once for every subscriber of the room. When the bus comes back
 * after an outage, each open room reads what was stored meanwhile, so a
 * message whose publish was lost arrives without waiting for the next one.
 * A message stored by this instance is offered to its room here at once,
 * ahead of its echo from the bus (which then counts as a duplicate), as
 * Socket.IO emits to its local sockets before publishing to the others.
 *
 * An open room also remembers who was found to have access to it, until
 * the next event that may change access (someone left, the room changed or
 * was deleted, the bus came back after an outage), for at most a few
 * seconds: a member sending message after message is checked once every few
 * seconds, not once per message. Nothing is remembered while the bus is cut
 * off, when such events would go unheard; the time limit bounds what a bus
 * that stalls without disconnecting can hide.
 */
import type { Viewer } from '../context.ts';
import type { Database } from '../adapters/database.ts';
import type { Logger } from '../core/logger.ts';
import { lastLineOf } from '../utils/error-text.ts';
import type { MessageRecord, RoomEvent, RoomFeed } from '../rooms/feed.ts';
import type { MessageWithAuthor } from './service.ts';
import { keyedListeners } from '../utils/keyed-listeners.ts';
import { authorColumns, rangeLimit, type MessageStore } from './store.ts';

/**
 * What a listener of a live room gets: messages in order (the same object for
 * every listener, so fan-out executes it once), and the room's other events as they come.
 */
export type LiveEvent = { type: 'message'; message: MessageWithAuthor } | Exclude<RoomEvent, { type: 'message' }>;

export interface LiveRoom {
  /** The sequence number of the last message handed to listeners (or in the store when the room opened). */
  readonly seq: number;
}

export interface LiveRooms {
  /**
   * Listens to a room's live events; resolves once listening, to the room (its
   * `seq` then tells where this listener's messages start) and a stop function.
   */
  open(roomId: string, listener: (event: LiveEvent) => void): Promise<{ room: LiveRoom; stop: () => void }>;
  /** A message this instance has just stored: its room's listeners here get it now, in order (nothing happens when it has none). */
  offer(message: MessageWithAuthor): void;
  /**
   * Resolves when `viewer` has access to the room, as `check` (which throws
   * otherwise) decides: at once when an earlier check found it and nothing
   * that may change access has come since (see above).
   */
  accessible(viewer: Viewer, roomId: string, check: () => Promise<unknown>): Promise<void>;
}

/** Who was found to have access to an open room, since `version` last changed. */
interface KnownAccess {
  version: number;
  /** Access key -> until when it is trusted. */
  granted: Map<string, number>;
}

/** Access depends on the user and on the roles their session carries. */
const accessKey = (viewer: Viewer) => `${viewer.userId} ${viewer.roles.join(',')}`;
/** A bus that has stalled without disconnecting goes unnoticed: a grant is checked again after this long whatever. */
const accessTrustMs = 5000;

/** How long to wait before reading a gap again after the store failed to answer. */
const gapRetryMs = 1000;

export function createLiveRooms(deps: { db: Database; store: MessageStore; feed: RoomFeed; logger: Logger }): LiveRooms {
  const { db, store, feed, logger } = deps;

  const knownAccess = new Map<string, KnownAccess>();

  function start(roomId: string, emit: (event: LiveEvent) => void): Promise<{ room: LiveRoom; catchUp: () => void; arrived: (event: LiveEvent) => void; stop: () => void }> {
    const room = { seq: 0 };
    const access: KnownAccess = { version: 0, granted: new Map() };
    let opened = false;
    let closed = false;
    /** Events that arrived while the room was opening or a gap was being read, in arrival order. */
    const held: LiveEvent[] = [];
    let filling = false;

    /** Hands out held events in order until one needs a gap read first. */
    const drain = () => {
      while (held.length && !closed) {
        const event = held[0]!;
        if (event.type === 'message') {
          const { seq } = event.message;
          if (seq > room.seq + 1) return void fillGap(seq);
          held.shift();
          if (seq === room.seq + 1) {
            room.seq = seq;
            emit(event);
          }
        } else {
          held.shift();
          emit(event);
        }
      }
    };

    const fillGap = (beforeSeq: number) => {
      if (filling) return;
      filling = true;
      store.range(roomId, room.seq, beforeSeq).then(
        (rows) => {
          filling = false;
          if (closed) return;
          for (const row of rows) {
            if (row.seq <= room.seq) continue;
            room.seq = row.seq;
            emit({ type: 'message', message: row });
          }
          // An empty read: the missing numbers were never committed (a failed transaction); step over them.
          if (rows.length === 0) room.seq = beforeSeq - 1;
          drain();
        },
        (error: unknown) => {
          logger.warn({ roomId, err: lastLineOf(error) }, 'room gap read failed; retrying');
          setTimeout(() => {
            filling = false;
            if (!closed) drain();
          }, gapRetryMs).unref();
        },
      );
    };

    /** Reads what was stored after the last message handed out and hands it out like messages from the bus (in order, once). */
    const catchUp = () => {
      if (closed) return;
      store.range(roomId, room.seq).then(
        (rows) => {
          if (closed) return;
          for (const message of rows) held.push({ type: 'message', message });
          if (!filling) drain();
          if (rows.length === rangeLimit) catchUp();
        },
        (error: unknown) => logger.warn({ roomId, err: lastLineOf(error) }, 'room catch-up read failed'),
      );
    };

    /** An event from the bus or from this instance's own send, in the order it came. */
    const arrived = (event: LiveEvent) => {
      held.push(event);
      if (opened && !filling) drain();
    };

    const heard = (event: RoomEvent) => {
      if (event.type === 'message') {
        // Decoded once here: every listener then gets the same message object.
        return arrived({ type: 'message', message: fromRecord(event.message) });
      }
      if (event.type !== 'joined') {
        access.version++;
        access.granted.clear();
      }
      arrived(event);
    };
    const ready = feed
      .listen(roomId, heard)
      .then(async (stopListening) => {
        try {
          room.seq = (await db.room.findUnique({ where: { id: roomId }, select: { lastSeq: true } }))?.lastSeq ?? 0;
        } catch (error) {
          stopListening();
          throw error;
        }
        opened = true;
        knownAccess.set(roomId, access);
        drain();
        return {
          room: room as LiveRoom,
          catchUp,
          arrived,
          stop: () => {
            closed = true;
            if (knownAccess.get(roomId) === access) knownAccess.delete(roomId);
            stopListening();
          },
        };
      });
    return ready;
  }

  const rooms = keyedListeners(start, (opened) => opened.stop());
  feed.onResume(() => {
    for (const opening of rooms.resources()) void opening.then(({ catchUp }) => catchUp(), () => {});
  });

  return {
    async open(roomId, listener) {
      const { resource, stop } = await rooms.listen(roomId, listener);
      return { room: resource.room, stop };
    },
    offer(message) {
      void rooms.resource(message.roomId)?.then(({ arrived }) => arrived({ type: 'message', message }), () => {});
    },
    async accessible(viewer, roomId, check) {
      const access = knownAccess.get(roomId);
      if (!access || !feed.listening) return void (await check());
      const key = accessKey(viewer);
      if ((access.granted.get(key) ?? 0) > Date.now()) return;
      const version = access.version;
      await check();
      // Not when an event that may change access came during the check: what it read may be older.
      if (access.version === version && feed.listening) access.granted.set(key, Date.now() + accessTrustMs);
    },
  };
}

/** A stored message as the feed carries it (dates as strings, the author's public columns). */
export function toRecord(message: MessageWithAuthor): MessageRecord {
  const author = Object.fromEntries(authorColumns.map((column) => [column, message.author[column]])) as MessageWithAuthor['author'];
  return {
    ...message,
    createdAt: message.createdAt.toISOString(),
    author: { ...author, createdAt: author.createdAt.toISOString() },
    room: { ...message.room, createdAt: message.room.createdAt.toISOString(), lastActivityAt: message.room.lastActivityAt.toISOString() },
  };
}

/** A feed record back to the shape the store gives (dates as Dates). */
function fromRecord(record: MessageRecord): MessageWithAuthor {
  return {
    ...record,
    createdAt: new Date(record.createdAt),
    author: { ...record.author, createdAt: new Date(record.author.createdAt) },
    room: { ...record.room, createdAt: new Date(record.room.createdAt), lastActivityAt: new Date(record.room.lastActivityAt) },
  };
}
