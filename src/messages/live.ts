/**
 * A room's live messages as this instance sees them: in sequence order,
 * with no gap and no duplicate, once per instance rather than once per
 * subscriber. The bus may deliver messages out of commit order (two senders
 * commit 7 then 8 but publish 8 first) or lose one (Redis was down when it
 * was published); the first message past a gap makes this read the gap from
 * the store, once for every subscriber of the room. When the bus comes back
 * after an outage, each open room reads what was stored meanwhile, so a
 * message whose publish was lost arrives without waiting for the next one.
 */
import type { Database } from '../infra/database.ts';
import type { Logger } from '../infra/logger.ts';
import type { MessageRecord, RoomEvent, RoomFeed } from '../rooms/feed.ts';
import type { MessageWithAuthor } from './service.ts';

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
}

/** How long to wait before reading a gap again after the store failed to answer. */
const gapRetryMs = 1000;
const gapReadLimit = 500;
/** After the bus is back, how long before reading the store: its channels are being subscribed again meanwhile. */
const resumeSettleMs = 200;

export function createLiveRooms(deps: { db: Database; feed: RoomFeed; logger: Logger }): LiveRooms {
  const { db, feed, logger } = deps;
  const rooms = new Map<string, { listeners: Set<(event: LiveEvent) => void>; ready: Promise<{ room: LiveRoom; stop: () => void; catchUp: () => void }> }>();
  feed.onResume(() => {
    setTimeout(() => {
      for (const entry of rooms.values()) void entry.ready.then(({ catchUp }) => catchUp(), () => {});
    }, resumeSettleMs).unref();
  });

  const readBetween = (roomId: string, afterSeq: number, beforeSeq?: number) =>
    db.message.findMany({
      where: { roomId, seq: { gt: afterSeq, ...(beforeSeq === undefined ? {} : { lt: beforeSeq }) } },
      orderBy: { seq: 'asc' },
      take: gapReadLimit,
      include: { author: true, room: true },
    });

  function start(roomId: string, listeners: Set<(event: LiveEvent) => void>) {
    const room = { seq: 0 };
    let opened = false;
    let closed = false;
    /** Events that arrived while the room was opening or a gap was being read, in arrival order. */
    const held: RoomEvent[] = [];
    let filling = false;

    const emit = (event: LiveEvent) => {
      for (const listener of listeners) listener(event);
    };

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
            emit({ type: 'message', message: fromRecord(event.message) });
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
      readBetween(roomId, room.seq, beforeSeq).then(
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
          logger.warn({ roomId, err: String((error as Error)?.message ?? error).split('\n').pop() }, 'room gap read failed; retrying');
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
      readBetween(roomId, room.seq).then(
        (rows) => {
          if (closed) return;
          for (const row of rows) held.push({ type: 'message', message: toRecord(row) });
          if (!filling) drain();
          if (rows.length === gapReadLimit) catchUp();
        },
        (error: unknown) => logger.warn({ roomId, err: String((error as Error)?.message ?? error).split('\n').pop() }, 'room catch-up read failed'),
      );
    };

    const ready = feed
      .listen(roomId, (event) => {
        held.push(event);
        if (opened && !filling) drain();
      })
      .then(async (stopListening) => {
        try {
          room.seq = (await db.room.findUnique({ where: { id: roomId }, select: { lastSeq: true } }))?.lastSeq ?? 0;
        } catch (error) {
          stopListening();
          throw error;
        }
        opened = true;
        drain();
        return {
          room: room as LiveRoom,
          catchUp,
          stop: () => {
            closed = true;
            stopListening();
          },
        };
      });
    return ready;
  }

  return {
    async open(roomId, listener) {
      let entry = rooms.get(roomId);
      if (!entry) {
        const listeners = new Set<(event: LiveEvent) => void>();
        const created = { listeners, ready: start(roomId, listeners) };
        entry = created;
        rooms.set(roomId, created);
        created.ready.catch(() => rooms.get(roomId) === created && rooms.delete(roomId));
      }
      const current = entry;
      current.listeners.add(listener);
      let opened;
      try {
        opened = await current.ready;
      } catch (error) {
        current.listeners.delete(listener);
        throw error;
      }
      const { room, stop } = opened;
      return {
        room,
        stop() {
          if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
          if (rooms.get(roomId) === current) rooms.delete(roomId);
          stop();
        },
      };
    },
  };
}

/** A stored message as the feed carries it (dates as strings, the author's public columns). */
export function toRecord(message: MessageWithAuthor): MessageRecord {
  const { id, username, email, roles, createdAt } = message.author;
  return {
    ...message,
    createdAt: message.createdAt.toISOString(),
    author: { id, username, email, roles, createdAt: createdAt.toISOString() },
    room: { ...message.room, createdAt: message.room.createdAt.toISOString() },
  };
}

/** A feed record back to the shape the store gives (dates as Dates). */
function fromRecord(record: MessageRecord): MessageWithAuthor {
  return {
    ...record,
    createdAt: new Date(record.createdAt),
    author: { ...record.author, createdAt: new Date(record.author.createdAt) },
    room: { ...record.room, createdAt: new Date(record.room.createdAt) },
  };
}
