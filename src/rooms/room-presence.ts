/**
 * roomPresence: a room's members joining and leaving, and their status
 * changes, as this instance sees them. One view per room per instance
 * (shared by all its subscribers here): the members are read once, and each
 * event is made once and handed to every subscriber as the same object, so
 * shared fan-out executes it once. The view listens before it reads the
 * members, so a join or leave in between is not missed; when the bus is
 * back after an outage it reads the members again and hands out the
 * differences as JOINED and LEFT (the joins and leaves published meanwhile
 * were lost). Each event carries its user's row, read once per event on
 * this instance; none is shown for a user who no longer exists. It carries
 * the room's row too, as the view last read it: again at each JOINED and
 * LEFT (they change memberCount) and each `changed`, not per subscriber per
 * event; an event handed out as the room is deleted shows the room as it was.
 */
import type { Viewer } from '../context.ts';
import type { Database } from '../adapters/database.ts';
import { notFound } from '../core/errors.ts';
import type { Room } from '../generated/prisma/client.ts';
import { inOrder } from '../utils/in-order.ts';
import { readToShow } from '../utils/retry.ts';
import { keyedListeners } from '../utils/keyed-listeners.ts';
import type { Logger } from '../core/logger.ts';
import { lastLineOf } from '../utils/error-text.ts';
import { createResync } from '../utils/resync.ts';
import { readUserToShow, type Presence, type PresenceStatus, type PresenceUser } from '../presence/service.ts';
import { eventStream, type EventStream } from '../utils/event-stream.ts';
import { lostAccess } from './access.ts';
import type { RoomEvent, RoomFeed } from './feed.ts';
import type { Rooms } from './service.ts';

export interface RoomPresenceItem {
  roomId: string;
  userId: string;
  kind: 'JOINED' | 'LEFT' | 'STATUS';
  status: PresenceStatus;
  /** ISO time of the change. */
  at: string;
  /** The user's row, read once per change for every listener on this instance. */
  user: PresenceUser;
  /** The room's row as this instance's view last read it. */
  room: Room;
}

export interface RoomPresence {
  /** The room's presence events from now on; ends with {@link lostAccess} when the viewer loses access. */
  stream(viewer: Viewer, roomId: string): Promise<EventStream<RoomPresenceItem | typeof lostAccess>>;
}

/** What a room's view hands its listeners: an item, or a room event that may end a listener's access. */
type ViewEvent = { type: 'item'; item: RoomPresenceItem } | { type: 'left'; userId: string; at: string } | { type: 'changed' } | { type: 'deleted' };

/** What the view hands out, before the room's row is set in: an event, and the room's row when it was read again for it. */
interface Step {
  event: { type: 'item'; item: Omit<RoomPresenceItem, 'room'> } | Exclude<ViewEvent, { type: 'item' }>;
  room?: Room | null | undefined;
}

export function createRoomPresence(deps: { db: Database; rooms: Rooms; feed: RoomFeed; presence: Presence; logger: Logger }): RoomPresence {
  const { db, rooms, feed, presence, logger } = deps;
  const readMembers = async (roomId: string) => new Set((await db.roomMember.findMany({ where: { roomId }, select: { userId: true } })).map((m) => m.userId));

  async function start(roomId: string, emit: (event: ViewEvent) => void) {
    let members: Set<string> | undefined;
    /** The room's row as last read, set in the order events happened (so a later read is never overtaken by an earlier one). */
    let room: Room | undefined;
    let stopped = false;
    /** Joins and leaves heard before the members were read, applied on top of the read. */
    const early: RoomEvent[] = [];
    /** What the view hands out, in the order it happened: what follows a JOINED or LEFT waits for that user's row. */
    const handOut = inOrder<Step>(
      (step) => {
        if (step.room) room = step.room;
        if (stopped) return;
        emit(step.event.type === 'item' ? { type: 'item', item: { ...step.event.item, room: room! } } : step.event);
      },
      (error) => logger.warn({ roomId, err: lastLineOf(error) }, 'room presence: could not hand out an event'),
    );
    const readRoom = () => db.room.findUnique({ where: { id: roomId } });
    /** The room's row read again (tried again while the database does not answer); null or undefined, and the last one read stays, when it is gone or could not be read. */
    const readRoomAgain = () => readToShow(readRoom, { logger, context: { roomId }, what: 'the room again for its presence', otherwise: 'the last read stays' });
    /** A JOINED or LEFT with its user's row, read once for every listener here; none for a user who no longer exists. */
    const membership = (userId: string, kind: 'JOINED' | 'LEFT', at: string) => {
      const status = presence.statusNow(userId);
      const user = readUserToShow(db, logger, userId, `a room's ${kind}`);
      handOut(Promise.all([user, readRoomAgain()]).then(([row, room]) => row && { event: { type: 'item', item: { roomId, userId, kind, status, at, user: row } }, room }));
    };
    const resync = createResync();
    const join = (userId: string, at: string) => {
      resync.heard(userId);
      if (members!.has(userId)) return;
      members!.add(userId);
      membership(userId, 'JOINED', at);
    };
    const leave = (userId: string, at: string) => {
      resync.heard(userId);
      if (!members!.delete(userId)) return;
      membership(userId, 'LEFT', at);
      handOut({ event: { type: 'left', userId, at } });
    };
    const heard = (event: RoomEvent) => {
      if (!members) return void early.push(event);
      if (event.type === 'joined') join(event.userId, event.at);
      else if (event.type === 'left') leave(event.userId, event.at);
      else if (event.type === 'changed') handOut(readRoomAgain().then((room) => ({ event, room })));
      else if (event.type === 'deleted') handOut({ event });
    };
    const stopFeed = await feed.listen(roomId, heard);
    const isMember = (userId: string) => members?.has(userId) ?? false;
    const stopStatus = presence.onChange((change) => {
      if (!isMember(change.userId)) return;
      const { userId, status, at, user } = change;
      if (user) return handOut({ event: { type: 'item', item: { roomId, userId, kind: 'STATUS', status, at, user } } });
      // A user who no longer exists left with its memberships, but has no user to show in a LEFT:
      // it leaves the view unseen, and a read of the members on its way does not bring it back.
      resync.heard(change.userId);
      members!.delete(change.userId);
    }, isMember);
    const resynchronise = () =>
      resync.run(
        () => readMembers(roomId),
        (read, heardMeanwhile) => {
          if (stopped || !members) return;
          const at = new Date().toISOString();
          for (const userId of [...members]) if (!read.has(userId) && !heardMeanwhile.has(userId)) leave(userId, at);
          for (const userId of read) if (!heardMeanwhile.has(userId)) join(userId, at);
        },
      );
    const stopResume = feed.onResume(() => void resynchronise().catch((error: unknown) => logger.warn({ roomId, err: lastLineOf(error) }, 'room presence: could not read the members again')));
    const stop = () => {
      stopped = true;
      stopFeed();
      stopStatus();
      stopResume();
    };
    try {
      const [read, row] = await Promise.all([readMembers(roomId), readRoom()]);
      if (!row) throw notFound('Room');
      members = read;
      room = row;
    } catch (error) {
      stop();
      throw error;
    }
    for (const event of early.splice(0)) heard(event);
    return stop;
  }

  const views = keyedListeners<ViewEvent, () => void>(start, (stop) => stop());

  return {
    async stream(viewer, roomId) {
      await rooms.accessible(viewer, roomId);
      // What the view hands out while it opens (the joins and leaves heard before its read) waits for the stream.
      const opening: ViewEvent[] = [];
      let onEvent = (event: ViewEvent) => void opening.push(event);
      const { stop } = await views.listen(roomId, (event) => onEvent(event));
      return eventStream<RoomPresenceItem | typeof lostAccess>((push, end) => {
        const lose = () => end(lostAccess);
        onEvent = (event) => {
          if (event.type === 'item') {
            if (!(event.item.kind === 'LEFT' && event.item.userId === viewer.userId)) push(event.item);
          } else if (event.type === 'deleted' || (event.type === 'left' && event.userId === viewer.userId)) lose();
          else if (event.type === 'changed') void rooms.stillAccessible(viewer, roomId).then((ok) => ok || lose());
        };
        for (const event of opening.splice(0)) onEvent(event);
        return stop;
      });
    },
  };
}
