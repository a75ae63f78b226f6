/**
 * Reading a room with the caller's relation to it (member, invited), in one
 * statement: every operation on a room starts here, and the access
 * re-checks of all the subscribers a room change reached are answered by one
 * read per turn.
 */
import type { Viewer } from '../context.ts';
import { timestampFromJson, type Sql, type Statement } from '../adapters/database.ts';
import { notFound } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { retryInBackground } from '../utils/retry.ts';
import { gatherInTurn } from '../utils/turns.ts';
import type { Room } from '../generated/prisma/client.ts';
import { canSee, hasAccess, type Relation } from './access.ts';

/** A room as `row_to_json` gives it. */
export type RoomJson = Omit<Room, 'createdAt' | 'lastActivityAt'> & { createdAt: string; lastActivityAt: string };
export const roomFromJson = (room: RoomJson): Room => ({ ...room, createdAt: timestampFromJson(room.createdAt), lastActivityAt: timestampFromJson(room.lastActivityAt) });

/**
 * The room and which of the users ($2) are its members and invited, as JSON
 * arrays: one user for an operation, every subscriber for a re-check.
 */
const loadRoom: Statement = {
  name: 'room.load',
  text: `
SELECT row_to_json(r) AS "room",
  (SELECT COALESCE(json_agg(m."userId"), '[]'::json) FROM "RoomMember" m WHERE m."roomId" = r."id" AND m."userId" = ANY($2::uuid[])) AS "members",
  (SELECT COALESCE(json_agg(i."userId"), '[]'::json) FROM "RoomInvite" i WHERE i."roomId" = r."id" AND i."userId" = ANY($2::uuid[])) AS "invited"
FROM "Room" r WHERE r."id" = $1::uuid`,
};

/** A viewer waiting for its access to a changed room to be checked again. */
interface Recheck {
  viewer: Viewer;
  answer: (ok: boolean) => void;
}
/** A failed re-check is tried again after 1, 2 and 4 s. */
const recheckRetries = 3;

/** A room and each asked user's relation to it. */
export interface LoadedRoom {
  room: Room;
  relationOf: (userId: string) => Relation;
}

export interface RoomReads {
  /** The room and each user's relation to it, in one statement; null when there is no such room. */
  read(roomId: string, userIds: string[]): Promise<LoadedRoom | null>;
  /** The room and the relation to it of each viewer waiting on it (every subscriber an event reached), in one statement. */
  readFor(roomId: string, waiting: { viewer: Viewer }[]): Promise<LoadedRoom | null>;
  /** The room and the viewer's relation to it; null when there is no such room or the viewer may not see it. */
  seenBy(viewer: Viewer, roomId: string): Promise<{ room: Room; relation: Relation } | null>;
  /** The room and the viewer's relation to it, else NOT_FOUND. */
  load(viewer: Viewer, roomId: string): Promise<{ room: Room; relation: Relation }>;
  /** See `Rooms.stillAccessible`. */
  stillAccessible(viewer: Viewer, roomId: string): Promise<boolean>;
}

export function createRoomReads({ sql, logger }: { sql: Sql; logger: Logger }): RoomReads {
  const read = async (roomId: string, userIds: string[]): Promise<LoadedRoom | null> => {
    const [row] = await sql.rows<{ room: RoomJson; members: string[]; invited: string[] }>(loadRoom, [roomId, userIds]);
    if (!row) return null;
    const members = new Set(row.members);
    const invited = new Set(row.invited);
    return { room: roomFromJson(row.room), relationOf: (userId) => ({ member: members.has(userId), invited: invited.has(userId) }) };
  };
  const readFor = (roomId: string, waiting: { viewer: Viewer }[]) => read(roomId, [...new Set(waiting.map(({ viewer }) => viewer.userId))]);
  const seenBy = async (viewer: Viewer, roomId: string) => {
    const loaded = await read(roomId, [viewer.userId]);
    if (!loaded) return null;
    const relation = loaded.relationOf(viewer.userId);
    return canSee(viewer, loaded.room, relation) ? { room: loaded.room, relation } : null;
  };
  /** Re-checks of one room asked for in the current turn, answered by one read. */
  const askRecheck = gatherInTurn<string, Recheck>((roomId, waiting) =>
    retryInBackground(
      async () => {
        const loaded = await readFor(roomId, waiting);
        for (const { viewer, answer } of waiting) answer(loaded !== null && hasAccess(viewer, loaded.room, loaded.relationOf(viewer.userId)));
      },
      {
        retries: recheckRetries,
        logger,
        context: { roomId, subscribers: waiting.length },
        retrying: 'access re-check failed; retrying',
        givingUp: 'access re-check failed; the subscriptions end',
        onGiveUp: () => waiting.forEach(({ answer }) => answer(false)),
      },
    ),
  );
  return {
    read,
    readFor,
    seenBy,
    async load(viewer, roomId) {
      const seen = await seenBy(viewer, roomId);
      if (!seen) throw notFound('Room');
      return seen;
    },
    stillAccessible: (viewer, roomId) => new Promise((answer) => askRecheck(roomId, { viewer, answer })),
  };
}
