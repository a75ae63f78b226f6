/**
 * Messages: sending (validated, rate limited, idempotent, numbered in the
 * transaction that stores them), paging, and the gapless stream behind
 * roomMessages (replay from the store, then live from the room feed).
 */
import type { Viewer } from '../context.ts';
import type { Config } from '../infra/config.ts';
import type { Database } from '../infra/database.ts';
import type { SharedState } from '../infra/state.ts';
import { badInput } from '../infra/errors.ts';
import { consumeOrThrow, createRateLimiter } from '../infra/rate-limit.ts';
import { eventStream } from '../infra/event-stream.ts';
import { metrics } from '../infra/metrics.ts';
import { Prisma, type Message, type Room, type User } from '../generated/prisma/client.ts';
import type { MessageRecord, RoomEvent, RoomFeed } from '../rooms/feed.ts';
import type { Rooms } from '../rooms/service.ts';

/** The last item of a stream whose viewer lost access to the room. */
export const lostAccess = Symbol('lost access');

/** A message with its author and room loaded, as every path hands it to GraphQL (no read per delivery). */
export type MessageWithAuthor = Message & { author: User; room: Room };

const idempotencyWindowMs = 24 * 60 * 60 * 1000;
const replayBatch = 500;
/** How long subscribers that saw the same gap reuse its read (they see it within a few milliseconds of each other). */
const gapReadReuseMs = 1000;
// Control characters other than tab (\t) and newline (\n).
const forbiddenControl = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

/** Opaque message cursor, ordered within its room. */
export const encodeCursor = (seq: number): string => Buffer.from(`m:${seq}`).toString('base64url');
export function decodeCursor(cursor: string, field: string): number {
  const match = /^m:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badInput(field, 'Not a valid message cursor.');
  return Number(match[1]);
}

const decoded = new WeakMap<MessageRecord, MessageWithAuthor>();

/**
 * A feed record back to the shape the store gives (dates as Dates). Every
 * subscriber of the room gets the same object, so fan-out executes it once.
 */
function fromRecord(record: MessageRecord): MessageWithAuthor {
  let message = decoded.get(record);
  if (!message) decoded.set(record, (message = decodeRecord(record)));
  return message;
}

function decodeRecord(record: MessageRecord): MessageWithAuthor {
  return {
    ...record,
    createdAt: new Date(record.createdAt),
    author: { ...record.author, createdAt: new Date(record.author.createdAt) } as User,
    room: { ...record.room, createdAt: new Date(record.room.createdAt) },
  };
}

function toRecord(message: MessageWithAuthor): MessageRecord {
  const { id, username, email, roles, createdAt } = message.author;
  return {
    ...message,
    createdAt: message.createdAt.toISOString(),
    author: { id, username, email, roles, createdAt: createdAt.toISOString() },
    room: { ...message.room, createdAt: message.room.createdAt.toISOString() },
  };
}

export interface Messages {
  send(viewer: Viewer, roomId: string, body: string, idempotencyKey?: string | null): Promise<MessageWithAuthor>;
  /** Newest last: the `last` messages before `before` (exclusive). */
  page(viewer: Viewer, roomId: string, last: number, before: number | null): Promise<{ messages: MessageWithAuthor[]; hasPrevious: boolean }>;
  /**
   * Messages after seq `after` (replayed from the store), then live ones, in
   * order, no gap, no duplicate; without `after`, live ones only. When the
   * viewer loses access it yields {@link lostAccess} and ends.
   */
  stream(viewer: Viewer, roomId: string, after: number | null): Promise<AsyncIterableIterator<MessageWithAuthor | typeof lostAccess>>;
}

export function createMessages(deps: { db: Database; config: Config; state: SharedState; feed: RoomFeed; rooms: Rooms }): Messages {
  const { db, config, state, feed, rooms } = deps;
  const perUser = createRateLimiter(state, { name: 'message-user', points: config.MESSAGE_RATE_PER_USER, windowSeconds: config.MESSAGE_RATE_WINDOW });
  const perRoom = createRateLimiter(state, { name: 'message-room', points: config.MESSAGE_RATE_PER_ROOM, windowSeconds: config.MESSAGE_RATE_WINDOW });

  const findByKey = (roomId: string, authorId: string, idempotencyKey: string) =>
    db.message.findUnique({ where: { roomId_authorId_idempotencyKey: { roomId, authorId, idempotencyKey } }, include: { author: true, room: true } });
  const between = (roomId: string, afterSeq: number, beforeSeq?: number) =>
    db.message.findMany({
      where: { roomId, seq: { gt: afterSeq, ...(beforeSeq === undefined ? {} : { lt: beforeSeq }) } },
      orderBy: { seq: 'asc' },
      take: replayBatch,
      include: { author: true, room: true },
    });
  /**
   * A message published ahead of one committed before it leaves the same gap
   * in every subscriber of the room on this instance: they share one read.
   */
  const gapReads = new Map<string, Promise<MessageWithAuthor[]>>();
  const readGap = (roomId: string, afterSeq: number, beforeSeq: number) => {
    const key = `${roomId}:${afterSeq}:${beforeSeq}`;
    let read = gapReads.get(key);
    if (!read) {
      read = between(roomId, afterSeq, beforeSeq);
      gapReads.set(key, read);
      const forget = () => void setTimeout(() => gapReads.delete(key), gapReadReuseMs).unref();
      read.then(forget, forget);
    }
    return read;
  };

  return {
    async send(viewer, roomId, body, idempotencyKey) {
      if (body.length < 1 || body.length > config.MESSAGE_MAX_LENGTH) throw badInput('body', `A message is 1 to ${config.MESSAGE_MAX_LENGTH} characters.`);
      if (forbiddenControl.test(body)) throw badInput('body', 'A message may not contain control characters other than newline and tab.');
      if (idempotencyKey != null && (idempotencyKey.length < 1 || idempotencyKey.length > 128)) throw badInput('idempotencyKey', 'An idempotency key is 1 to 128 characters.');
      await rooms.accessible(viewer, roomId);
      if (idempotencyKey != null) {
        const earlier = await findByKey(roomId, viewer.userId, idempotencyKey);
        if (earlier && Date.now() - earlier.createdAt.getTime() < idempotencyWindowMs) return earlier;
      }
      await consumeOrThrow(perUser, viewer.userId, 'You are sending too fast; try again later.');
      await consumeOrThrow(perRoom, roomId, 'This room receives too many messages; try again later.');
      let message: MessageWithAuthor;
      try {
        message = await db.$transaction(async (tx) => {
          // A key older than the window is free again.
          if (idempotencyKey != null) {
            await tx.message.updateMany({
              where: { roomId, authorId: viewer.userId, idempotencyKey, createdAt: { lte: new Date(Date.now() - idempotencyWindowMs) } },
              data: { idempotencyKey: null },
            });
          }
          const { lastSeq } = await tx.room.update({ where: { id: roomId }, data: { lastSeq: { increment: 1 } }, select: { lastSeq: true } });
          return tx.message.create({ data: { roomId, seq: lastSeq, authorId: viewer.userId, body, idempotencyKey: idempotencyKey ?? null }, include: { author: true, room: true } });
        });
      } catch (error) {
        // A retry racing its original: the first one stored wins.
        if (idempotencyKey != null && error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          const earlier = await findByKey(roomId, viewer.userId, idempotencyKey);
          if (earlier) return earlier;
        }
        throw error;
      }
      metrics.messagesStored.inc();
      await feed.publish(roomId, { type: 'message', message: toRecord(message) });
      return message;
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

    async stream(viewer, roomId, after) {
      await rooms.accessible(viewer, roomId);
      const live: MessageWithAuthor[] = [];
      let deliver: ((message: MessageWithAuthor) => void) | undefined;
      let revoked = false;
      let revoke = () => void (revoked = true);
      // Listen first, then read the store: nothing committed in between is missed.
      const stopListening = await feed.listen(roomId, (event: RoomEvent) => {
        if (event.type === 'message') {
          const message = fromRecord(event.message);
          if (deliver) deliver(message);
          else live.push(message);
        } else if (event.type === 'deleted' || (event.type === 'left' && event.userId === viewer.userId)) revoke();
        else if (event.type === 'changed') void rooms.stillAccessible(viewer, roomId).then((ok) => ok || revoke());
      });
      let lastSeq = after ?? (await db.room.findUnique({ where: { id: roomId }, select: { lastSeq: true } }))?.lastSeq ?? 0;

      return eventStream<MessageWithAuthor | typeof lostAccess>((push, end) => {
        let chain = Promise.resolve();
        const emit = (message: MessageWithAuthor) => {
          chain = chain.then(async () => {
            if (message.seq <= lastSeq) return;
            // A message published ahead of one committed before it: fetch what lies between.
            while (message.seq > lastSeq + 1) {
              const gap = await readGap(roomId, lastSeq, message.seq);
              if (gap.length === 0) break;
              for (const m of gap) push(m);
              lastSeq = gap.at(-1)!.seq;
            }
            push(message);
            lastSeq = message.seq;
          });
        };
        chain = chain.then(async () => {
          if (after === null) return;
          for (;;) {
            const batch = await between(roomId, lastSeq);
            for (const m of batch) push(m);
            if (batch.length) lastSeq = batch.at(-1)!.seq;
            if (batch.length < replayBatch) break;
          }
        });
        for (const message of live.splice(0)) emit(message);
        deliver = emit;
        revoke = () => {
          chain = chain.then(() => {
            push(lostAccess);
            end();
          });
        };
        if (revoked) revoke();
        return stopListening;
      });
    },
  };
}
