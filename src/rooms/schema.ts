import { builder, sameForEveryViewer } from '../builder.ts';
import { requireViewer } from '../context.ts';
import { ErrorCode } from '../core/codes.ts';
import { badInput, forbidden, hasCode } from '../core/errors.ts';
import { idOf, uuidPattern } from '../core/ids.ts';
import { UserRef } from '../auth/schema.ts';
import { asUser, PresenceStatusEnum } from '../presence/schema.ts';
import { lostAccess } from './access.ts';
import type { RoomPresenceItem } from './room-presence.ts';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { InvitationItem, RoomListItem } from './list-changes.ts';

/** No user has this id: anonymous callers find no room. */
const noOne = '00000000-0000-0000-0000-000000000000';

const RoomPermission = builder.enumType('RoomPermission', {
  values: {
    PUBLIC: { description: 'Any signed-in user may join.' },
    PRIVATE: { description: 'Only the owner and invited users may join.' },
    RESTRICTED: { description: "Only users holding one of the room's allowedRoles (or admins) may join." },
    OWNER_ONLY: { description: 'Only the owner may join.' },
  } as const,
});

export const RoomRef = builder.prismaNode('Room', {
  id: { field: 'id', extensions: sameForEveryViewer },
  // node(id) finds only rooms the caller may see.
  findUnique: (id, ctx) => {
    if (!uuidPattern.test(id)) throw badInput('id', 'Not a valid room id.');
    return ctx.viewer ? { id, AND: [ctx.app.rooms.visibleWhere(ctx.viewer)] } : { id, ownerId: noOne };
  },
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    permission: t.expose('permission', { type: RoomPermission }),
    owner: t.relation('owner', { extensions: sameForEveryViewer }),
    allowedRoles: t.exposeStringList('allowedRoles'),
    maxMembers: t.exposeInt('maxMembers'),
    memberCount: t.exposeInt('memberCount'),
    members: t.prismaField({
      extensions: sameForEveryViewer,
      type: ['User'],
      resolve: (query, room, _args, ctx) =>
        ctx.app.db.user.findMany({ ...query, where: { memberships: { some: { roomId: room.id } } }, orderBy: { username: 'asc' } }),
    }),
    online: t.prismaField({
      extensions: sameForEveryViewer,
      type: ['User'],
      description: 'Members connected right now.',
      resolve: async (query, room, _args, ctx) => {
        const online = await ctx.app.presence.onlineUserIds();
        return ctx.app.db.user.findMany({ ...query, where: { id: { in: online }, memberships: { some: { roomId: room.id } } }, orderBy: { username: 'asc' } });
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastActivityAt: t.expose('lastActivityAt', { type: 'DateTime', description: "The time of the room's last message, else of its creation: `rooms` lists the most recent first." }),
  }),
});

const CreateRoomInput = builder.inputType('CreateRoomInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    permission: t.field({ type: RoomPermission, defaultValue: 'PUBLIC' }),
    allowedRoles: t.stringList(),
    maxMembers: t.int(),
  }),
});

const UpdateRoomInput = builder.inputType('UpdateRoomInput', {
  fields: (t) => ({
    name: t.string(),
    permission: t.field({ type: RoomPermission }),
    allowedRoles: t.stringList(),
    maxMembers: t.int(),
  }),
});

const ROOMS_PAGE_MAX = 100;
const ROOMS_PAGE_DEFAULT = 20;
/** A place in the rooms list, which is ordered by last activity, newest first, then by id. */
const roomCursor = (room: { id: string; lastActivityAt: Date }) => Buffer.from(`room:${room.lastActivityAt.getTime()}:${room.id}`).toString('base64url');
function placeFromCursor(cursor: string): { lastActivityAt: Date; id: string } {
  const match = /^room:(\d{1,15}):(.{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const lastActivityAt = new Date(Number(match?.[1]));
  if (!match || !uuidPattern.test(match[2]!) || Number.isNaN(lastActivityAt.getTime())) throw badInput('after', 'Not a cursor of rooms.');
  return { lastActivityAt, id: match[2]! };
}

builder.queryFields((t) => ({
  rooms: t.connection(
    {
      type: RoomRef,
      description:
        'Rooms the caller may see (admins: every room): public and restricted ones it qualifies for, its own, and those it was invited to. The most recently active first (last message, else creation; see Room.lastActivityAt).',
      resolve: async (_root, args, ctx) => {
        const viewer = requireViewer(ctx);
        if (args.last != null || args.before != null) throw badInput(args.last != null ? 'last' : 'before', 'rooms pages forward only: use first and after.');
        const first = args.first ?? ROOMS_PAGE_DEFAULT;
        if (first < 0 || first > ROOMS_PAGE_MAX) throw badInput('first', `first must be 0 to ${ROOMS_PAGE_MAX}.`);
        const after = args.after != null ? placeFromCursor(args.after) : null;
        const rows = await ctx.app.db.room.findMany({
          where: {
            AND: [
              ctx.app.rooms.visibleWhere(viewer),
              after ? { OR: [{ lastActivityAt: { lt: after.lastActivityAt } }, { lastActivityAt: after.lastActivityAt, id: { lt: after.id } }] } : {},
            ],
          },
          orderBy: [{ lastActivityAt: 'desc' }, { id: 'desc' }],
          take: first + 1,
        });
        const edges = rows.slice(0, first).map((node) => ({ cursor: roomCursor(node), node }));
        return {
          edges,
          pageInfo: { hasNextPage: rows.length > first, hasPreviousPage: after !== null, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
        };
      },
    },
    { name: 'RoomConnection' },
    { name: 'RoomEdge' },
  ),
  room: t.field({
    type: RoomRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const viewer = requireViewer(ctx);
      try {
        return await ctx.app.rooms.visible(viewer, idOf(args.id, 'Room', 'id'));
      } catch (error) {
        if (hasCode(error, ErrorCode.NOT_FOUND)) return null;
        throw error;
      }
    },
  }),
}));

builder.mutationFields((t) => ({
  createRoom: t.field({
    type: RoomRef,
    args: { input: t.arg({ type: CreateRoomInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.app.rooms.create(requireViewer(ctx), input),
  }),
  updateRoom: t.field({
    type: RoomRef,
    description: 'Owner or admin.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateRoomInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => ctx.app.rooms.update(requireViewer(ctx), idOf(id, 'Room', 'id'), input),
  }),
  deleteRoom: t.boolean({
    description: 'Owner or admin.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await ctx.app.rooms.remove(requireViewer(ctx), idOf(id, 'Room', 'id'));
      return true;
    },
  }),
  inviteToRoom: t.field({
    type: RoomRef,
    description: 'Owner or admin.',
    args: { roomId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.app.rooms.invite(requireViewer(ctx), idOf(args.roomId, 'Room', 'roomId'), idOf(args.userId, 'User', 'userId')),
  }),
  removeFromRoom: t.field({
    type: RoomRef,
    description: 'Owner or admin. Takes the user\'s membership and invitation away: it loses access at once (its subscriptions of the room end with FORBIDDEN); a PUBLIC or RESTRICTED room it may join again. The owner cannot be removed.',
    args: { roomId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.app.rooms.removeMember(requireViewer(ctx), idOf(args.roomId, 'Room', 'roomId'), idOf(args.userId, 'User', 'userId')),
  }),
  joinRoom: t.field({
    type: RoomRef,
    args: { roomId: t.arg.id({ required: true }) },
    description: "Any room the caller may join; admins any room (an admin's join of a PRIVATE or OWNER_ONLY room it was not invited to is audited: admin_room_join).",
    resolve: (_root, args, ctx) => ctx.app.rooms.join(requireViewer(ctx), idOf(args.roomId, 'Room', 'roomId'), ctx.ip),
  }),
  leaveRoom: t.boolean({
    args: { roomId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.app.rooms.leave(requireViewer(ctx), idOf(args.roomId, 'Room', 'roomId')),
  }),
}));

const RoomPresenceKind = builder.enumType('RoomPresenceKind', { values: ['JOINED', 'LEFT', 'STATUS'] as const });

const RoomPresenceEvent = builder.objectRef<RoomPresenceItem>('RoomPresenceEvent').implement({
  fields: (t) => ({
    room: t.field({ extensions: sameForEveryViewer, type: RoomRef, nullable: false, resolve: (e) => e.room }),
    user: t.field({ extensions: sameForEveryViewer, type: UserRef, resolve: (e) => asUser(e.user) }),
    kind: t.field({ extensions: sameForEveryViewer, type: RoomPresenceKind, resolve: (e) => e.kind }),
    status: t.field({ extensions: sameForEveryViewer, type: PresenceStatusEnum, resolve: (e) => e.status }),
    at: t.field({ extensions: sameForEveryViewer, type: 'DateTime', resolve: (e) => new Date(e.at) }),
  }),
});

builder.subscriptionField('roomPresence', (t) =>
  t.field({
    extensions: sameForEveryViewer,
    type: RoomPresenceEvent,
    description: 'Members only.',
    args: { roomId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => ctx.app.roomPresence.stream(requireViewer(ctx), idOf(args.roomId, 'Room', 'roomId')),
    resolve: (item: RoomPresenceItem | typeof lostAccess) => {
      if (item === lostAccess) throw forbidden('You no longer have access to this room.');
      return item;
    },
  }),
);

const RoomInvitation = builder.objectRef<InvitationItem>('RoomInvitation').implement({
  description: 'The caller was invited to a room.',
  fields: (t) => ({
    room: t.field({ extensions: sameForEveryViewer, type: RoomRef, nullable: false, description: 'The room as it is now.', resolve: (e) => e.room }),
    invitedBy: t.field({ extensions: sameForEveryViewer, type: UserRef, nullable: true, description: "Who invited; null once that user's account is gone.", resolve: (e) => e.invitedBy }),
    at: t.field({ extensions: sameForEveryViewer, type: 'DateTime', resolve: (e) => e.at }),
  }),
});

builder.subscriptionField('roomInvitations', (t) =>
  t.field({
    extensions: sameForEveryViewer,
    type: RoomInvitation,
    description:
      "The caller's new invitations, made on any instance: once per invitation, none for a room it is already a member of. One whose room it can no longer see when it arrives is skipped. Invitations made while the connection was down are not replayed: read `rooms` again after a reconnect.",
    subscribe: (_root, _args, ctx) => ctx.app.rooms.invitations(requireViewer(ctx)),
    resolve: (item) => item,
  }),
);

const RoomListChangeKind = builder.enumType('RoomListChangeKind', {
  values: {
    ADDED: { description: 'A room the caller can see now and could not before: made, opened to it, or it was invited.' },
    CHANGED: { description: 'A room the caller still sees whose name, settings or member count changed.' },
    REMOVED: { description: 'A room the caller no longer sees: deleted, closed to it, or it was removed from it or left a room it may not join.' },
    RESYNC: {
      description:
        'Read `rooms` now, then apply the changes that follow: first when the subscription starts listening, again when changes may have been missed (this server was cut off from the others for a moment).',
    },
  },
});

const RoomListChange = builder.objectRef<RoomListItem>('RoomListChange').implement({
  description: "A change of the rooms the caller may see (what `rooms` lists).",
  fields: (t) => ({
    kind: t.field({ extensions: sameForEveryViewer, type: RoomListChangeKind, resolve: (e) => e.kind }),
    roomId: t.id({ extensions: sameForEveryViewer, nullable: true, description: "The room's id, also when it is gone; null for RESYNC.", resolve: (e) => e.roomId && encodeGlobalID('Room', e.roomId) }),
    room: t.field({ extensions: sameForEveryViewer, type: RoomRef, nullable: true, description: 'The room as it is now; null when REMOVED or RESYNC.', resolve: (e) => e.room }),
  }),
});

builder.subscriptionField('roomListChanges', (t) =>
  t.field({
    extensions: sameForEveryViewer,
    type: RoomListChange,
    description:
      "Changes of the rooms the caller may see, made on any instance: ADDED, CHANGED and REMOVED as `rooms` would show them. A deleted room is told to every subscriber (its id only). A join, a leave or a removal is a CHANGED (its member count) to everyone who still sees the room: at once, then at most once per interval per room (a second by default), so a burst of joins ends with the count it reached; who joined or left, and their presence, are roomPresence's. It starts with RESYNC once it listens: a `rooms` read made after a RESYNC, with the changes that follow applied, is current. Changes made while the connection was down are not replayed: a new subscription starts with RESYNC again.",
    subscribe: (_root, _args, ctx) => ctx.app.rooms.listChanges(requireViewer(ctx)),
    resolve: (item) => item,
  }),
);
