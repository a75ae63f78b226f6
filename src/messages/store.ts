/**
 * The message table, as the messages service and the live rooms read and
 * write it, in direct statements (see adapters/database.ts for why). A send is
 * one statement: number the message in its room and store it, returning it
 * with its room and author, so that delivery reads nothing more. Every read
 * returns the same shape, so replay, gap reads and sends hand GraphQL alike.
 */
import { timestampFromJson, type Sql, type Statement } from '../adapters/database.ts';
import { uuidv7 } from '../core/ids.ts';
import { roomFromJson, type RoomJson } from '../rooms/reads.ts';
import type { MessageWithAuthor } from './service.ts';

/** The author's columns a message carries to its readers (never the password hash). */
export const authorColumns = ['id', 'username', 'email', 'roles', 'createdAt'] as const;

/** A message row, its room and its author's public columns, each as JSON. */
const selectWithRoomAndAuthor = `row_to_json(m) AS "message", row_to_json(r) AS "room",
  json_build_object(${authorColumns.map((column) => `'${column}', u."${column}"`).join(', ')}) AS "author"`;

const insert: Statement = {
  name: 'message.insert',
  // The room row is locked by the UPDATE until the statement commits: concurrent sends to a room are numbered one after another.
  text: `
WITH r AS (UPDATE "Room" SET "lastSeq" = "lastSeq" + 1, "lastActivityAt" = $6::timestamp(3) WHERE "id" = $1::uuid RETURNING *),
m AS (
  INSERT INTO "Message" ("id", "roomId", "seq", "authorId", "body", "idempotencyKey", "createdAt")
  SELECT $2::uuid, r."id", r."lastSeq", $3::uuid, $4, $5, $6::timestamp(3) FROM r
  RETURNING *
)
SELECT ${selectWithRoomAndAuthor} FROM m JOIN r ON true JOIN "User" u ON u."id" = m."authorId"`,
};

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

export interface MessageStore {
  /** Messages with seq after `afterSeq` (and before `beforeSeq`, when given), in order, at most {@link rangeLimit}. */
  range(roomId: string, afterSeq: number, beforeSeq?: number): Promise<MessageWithAuthor[]>;
  /** Stores a message as the room's next one; null when the room is gone. Throws a unique violation for a key already used. */
  insert(roomId: string, authorId: string, body: string, idempotencyKey: string | null): Promise<MessageWithAuthor | null>;
  /** The message this author sent to this room with this idempotency key, if any. */
  findByKey(roomId: string, authorId: string, idempotencyKey: string): Promise<MessageWithAuthor | null>;
}

export function createMessageStore(sql: Sql): MessageStore {
  const first = (rows: Row[]) => (rows[0] ? fromRow(rows[0]) : null);
  return {
    range: async (roomId, afterSeq, beforeSeq) => (await sql.rows<Row>(range, [roomId, afterSeq, beforeSeq ?? null])).map(fromRow),
    // A timestamp(3) holds UTC (as Prisma writes it); PostgreSQL ignores the zone of the ISO string.
    insert: async (roomId, authorId, body, idempotencyKey) =>
      first(await sql.rows<Row>(insert, [roomId, uuidv7(), authorId, body, idempotencyKey, new Date().toISOString()])),
    findByKey: async (roomId, authorId, idempotencyKey) => first(await sql.rows<Row>(findByKey, [roomId, authorId, idempotencyKey])),
  };
}
