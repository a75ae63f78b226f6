/**
 * Messages: sending (validated, rate limited, idempotent, numbered in the
 * transaction that stores them), paging, and the gapless stream behind
 * roomMessages (replay from the store, then live from the room feed).
 */
import type { Viewer } from '../context.ts';
import type { Config } from '../core/config.ts';
import { isUniqueViolation, type Database, type Sql } from '../adapters/database.ts';
import type { SharedState } from '../adapters/state.ts';
import { ErrorCode } from '../core/codes.ts';
import { badInput, forbidden, hasCode, notFound } from '../core/errors.ts';
import { recordAudit } from '../auth/audit.ts';
import { consumeOrThrow, createRateLimiter } from '../adapters/rate-limit.ts';
import { eventStream } from '../utils/event-stream.ts';
import { maxInt32 } from '../core/ids.ts';
import { checkText } from '../core/text.ts';
import { metrics } from '../core/metrics.ts';
import type { Message, Room, User } from '../generated/prisma/client.ts';
import type { Logger } from '../core/logger.ts';
import type { RoomFeed } from '../rooms/feed.ts';
import { canManage, lostAccess } from '../rooms/access.ts';
import type { Rooms } from '../rooms/service.ts';
import { sendAdmission } from './admission.ts';
import { createLiveRooms, toRecord, type LiveEvent } from './live.ts';
import { authorColumns, createMessageStore, rangeLimit } from './store.ts';

/** What roomMessages streams: messages, then possibly a last item saying why it ended. */
export type StreamItem = MessageWithAuthor | typeof lostAccess | Error;

/** A message with its author's public columns and its room, as every path hands it to GraphQL (no read per delivery). */
export type MessageWithAuthor = Message & { author: Pick<User, (typeof authorColumns)[number]>; room: Room };

const idempotencyWindowMs = 24 * 60 * 60 * 1000;

/** Opaque message cursor, ordered within its room. */
export const encodeCursor = (seq: number): string => Buffer.from(`m:${seq}`).toString('base64url');
/** The sequence number in a message cursor; BAD_USER_INPUT on `field` for anything no message can have (seq is a 32-bit column). */
export function decodeCursor(cursor: string, field: string): number {
  const match = /^m:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match || Number(match[1]) > maxInt32) throw badInput(field, 'Not a valid message cursor.');
  return Number(match[1]);
}

export interface Messages {
  send(viewer: Viewer, roomId: string, body: string, idempotencyKey?: string | null): Promise<MessageWithAuthor>;
  /** Newest last: the `last` messages before `before` (exclusive). */
  page(viewer: Viewer, roomId: string, last: number, before: number | null): Promise<{ messages: MessageWithAuthor[]; hasPrevious: boolean }>;
  /**
   * Messages after seq `after` (replayed from the store), then live ones, in
   * order, no gap, no duplicate; without `after`, live ones only. When the
   * viewer loses access it yields {@link lostAccess} and ends; when the store
   * fails during the replay it yields the error and ends.
   */
  stream(viewer: Viewer, roomId: string, after: number | null): Promise<AsyncIterableIterator<StreamItem>>;
  /**
   * Deletes a message: its author while it still has access to the room, the
   * room's owner, or an admin (those two are audited: message_deleted). A
   * message of a room the viewer may not see is NOT_FOUND, like the room.
   * Its sequence number is not reused; subscribers that had it keep it.
   */
  remove(viewer: Viewer, messageId: string, ip?: string | null): Promise<void>;
  /**
   * The cursor of the room's newest message, or of its start while it has
   * none: a stream from it misses nothing stored after this read. Null when
   * the viewer may not read the room.
   */
  latestCursor(viewer: Viewer, roomId: string): Promise<string | null>;
  /** Whether a send begun now would be refused as overloaded: see admission.ts. */
  refusesSends(): boolean;
}

export function createMessages(deps: { db: Database; sql: Sql; config: Config; state: SharedState; feed: RoomFeed; rooms: Rooms; logger: Logger }): Messages {
  const { db, sql, config, state, feed, rooms } = deps;
  const store = createMessageStore(sql);
  const live = createLiveRooms({ ...deps, store });
  const perUser = createRateLimiter(state, { name: 'message-user', points: config.MESSAGE_RATE_PER_USER, windowSeconds: config.MESSAGE_RATE_WINDOW, group: 'message' });
  const perRoom = createRateLimiter(state, { name: 'message-room', points: config.MESSAGE_RATE_PER_ROOM, windowSeconds: config.MESSAGE_RATE_WINDOW, group: 'message' });

  const admission = sendAdmission(config.SEND_QUEUE_MAX_WAIT);

  /** A send once its input is valid: access, idempotency, both rate limits, the store, then delivery. */
  async function accept(viewer: Viewer, roomId: string, body: string, idempotencyKey: string | null): Promise<MessageWithAuthor> {
    await live.accessible(viewer, roomId, () => rooms.accessible(viewer, roomId));
    const earlier = idempotencyKey == null ? null : await store.findByKey(roomId, viewer.userId, idempotencyKey);
    if (earlier && Date.now() - earlier.createdAt.getTime() < idempotencyWindowMs) return earlier;
    await consumeOrThrow(
      { limiter: perUser, key: viewer.userId, message: 'You are sending too fast; try again later.' },
      { limiter: perRoom, key: roomId, message: 'This room receives too many messages; try again later.' },
    );
    // A key older than the window is free again (freed only once the send is accepted).
    if (earlier) await db.message.updateMany({ where: { id: earlier.id }, data: { idempotencyKey: null } });
    let message: MessageWithAuthor | null;
    try {
      message = await store.insert(roomId, viewer.userId, body, idempotencyKey);
    } catch (error) {
      // A retry racing its original: the first one stored wins.
      if (idempotencyKey != null && isUniqueViolation(error)) {
        const earlier = await store.findByKey(roomId, viewer.userId, idempotencyKey);
        if (earlier) return earlier;
      }
      throw error;
    }
    // The room was deleted since the access check.
    if (!message) throw notFound('Room');
    metrics.messagesStored.inc();
    // This instance's subscribers have it now; the others through the outbox, which retries a failed publish.
    // Meanwhile they find it in the store when the next one comes or when their bus is back, and a late copy is dropped as a duplicate.
    live.offer(message);
    feed.publishMessage(message.roomId, message.seq, () => toRecord(message));
    return message;
  }

  return {
    async send(viewer, roomId, body, idempotencyKey) {
      checkText(body, 'body', { what: 'A message', min: 1, max: config.MESSAGE_MAX_LENGTH, kind: 'text' });
      if (idempotencyKey != null) checkText(idempotencyKey, 'idempotencyKey', { what: 'An idempotency key', min: 1, max: 128, kind: 'name' });
      return admission.run(() => accept(viewer, roomId, body, idempotencyKey ?? null));
    },

    async page(viewer, roomId, last, before) {
      await rooms.accessible(viewer, roomId);
      const rows = await db.message.findMany({
        where: { roomId, ...(before === null ? {} : { seq: { lt: before } }) },
        orderBy: { seq: 'desc' },
        take: last + 1,
        include: { author: true, room: true },
      });
      return { messages: rows.slice(0, last).reverse(), hasPrevious: rows.length > last };
    },

    async stream(viewer, roomId, from) {
      await rooms.accessible(viewer, roomId);
      // Until the replay is done, live messages wait and a loss of access is only noted.
      const held: MessageWithAuthor[] = [];
      let lost = false;
      let onMessage = (message: MessageWithAuthor): void => void held.push(message);
      let onLost = (): void => void (lost = true);
      // Listen first, then read the store: nothing committed in between is missed.
      const { room, stop } = await live.open(roomId, (event: LiveEvent) => {
        if (event.type === 'message') onMessage(event.message);
        else if (event.type === 'deleted' || (event.type === 'left' && event.userId === viewer.userId)) onLost();
        else if (event.type === 'changed') void rooms.stillAccessible(viewer, roomId).then((ok) => ok || onLost());
      });
      let lastSeq = from ?? room.seq;

      return eventStream<StreamItem>((push, end) => {
        let stopped = false;
        const deliver = (message: MessageWithAuthor) => {
          if (message.seq <= lastSeq) return;
          lastSeq = message.seq;
          push(message);
        };
        const goLive = () => {
          onLost = () => end(lostAccess);
          if (lost) return onLost();
          for (const message of held.splice(0)) deliver(message);
          onMessage = deliver;
        };
        if (from === null) goLive();
        else {
          void (async () => {
            try {
              for (;;) {
                const batch = await store.range(roomId, lastSeq);
                if (stopped) return;
                for (const message of batch) deliver(message);
                if (batch.length < rangeLimit) break;
              }
              goLive();
            } catch (error) {
              // The store failed mid-replay: the stream ends with the error; the client resumes from its last cursor.
              end(error instanceof Error ? error : new Error(String(error)));
            }
          })();
        }
        return () => {
          stopped = true;
          stop();
        };
      });
    },

    async remove(viewer, messageId, ip) {
      const message = await db.message.findUnique({ where: { id: messageId }, select: { roomId: true, authorId: true } });
      if (!message) throw notFound('Message');
      const room = await rooms.visible(viewer, message.roomId).catch((error: unknown) => {
        throw hasCode(error, ErrorCode.NOT_FOUND) ? notFound('Message') : error;
      });
      const own = message.authorId === viewer.userId;
      if (!canManage(viewer, room)) {
        if (!own) throw forbidden('Only its author, the room owner or an admin may delete a message.');
        await rooms.accessible(viewer, room.id);
      }
      const { count } = await db.message.deleteMany({ where: { id: messageId } });
      if (count === 0) throw notFound('Message');
      if (!own) await recordAudit({ db, logger: deps.logger }, { kind: 'message_deleted', userId: viewer.userId, ip, detail: { roomId: room.id, messageId, authorId: message.authorId } });
    },

    refusesSends: () => admission.refuses(),

    async latestCursor(viewer, roomId) {
      try {
        return encodeCursor((await rooms.accessible(viewer, roomId)).lastSeq);
      } catch (error) {
        if (hasCode(error, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND)) return null;
        throw error;
      }
    },
  };
}
