/**
 * What a viewer hears of rooms, live: its new invitations, and the changes of
 * the rooms it may see (roomListChanges), each read once per turn for all the
 * listeners an event reached on this instance.
 */
import type { Viewer } from '../context.ts';
import type { Database } from '../adapters/database.ts';
import type { Logger } from '../core/logger.ts';
import { readToShow } from '../utils/retry.ts';
import { eventStream } from '../utils/event-stream.ts';
import { inOrder } from '../utils/in-order.ts';
import { gatherInTurn } from '../utils/turns.ts';
import type { Room, User } from '../generated/prisma/client.ts';
import { canSee, type Relation } from './access.ts';
import type { Invitation, InvitationFeed } from './invitations.ts';
import type { RoomListEvent, RoomListFeed } from './room-list.ts';
import type { RoomReads } from './reads.ts';

/** A new invitation as its invitee's subscription hands it out. */
export interface InvitationItem {
  room: Room;
  /** Null when the inviter's account is gone. */
  invitedBy: User | null;
  at: Date;
}

/** A change of the caller's room list, as roomListChanges hands it out. */
export interface RoomListItem {
  kind: 'ADDED' | 'CHANGED' | 'REMOVED' | 'RESYNC';
  /** Null for RESYNC. */
  roomId: string | null;
  /** The room as it is now; null when REMOVED or RESYNC. */
  room: Room | null;
}

/** A roomListChanges subscriber waiting for a room list event's read. */
interface ListWait {
  viewer: Viewer;
  answer: (item: RoomListItem | null) => void;
}
/** A room list event that needs the room read to be told: a change of who sees it, or of its member count. */
type ReadInList = Extract<RoomListEvent, { type: 'changed' | 'counted' }>;

/** What a room list change is to the viewer, from what it could see before and can see now; null when nothing. */
function listItemFor(viewer: Viewer, event: ReadInList, room: Room, relation: Relation): RoomListItem | null {
  const seesNow = canSee(viewer, room, relation);
  // A count changes no one's view: those who see the room saw it.
  const sawBefore = event.type === 'counted' ? seesNow : event.before !== null && canSee(viewer, event.before, event.relationsBefore?.[viewer.userId] ?? relation);
  if (seesNow) return { kind: sawBefore ? 'CHANGED' : 'ADDED', roomId: room.id, room };
  return sawBefore ? { kind: 'REMOVED', roomId: room.id, room: null } : null;
}

export interface RoomStreams {
  /** See `Rooms.invitations`. */
  invitations(viewer: Viewer): Promise<AsyncIterableIterator<InvitationItem>>;
  /** See `Rooms.listChanges`. */
  listChanges(viewer: Viewer): Promise<AsyncIterableIterator<RoomListItem>>;
}

export function createRoomStreams(deps: { db: Database; reads: RoomReads; invitationFeed: InvitationFeed; listFeed: RoomListFeed; logger: Logger }): RoomStreams {
  const { db, reads, invitationFeed, listFeed, logger } = deps;
  const { readFor, seenBy } = reads;
  /** roomListChanges subscribers waiting on one event: all listeners on this instance hear it in the same turn, and share one read. */
  const askList = gatherInTurn<ReadInList, ListWait>((event, waiting) =>
    void readToShow(() => readFor(event.roomId, waiting), {
      logger,
      context: { roomId: event.roomId, subscribers: waiting.length },
      what: 'a room whose visibility or member count changed',
      otherwise: 'the change is not handed out',
    }).then((loaded) => {
      // A room gone since: its deletion is told on its own.
      for (const { viewer, answer } of waiting) answer(loaded ? listItemFor(viewer, event, loaded.room, loaded.relationOf(viewer.userId)) : null);
    }),
  );


  return {
    async invitations(viewer) {
      const shown = async ({ roomId, invitedById, at }: Invitation): Promise<InvitationItem | null> => {
        const seen = await seenBy(viewer, roomId);
        return seen && { room: seen.room, invitedBy: await db.user.findUnique({ where: { id: invitedById } }), at: new Date(at) };
      };
      let deliver: (item: InvitationItem) => void = () => {};
      const stop = await invitationFeed.listen(viewer.userId, (invitation) => {
        void readToShow(() => shown(invitation), { logger, context: { roomId: invitation.roomId, userId: viewer.userId }, what: 'the room of an invitation', otherwise: 'not handed out' }).then(
          (item) => item && deliver(item),
        );
      });
      return eventStream<InvitationItem>((push) => {
        deliver = push;
        return stop;
      });
    },

    async listChanges(viewer) {
      // In the order told, each once its read is done; what is handed out before the stream below is
      // attached (an event that came with Redis's answer to the subscription) waits for it.
      const waiting: RoomListItem[] = [];
      let handOut: (item: RoomListItem) => void = (item) => void waiting.push(item);
      const give = inOrder<RoomListItem>(
        (item) => handOut(item),
        (error) => logger.error({ err: error, userId: viewer.userId }, 'room list change not handed out'),
      );
      const giveOnceRead = (event: ReadInList) => give(new Promise<RoomListItem | null>((answer) => askList(event, { viewer, answer })));
      const stop = await listFeed.listen((event) => {
        if (event.type === 'deleted') return give({ kind: 'REMOVED', roomId: event.roomId, room: null });
        if (event.onlyFor && !event.onlyFor.includes(viewer.userId)) return;
        giveOnceRead(event);
      });
      const stopCounts = await listFeed.listenToCounts(giveOnceRead).catch((error: unknown) => {
        stop();
        throw error;
      });
      const resync = () => give({ kind: 'RESYNC', roomId: null, room: null });
      // Listening already: a list read after this RESYNC, with the changes that follow it, is current.
      resync();
      const stopResume = listFeed.onResume(resync);
      return eventStream<RoomListItem>((push) => {
        for (const item of waiting.splice(0)) push(item);
        handOut = push;
        return () => {
          stopResume();
          stopCounts();
          stop();
        };
      });
    },

  };
}
