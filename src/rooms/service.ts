/**
 * Rooms: creation, settings, invitations, membership. The rules live in
 * access.ts, a room's reads in reads.ts, what a viewer hears live in
 * list-changes.ts; this holds the steps and keeps every instance informed
 * through the room feed (joined, left, changed, deleted).
 */
import { z } from 'zod';
import type { Viewer } from '../context.ts';
import { isAdmin } from '../context.ts';
import type { Config } from '../core/config.ts';
import { inTransaction, isUniqueViolation, type Database, type Sql } from '../adapters/database.ts';
import { ErrorCode } from '../core/codes.ts';
import { appError, badInput, forbidden, notFound } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { textSchema } from '../core/text.ts';
import { Prisma, type Room, type RoomPermission } from '../generated/prisma/client.ts';
import { recordAudit } from '../auth/audit.ts';
import { canJoin, canManage, canSee, hasAccess, joinsAsAdmin } from './access.ts';
import type { RoomFeed } from './feed.ts';
import type { InvitationFeed } from './invitations.ts';
import type { RoomListFeed, VisibilityRules } from './room-list.ts';
import { createRoomReads } from './reads.ts';
import { createRoomStreams, type InvitationItem, type RoomListItem } from './list-changes.ts';


export interface RoomInput {
  name?: string | null;
  permission?: RoomPermission | null;
  allowedRoles?: string[] | null;
  maxMembers?: number | null;
}

const nameRule = textSchema({ what: 'Name', min: 1, max: 100, kind: 'name', trim: true });
const rolesRule = z
  .array(z.string().regex(/^[a-zA-Z0-9_.-]{1,32}$/, 'Each role must be 1 to 32 letters, digits, "_", "." or "-".'))
  .max(20, 'At most 20 roles.');
const maxMembersRule = z.number().int().min(1, 'maxMembers must be 1 to 100000.').max(100_000, 'maxMembers must be 1 to 100000.');

function check<T>(rule: z.ZodType<T>, value: unknown, field: string): T {
  const result = rule.safeParse(value);
  if (!result.success) throw badInput(field, result.error.issues[0]!.message);
  return result.data;
}

export interface Rooms {
  create(viewer: Viewer, input: RoomInput): Promise<Room>;
  update(viewer: Viewer, roomId: string, input: RoomInput): Promise<Room>;
  remove(viewer: Viewer, roomId: string): Promise<void>;
  /** Invites the user (owner or admin); a new invitation of a user not yet a member is announced to it on every instance. */
  invite(viewer: Viewer, roomId: string, userId: string): Promise<Room>;
  /**
   * The viewer's new invitations from now on, from every instance, each with
   * its room as it is when the invitation arrives; one whose room the viewer
   * can no longer see by then (withdrawn, deleted) is skipped.
   */
  invitations(viewer: Viewer): Promise<AsyncIterableIterator<InvitationItem>>;
  /**
   * Changes of the rooms the viewer may see, from now on, from every
   * instance: a room it can see now that it could not (made, opened to it,
   * an invitation), one it still sees whose settings changed, one it no
   * longer sees (deleted, closed to it, removed from it, left when it may no
   * longer join). It starts with a RESYNC once it listens, and says RESYNC
   * again after an outage of the bus, in which changes may have been lost:
   * a list read after a RESYNC, with the changes that follow it applied, is
   * current. A join, a leave or a removal is a CHANGED (the member count)
   * to everyone who still sees the room, at once and then at most once per
   * ROOM_LIST_COUNT_INTERVAL per room; who joined or left, and their
   * presence, are roomPresence's.
   */
  listChanges(viewer: Viewer): Promise<AsyncIterableIterator<RoomListItem>>;
  /**
   * Takes the user's membership and invitation away (owner or admin): it
   * loses access at once; a PUBLIC or RESTRICTED room it may join again.
   */
  removeMember(viewer: Viewer, roomId: string, userId: string): Promise<Room>;
  /**
   * Joins the room (anyone allowed to; admins any room). An admin's join of a
   * PRIVATE room it was not invited to, or of another's OWNER_ONLY room, is
   * audited (kind `admin_room_join`, with the caller's `ip`) before it returns.
   */
  join(viewer: Viewer, roomId: string, ip?: string | null): Promise<Room>;
  /** False when the viewer was not a member. */
  leave(viewer: Viewer, roomId: string): Promise<boolean>;
  /**
   * Runs `deleteRows` (the account's own rows) in one transaction with the
   * user's rooms: each room it joined counts a member fewer, those it owned
   * go with it. Then their subscribers hear of it: a LEFT in each room it
   * joined, the end of each room it owned.
   */
  deleteUser(userId: string, deleteRows: (tx: Prisma.TransactionClient) => Promise<unknown>): Promise<void>;
  /** The room when the viewer may see it, else NOT_FOUND. */
  visible(viewer: Viewer, roomId: string): Promise<Room>;
  /** The room when the viewer may read, send and subscribe, else NOT_FOUND or FORBIDDEN. */
  accessible(viewer: Viewer, roomId: string): Promise<Room>;
  /**
   * Whether the viewer still may read the room (re-checked when a room
   * changes). The re-checks of one room asked for in the same turn (every
   * subscriber of a room that changed) are answered by one statement. When
   * the database does not answer, it is asked again after 1, 2 and 4 s (a
   * blip must not end every subscription of the room), then the answer is no.
   */
  stillAccessible(viewer: Viewer, roomId: string): Promise<boolean>;
  /** Prisma filter of the rooms a viewer may see. */
  visibleWhere(viewer: Viewer): Prisma.RoomWhereInput;
}

/** The settings that decide who sees a room, as the room list feed carries them. */
const rulesOf = ({ permission, ownerId, allowedRoles }: VisibilityRules): VisibilityRules => ({ permission, ownerId, allowedRoles });

export function createRooms(deps: { db: Database; sql: Sql; config: Config; feed: RoomFeed; invitationFeed: InvitationFeed; listFeed: RoomListFeed; logger: Logger }): Rooms {
  const { db, sql, config, feed, invitationFeed, listFeed, logger } = deps;
  const now = () => new Date().toISOString();
  const reads = createRoomReads({ sql, logger });
  const { load } = reads;
  const streams = createRoomStreams({ db, reads, invitationFeed, listFeed, logger });
  /** Ends these users' memberships of the room in `tx`, keeping memberCount in step: the room's row after, or null when none was a member. */
  const dropMembers = async (tx: Prisma.TransactionClient, roomId: string, userIds: string[]): Promise<Room | null> => {
    const { count } = await tx.roomMember.deleteMany({ where: { roomId, userId: { in: userIds } } });
    return count ? tx.room.update({ where: { id: roomId }, data: { memberCount: { decrement: count } } }) : null;
  };
  const managed = async (viewer: Viewer, roomId: string) => {
    const loaded = await load(viewer, roomId);
    if (!canManage(viewer, loaded.room)) throw forbidden('Only the owner or an admin may manage this room.');
    return loaded;
  };

  return {
    invitations: streams.invitations,
    listChanges: streams.listChanges,

    async create(viewer, input) {
      const data = {
        name: check(nameRule, input.name, 'name'),
        permission: input.permission ?? 'PUBLIC',
        allowedRoles: input.allowedRoles == null ? [] : check(rolesRule, input.allowedRoles, 'allowedRoles'),
        maxMembers: input.maxMembers == null ? config.ROOM_MAX_MEMBERS : check(maxMembersRule, input.maxMembers, 'maxMembers'),
      };
      const room = await db.room.create({ data: { ...data, ownerId: viewer.userId, memberCount: 1, members: { create: { userId: viewer.userId } } } });
      listFeed.publish({ type: 'changed', roomId: room.id, before: null });
      return room;
    },

    async update(viewer, roomId, input) {
      const { room } = await managed(viewer, roomId);
      const data: Prisma.RoomUpdateInput = {};
      if (input.name != null) data.name = check(nameRule, input.name, 'name');
      if (input.permission != null) data.permission = input.permission;
      if (input.allowedRoles != null) data.allowedRoles = check(rolesRule, input.allowedRoles, 'allowedRoles');
      if (input.maxMembers != null) {
        data.maxMembers = check(maxMembersRule, input.maxMembers, 'maxMembers');
        if (input.maxMembers < room.memberCount) throw badInput('maxMembers', `The room has ${room.memberCount} members already.`);
      }
      const { updated, removed } = await inTransaction(db, async (tx) => {
        const updated = await tx.room.update({ where: { id: roomId }, data });
        // Members who no longer qualify lose their membership, and with it access.
        const members = await tx.roomMember.findMany({ where: { roomId }, select: { user: { select: { id: true, roles: true } } } });
        const invited = new Set((await tx.roomInvite.findMany({ where: { roomId }, select: { userId: true } })).map((i) => i.userId));
        const removed = members
          .map((m) => m.user)
          .filter((u) => !canJoin({ userId: u.id, roles: u.roles, sessionId: '', expiresAt: 0 }, updated, { invited: invited.has(u.id) }))
          .map((u) => u.id);
        const dropped = removed.length ? await dropMembers(tx, roomId, removed) : null;
        return { updated: dropped ?? updated, removed: removed.map((userId) => [userId, { member: true, invited: invited.has(userId) }] as const) };
      });
      for (const [userId] of removed) feed.publish(roomId, { type: 'left', userId, at: now() });
      feed.publish(roomId, { type: 'changed' });
      listFeed.publish({ type: 'changed', roomId, before: rulesOf(room), relationsBefore: Object.fromEntries(removed) });
      return updated;
    },

    async remove(viewer, roomId) {
      await managed(viewer, roomId);
      await db.room.delete({ where: { id: roomId } });
      feed.publish(roomId, { type: 'deleted' });
      listFeed.publish({ type: 'deleted', roomId });
    },

    async invite(viewer, roomId, userId) {
      const { room } = await managed(viewer, roomId);
      const invitee = await db.user.findUnique({ where: { id: userId }, select: { memberships: { where: { roomId }, select: { roomId: true } } } });
      if (!invitee) throw notFound('User');
      const { count } = await db.roomInvite.createMany({ data: [{ roomId, userId, invitedById: viewer.userId }], skipDuplicates: true });
      // Told once, and not to a member: it has the room already.
      if (count === 1 && invitee.memberships.length === 0) {
        invitationFeed.publish({ roomId, userId, invitedById: viewer.userId, at: now() });
        listFeed.publish({ type: 'changed', roomId, before: rulesOf(room), relationsBefore: { [userId]: { member: false, invited: false } }, onlyFor: [userId] });
      }
      return room;
    },

    async removeMember(viewer, roomId, userId) {
      const { room } = await managed(viewer, roomId);
      if (userId === room.ownerId) throw badInput('userId', 'The owner cannot be removed from its room.');
      const { updated, wasMember, wasInvited } = await inTransaction(db, async (tx) => {
        const { count: invites } = await tx.roomInvite.deleteMany({ where: { roomId, userId } });
        const dropped = await dropMembers(tx, roomId, [userId]);
        if (!dropped && invites === 0) throw notFound('Member or invitation');
        return { updated: dropped ?? room, wasMember: dropped !== null, wasInvited: invites > 0 };
      });
      if (wasMember) {
        feed.publish(roomId, { type: 'left', userId, at: now() });
        listFeed.publish({ type: 'counted', roomId });
      }
      listFeed.publish({ type: 'changed', roomId, before: rulesOf(room), relationsBefore: { [userId]: { member: wasMember, invited: wasInvited } }, onlyFor: [userId] });
      return updated;
    },

    async join(viewer, roomId, ip) {
      const { room, relation } = await load(viewer, roomId);
      if (relation.member) return room;
      if (!canJoin(viewer, room, relation)) throw forbidden('You may not join this room.');
      const audited = joinsAsAdmin(viewer, room, relation);
      try {
        const joined = await inTransaction(db, async (tx) => {
          // One conditional update: concurrent joins cannot pass maxMembers.
          const counted = await tx.$executeRaw`UPDATE "Room" SET "memberCount" = "memberCount" + 1 WHERE "id" = ${roomId}::uuid AND "memberCount" < "maxMembers"`;
          if (counted === 0) throw appError(ErrorCode.ROOM_FULL, `The room is full (${room.maxMembers} members).`);
          await tx.roomMember.create({ data: { roomId, userId: viewer.userId } });
          return tx.room.findUniqueOrThrow({ where: { id: roomId } });
        });
        feed.publish(roomId, { type: 'joined', userId: viewer.userId, at: now() });
        listFeed.publish({ type: 'counted', roomId });
        if (audited) await recordAudit({ db, logger }, { kind: 'admin_room_join', userId: viewer.userId, ip, detail: { roomId, permission: room.permission } });
        return joined;
      } catch (error) {
        // The same user joining twice at once: the second finds the first's row.
        if (isUniqueViolation(error)) return db.room.findUniqueOrThrow({ where: { id: roomId } });
        throw error;
      }
    },

    async leave(viewer, roomId) {
      const { room, relation } = await load(viewer, roomId);
      if (!relation.member) return false;
      const left = await inTransaction(db, async (tx) => (await dropMembers(tx, roomId, [viewer.userId])) !== null);
      if (!left) return false;
      feed.publish(roomId, { type: 'left', userId: viewer.userId, at: now() });
      listFeed.publish({ type: 'counted', roomId });
      // A room seen only as a member (one it may no longer join) leaves the viewer's list.
      if (!canSee(viewer, room, { member: false, invited: relation.invited })) {
        listFeed.publish({ type: 'changed', roomId, before: rulesOf(room), relationsBefore: { [viewer.userId]: relation }, onlyFor: [viewer.userId] });
      }
      return true;
    },

    async deleteUser(userId, deleteRows) {
      const { joined, owned } = await inTransaction(db, async (tx) => {
        // Locked first: a join of this user still under way waits, then finds no user, rather than adding
        // a membership that the deletion's cascade would remove uncounted.
        await tx.$queryRaw`SELECT 1 FROM "User" WHERE "id" = ${userId}::uuid FOR UPDATE`;
        const left = await tx.$queryRaw<{ roomId: string }[]>`DELETE FROM "RoomMember" WHERE "userId" = ${userId}::uuid RETURNING "roomId"`;
        const joined = left.map((row) => row.roomId);
        if (joined.length) await tx.room.updateMany({ where: { id: { in: joined } }, data: { memberCount: { decrement: 1 } } });
        const owned = new Set((await tx.room.findMany({ where: { ownerId: userId }, select: { id: true } })).map((room) => room.id));
        await deleteRows(tx);
        return { joined: joined.filter((roomId) => !owned.has(roomId)), owned };
      });
      for (const roomId of joined) {
        feed.publish(roomId, { type: 'left', userId, at: now() });
        listFeed.publish({ type: 'counted', roomId });
      }
      for (const roomId of owned) {
        feed.publish(roomId, { type: 'deleted' });
        listFeed.publish({ type: 'deleted', roomId });
      }
    },

    visible: async (viewer, roomId) => (await load(viewer, roomId)).room,

    async accessible(viewer, roomId) {
      const { room, relation } = await load(viewer, roomId);
      if (!hasAccess(viewer, room, relation)) throw forbidden('Join the room first.');
      return room;
    },

    stillAccessible: reads.stillAccessible,

    visibleWhere(viewer) {
      if (isAdmin(viewer)) return {};
      return {
        OR: [
          { permission: 'PUBLIC' },
          { ownerId: viewer.userId },
          { members: { some: { userId: viewer.userId } } },
          { permission: 'PRIVATE', invites: { some: { userId: viewer.userId } } },
          ...(viewer.roles.length ? [{ permission: 'RESTRICTED' as const, allowedRoles: { hasSome: viewer.roles } }] : []),
        ],
      };
    },
  };
}
