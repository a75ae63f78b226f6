/**
 * The message table, as the messages service and the live rooms read and
 * write it, in direct statements (see adapters/database.ts for why). A send is
 * one statement, shared with the sends made meanwhile (utils/group-commit.ts):
 * number the message in its room and store it, returning it with its room and
 * author, so that delivery reads nothing more. Every read
 * returns the same shape, so replay, gap reads and sends hand GraphQL alike.
 */
import { isTransactionConflict, isUniqueViolation, timestampFromJson, type Sql, type Statement } from '../adapters/database.ts';
import { groupCommit, type Outcome } from '../utils/group-commit.ts';
import { uuidv7 } from '../core/ids.ts';
import { metrics } from '../core/metrics.ts';
import { roomFromJson, type RoomJson } from '../rooms/reads.ts';
import type { MessageWithAuthor } from './service.ts';

/** The author's columns a message carries to its readers (never the password hash). */
export const authorColumns = ['id', 'username', 'email', 'roles', 'createdAt'] as const;

/** A message row, its room and its author's public columns, each as JSON. */
const selectWithRoomAndAuthor = `row_to_json(m) AS "message", row_to_json(r) AS "room",
  json_build_object(${authorColumns.map((column) => `'${column}', u."${column}"`).join(', ')}) AS "author"`;

/**
 * One send: the room's counter moves by one and the message takes the new
 * number. The room row stays locked until the statement commits, so that
 * concurrent sends to a room are numbered one after another; `waiting`
 * decides whether a row another transaction holds is waited for or skipped
 * (no row comes back, as for a deleted room).
 */
const insertStatement = (name: string, waiting: boolean): Statement => ({
  name,
  text: `
WITH locked AS MATERIALIZED (SELECT "id" FROM "Room" WHERE "id" = $1::uuid FOR NO KEY UPDATE${waiting ? '' : ' SKIP LOCKED'}),
r AS (UPDATE "Room" SET "lastSeq" = "lastSeq" + 1, "lastActivityAt" = $6::timestamp(3) WHERE "id" = (SELECT "id" FROM locked) RETURNING *),
m AS (
  INSERT INTO "Message" ("id", "roomId", "seq", "authorId", "body", "idempotencyKey", "createdAt")
  SELECT $2::uuid, r."id", r."lastSeq", $3::uuid, $4, $5, $6::timestamp(3) FROM r
  RETURNING *
)
SELECT ${selectWithRoomAndAuthor} FROM m JOIN r ON true JOIN "User" u ON u."id" = m."authorId"`,
});
const insert = insertStatement('message.insert', true);
const insertUnlessLocked = insertStatement('message.insert-unless-locked', false);

/**
 * Many sends in one statement (group commit): each room's counter moves by
 * its number of messages, which take the numbers in the order given. A room
 * whose row another transaction holds (another instance's batch, a room
 * being changed or deleted) is skipped rather than waited for: its sends
 * come back without a row and go on their own (see `insert`), so that one
 * busy room never holds up the sends to every other.
 */
const insertMany: Statement = {
  name: 'message.insert-many',
  text: `
WITH i AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS i("ord" int, "id" uuid, "roomId" uuid, "authorId" uuid, "body" text, "idempotencyKey" text, "createdAt" timestamp(3))
),
n AS (SELECT "roomId", count(*)::int AS "count", max("createdAt") AS "at" FROM i GROUP BY "roomId"),
locked AS MATERIALIZED (SELECT "id" FROM "Room" WHERE "id" IN (SELECT "roomId" FROM n) ORDER BY "id" FOR NO KEY UPDATE SKIP LOCKED),
r AS (
  UPDATE "Room" SET "lastSeq" = "Room"."lastSeq" + n."count", "lastActivityAt" = n."at"
  FROM n JOIN locked ON locked."id" = n."roomId" WHERE "Room"."id" = n."roomId"
  RETURNING "Room".*
),
m AS (
  INSERT INTO "Message" ("id", "roomId", "seq", "authorId", "body", "idempotencyKey", "createdAt")
  SELECT i."id", i."roomId", r."lastSeq" - n."count" + (row_number() OVER (PARTITION BY i."roomId" ORDER BY i."ord"))::int, i."authorId", i."body", i."idempotencyKey", i."createdAt"
  FROM i JOIN n ON n."roomId" = i."roomId" JOIN r ON r."id" = i."roomId"
  RETURNING *
)
SELECT ${selectWithRoomAndAuthor} FROM m JOIN r ON r."id" = m."roomId" JOIN "User" u ON u."id" = m."authorId"`,
};

/** A batched send whose room the batch skipped (locked by another transaction, or deleted): it is stored on its own. */
const skipped = Symbol('skipped');

const fromStore = `FROM "Message" m JOIN "Room" r ON r."id" = m."roomId" JOIN "User" u ON u."id" = m."authorId"`;

const findByKey: Statement = {
  name: 'message.find-by-key',
  text: `SELECT ${selectWithRoomAndAuthor} ${fromStore} WHERE m."roomId" = $1::uuid AND m."authorId" = $2::uuid AND m."idempotencyKey" = $3`,
};

/** Most messages one `range` read returns. */
export const rangeLimit = 500;

const range: Statement = {
  name: 'message.range',
  text: `SELECT ${selectWithRoomAndAuthor} ${fromStore}
WHERE m."roomId" = $1::uuid AND m."seq" > $2::int AND ($3::int IS NULL OR m."seq" < $3::int)
ORDER BY m."seq" LIMIT ${rangeLimit}`,
};

type Row = {
  message: Omit<MessageWithAuthor, 'room' | 'author' | 'createdAt'> & { createdAt: string };
  room: RoomJson;
  author: Omit<MessageWithAuthor['author'], 'createdAt'> & { createdAt: string };
};

const fromRow = ({ message, room, author }: Row): MessageWithAuthor => ({
  ...message,
  createdAt: timestampFromJson(message.createdAt),
  room: roomFromJson(room),
  author: { ...author, createdAt: timestampFromJson(author.createdAt) },
});

/** A send as the store writes it. */
interface NewMessage {
  id: string;
  roomId: string;
  authorId: string;
  body: string;
  idempotencyKey: string | null;
  createdAt: string;
}

/** Most sends one statement stores. */
const insertBatchLimit = 256;

export interface MessageStore {
  /** Messages with seq after `afterSeq` (and before `beforeSeq`, when given), in order, at most {@link rangeLimit}. */
  range(roomId: string, afterSeq: number, beforeSeq?: number): Promise<MessageWithAuthor[]>;
  /**
   * Stores a message as the room's next one, with the sends made meanwhile
   * (one statement for them all); null when the room is gone. Throws a unique
   * violation for a key already used.
   */
  insert(roomId: string, authorId: string, body: string, idempotencyKey: string | null): Promise<MessageWithAuthor | null>;
  /** The message this author sent to this room with this idempotency key, if any. */
  findByKey(roomId: string, authorId: string, idempotencyKey: string): Promise<MessageWithAuthor | null>;
}

export function createMessageStore(sql: Sql): MessageStore {
  const first = (rows: Row[]) => (rows[0] ? fromRow(rows[0]) : null);
  // A timestamp(3) holds UTC (as Prisma writes it); PostgreSQL ignores the zone of the ISO string.
  const insertOne = async ({ id, roomId, authorId, body, idempotencyKey, createdAt }: NewMessage, statement = insert) => {
    metrics.messageStatements.inc();
    return first(await sql.rows<Row>(statement, [roomId, id, authorId, body, idempotencyKey, createdAt]));
  };
  /** A batch's send on its own: a locked room is skipped, not waited for. */
  const one = (item: NewMessage): Promise<Outcome<MessageWithAuthor | typeof skipped>> =>
    insertOne(item, insertUnlessLocked).then(
      (value) => ({ ok: true, value: value ?? skipped }),
      (error: unknown) => ({ ok: false, error }),
    );
  const write = groupCommit<NewMessage, MessageWithAuthor | typeof skipped>({
    maxBatch: insertBatchLimit,
    async run(items) {
      if (items.length === 1) return [await one(items[0]!)];
      let rows: Row[];
      try {
        metrics.messageStatements.inc();
        rows = await sql.rows<Row>(insertMany, [JSON.stringify(items.map((item, ord) => ({ ...item, ord })))]);
      } catch (error) {
        // One row's key already used (a retry racing its original), or a conflict PostgreSQL broke:
        // each send on its own, so that only the one at fault fails.
        if (!isUniqueViolation(error) && !isTransactionConflict(error)) throw error;
        const outcomes = [];
        for (const item of items) outcomes.push(await one(item));
        return outcomes;
      }
      const stored = new Map(rows.map((row) => [row.message.id, row]));
      return items.map(({ id }) => ({ ok: true, value: stored.has(id) ? fromRow(stored.get(id)!) : skipped }));
    },
  });
  return {
    range: async (roomId, afterSeq, beforeSeq) => (await sql.rows<Row>(range, [roomId, afterSeq, beforeSeq ?? null])).map(fromRow),
    async insert(roomId, authorId, body, idempotencyKey) {
      const item = { id: uuidv7(), roomId, authorId, body, idempotencyKey, createdAt: new Date().toISOString() };
      const written = await write(item);
      // On its own, the statement waits for the room's row, or finds the room gone (null).
      return written === skipped ? insertOne(item) : written;
    },
    findByKey: async (roomId, authorId, idempotencyKey) => first(await sql.rows<Row>(findByKey, [roomId, authorId, idempotencyKey])),
  };
}
