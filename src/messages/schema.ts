import { builder, sameForEveryViewer } from '../builder.ts';
import { requireViewer } from '../context.ts';
import { UserRef } from '../auth/schema.ts';
import { RoomRef } from '../rooms/schema.ts';
import { badInput, forbidden } from '../core/errors.ts';
import { idOf, uuidPattern } from '../core/ids.ts';
import type { User } from '../generated/prisma/client.ts';
import { lostAccess } from '../rooms/access.ts';
import { decodeCursor, encodeCursor, type MessageWithAuthor, type StreamItem } from './service.ts';

/**
 * The relations a message may carry. Its author has the columns the User
 * type reads (`authorColumns`), never the password hash, hence the cast.
 */
const carried = (message: object) => message as Partial<Pick<MessageWithAuthor, 'room'> & { author: User }>;

const MESSAGES_PAGE_MAX = 200;
const MESSAGES_PAGE_DEFAULT = 50;

export const MessageRef = builder.prismaNode('Message', {
  id: { field: 'id', extensions: sameForEveryViewer },
  nullable: true,
  // node(id) finds only messages of rooms the caller may read.
  findUnique: (id, ctx) => {
    if (!uuidPattern.test(id)) throw badInput('id', 'Not a valid message id.');
    return { id, room: { members: { some: { userId: ctx.viewer?.userId ?? '00000000-0000-0000-0000-000000000000' } } } };
  },
  // Every message the service hands out carries its room and author (read in the same statement), which
  // Pothos' relation fields would read again per message, since it trusts only rows it loaded itself;
  // so these read the row, and load only for a message that came without them (node(id)).
  fields: (t) => ({
    room: t.field({
      extensions: sameForEveryViewer,
      type: RoomRef,
      nullable: false,
      resolve: (message, _args, ctx) => carried(message).room ?? ctx.app.db.room.findUniqueOrThrow({ where: { id: message.roomId } }),
    }),
    author: t.field({
      extensions: sameForEveryViewer,
      type: UserRef,
      nullable: false,
      resolve: (message, _args, ctx) => carried(message).author ?? ctx.app.db.user.findUniqueOrThrow({ where: { id: message.authorId } }),
    }),
    body: t.exposeString('body'),
    cursor: t.string({
      extensions: sameForEveryViewer,
      description: 'Opaque, ordered within its room; pass it to roomMessages(after:) to resume.',
      resolve: (message) => encodeCursor(message.seq),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectField(RoomRef, 'messagesCursor', (t) =>
  t.string({
    nullable: true,
    description:
      "Members only (null otherwise). The newest message's cursor, or the room's start while it has none: roomMessages(after:) from it delivers every message stored after it was read.",
    resolve: (room, _args, ctx) => (ctx.viewer ? ctx.app.messages.latestCursor(ctx.viewer, room.id) : null),
  }),
);

builder.queryField('messages', (t) =>
  t.connection(
    {
      type: MessageRef,
      description: 'Newest last; page backwards with before.',
      args: { roomId: t.arg.id({ required: true }) },
      resolve: async (_root, args, ctx) => {
        const viewer = requireViewer(ctx);
        if (args.first != null || args.after != null) throw badInput(args.first != null ? 'first' : 'after', 'messages pages backwards only: use last and before.');
        const last = args.last ?? MESSAGES_PAGE_DEFAULT;
        if (last < 0 || last > MESSAGES_PAGE_MAX) throw badInput('last', `last must be 0 to ${MESSAGES_PAGE_MAX}.`);
        const before = args.before != null ? decodeCursor(args.before, 'before') : null;
        const { messages, hasPrevious } = await ctx.app.messages.page(viewer, idOf(args.roomId, 'Room', 'roomId'), last, before);
        const edges = messages.map((node) => ({ cursor: encodeCursor(node.seq), node }));
        return {
          edges,
          pageInfo: { hasNextPage: before !== null, hasPreviousPage: hasPrevious, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
        };
      },
    },
    { name: 'MessageConnection' },
    { name: 'MessageEdge' },
  ),
);

builder.mutationField('sendMessage', (t) =>
  t.field({
    type: MessageRef,
    description: 'Members only. The same idempotencyKey from the same user in the same room within 24 h returns the first message and stores nothing new.',
    args: { roomId: t.arg.id({ required: true }), body: t.arg.string({ required: true }), idempotencyKey: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.app.messages.send(requireViewer(ctx), idOf(args.roomId, 'Room', 'roomId'), args.body, args.idempotencyKey),
  }),
);

builder.mutationField('deleteMessage', (t) =>
  t.boolean({
    description:
      'Its author (while a member), the room owner or an admin. A message of a room the caller may not see is NOT_FOUND. Those who received it keep it; reads after this no longer return it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.app.messages.remove(requireViewer(ctx), idOf(args.id, 'Message', 'id'), ctx.ip);
      return true;
    },
  }),
);

builder.subscriptionField('roomMessages', (t) =>
  t.field({
    extensions: sameForEveryViewer,
    type: MessageRef,
    description: 'Members only. Replays the messages after `after` first, then live ones: no gap, no duplicate.',
    args: { roomId: t.arg.id({ required: true }), after: t.arg.string() },
    subscribe: (_root, args, ctx) =>
      ctx.app.messages.stream(requireViewer(ctx), idOf(args.roomId, 'Room', 'roomId'), args.after != null ? decodeCursor(args.after, 'after') : null),
    resolve: (item: StreamItem) => {
      if (item === lostAccess) throw forbidden('You no longer have access to this room.');
      if (item instanceof Error) throw item;
      return item;
    },
  }),
);
